#!/usr/bin/env bash
# Build accelctl's container images and push them to a registry, with docker buildx or podman.
#
#   images/build.sh --registry 123456789012.dkr.ecr.us-west-2.amazonaws.com --tag 0.1.0
#   images/build.sh --registry ghcr.io/me --tag dev --no-push accelctl      # one image, kept local
#
# Options: --registry REG (required), --tag TAG (default: the version in pyproject.toml),
# --platform P (default linux/amd64: EKS inf2/trn1/g5/g6/c7i nodes), --builder docker|podman
# (default: docker buildx if it works, else podman), --no-push; then image names (default: every
# folder under images/). Each image is built from the repository root as the context.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
registry="" tag="" platform="linux/amd64" builder="" push=1 names=()

usage() { sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
while (($#)); do
  case "$1" in
    --registry) registry="${2:?--registry needs a value}"; shift 2 ;;
    --tag) tag="${2:?--tag needs a value}"; shift 2 ;;
    --platform) platform="${2:?--platform needs a value}"; shift 2 ;;
    --builder) builder="${2:?--builder needs a value}"; shift 2 ;;
    --no-push) push=0; shift ;;
    -h|--help) usage 0 ;;
    -*) echo "error: unknown option $1" >&2; usage ;;
    *) names+=("$1"); shift ;;
  esac
done
[[ -n "$registry" ]] || { echo "error: --registry is required (e.g. ACCOUNT.dkr.ecr.REGION.amazonaws.com)" >&2; exit 2; }
if [[ -z "$tag" ]]; then
  tag="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/pyproject.toml" | head -n1)"
fi
if ((${#names[@]} == 0)); then
  for d in "$here"/*/; do [[ -f "$d/Dockerfile" ]] && names+=("$(basename "$d")"); done
fi
for name in "${names[@]}"; do
  [[ -f "$here/$name/Dockerfile" ]] || { echo "error: images/$name/Dockerfile: no such image" >&2; exit 2; }
done
if [[ -z "$builder" ]]; then
  if command -v docker >/dev/null && docker buildx version >/dev/null 2>&1; then builder=docker
  elif command -v podman >/dev/null; then builder=podman
  else echo "error: neither docker buildx nor podman found; install one" >&2; exit 2
  fi
fi

case "$builder" in
  docker|podman) ;;
  *) echo "error: --builder $builder: use docker or podman" >&2; exit 2 ;;
esac

for name in "${names[@]}"; do
  ref="${registry%/}/$name:$tag"
  echo "building $ref with $builder" >&2
  case "$builder" in
    docker)
      out=(--load); ((push)) && out=(--push)
      docker buildx build --platform "$platform" -f "$here/$name/Dockerfile" -t "$ref" "${out[@]}" "$root"
      ;;
    podman)
      podman build --platform "$platform" -f "$here/$name/Dockerfile" -t "$ref" "$root"
      if ((push)); then podman push "$ref"; fi
      ;;
  esac
  echo "$ref"
done
