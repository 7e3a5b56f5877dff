#!/usr/bin/env bash
# The README's test command: install accelctl with its test extras, lint, then run the whole suite.
# torch is pinned to the CPU build this kind of machine keeps on disk (an unpinned torch pulls a
# multi-GB CUDA build). Prometheus (with promtool) and kubectl (with kustomize) come from Debian's
# packages when apt is at hand; the tests that need them skip with a reason where they are not.
# kubectl is installed only when none is on PATH: Debian's kubernetes-client conflicts with a
# /usr/bin/kubectl that another package or a manual install put there.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v prometheus >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus) \
    >/tmp/accelctl-apt.log 2>&1 || echo "note: prometheus not installed (see /tmp/accelctl-apt.log); its tests will skip"
fi
if ! command -v kubectl >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends kubernetes-client) \
    >/tmp/accelctl-apt-kubectl.log 2>&1 || echo "note: kubectl not installed (see /tmp/accelctl-apt-kubectl.log); its tests will skip"
fi
python -m pip install -q "torch==2.13.0" -e ".[test]"
# Lint and format first: CI enforces both (config in pyproject.toml).
python -m ruff check . && python -m ruff format --check .
exec python -m pytest -q -p no:cacheprovider "$@"
