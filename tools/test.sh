#!/usr/bin/env bash
# Installs what the tests need, builds, and runs the whole suite (no MNIST needed).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh --no-data
ctest --test-dir build --output-on-failure -j"$(nproc)"
