#!/usr/bin/env bash
# The README's test command: install accelctl with its test extras, lint, then run the whole suite.
# torch is pinned to the CPU build this kind of machine keeps on disk (an unpinned torch pulls a
# multi-GB CUDA build). Prometheus comes from Debian's package when apt is at hand; the tests that
# need it skip with a reason where it is not.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v prometheus >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus) \
    >/tmp/accelctl-apt.log 2>&1 || echo "note: prometheus not installed (see /tmp/accelctl-apt.log); its tests will skip"
fi
python -m pip install -q "torch==2.13.0" -e ".[test]"
# Lint and format first: CI enforces both (config in pyproject.toml).
python -m ruff check . && python -m ruff format --check .
exec python -m pytest -q -p no:cacheprovider "$@"
