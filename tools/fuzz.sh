#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in build-fuzz/ and runs each for a
# bounded time from its seed corpus in tests/fuzz/corpus. Fails on any crash, leak or sanitizer
# report. usage: tools/fuzz.sh [SECONDS per target, default 60]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
tools/install_packages.sh --sanitizers
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPTRAIN_FUZZ=ON \
  -DPTRAIN_BUILD_TESTS=OFF -DPTRAIN_BUILD_PERF=OFF -DPTRAIN_WIDTH_TESTS=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_idx fuzz_model_file fuzz_pgm fuzz_npy fuzz_csv fuzz_npz >/dev/null
for target in idx model_file pgm npy csv npz; do
  corpus_seed="tests/fuzz/corpus/${target%_file}"
  work=$(mktemp -d)  # new inputs go here, not into the repository
  echo "fuzz: ${target} for ${seconds} s"
  if ! build-fuzz/tests/fuzz/fuzz_${target} -max_total_time="$seconds" -rss_limit_mb=1024 -malloc_limit_mb=512 \
       -timeout=10 -print_final_stats=1 -artifact_prefix="build-fuzz/${target}-" "$work" "$corpus_seed" \
       > "build-fuzz/${target}.log" 2>&1; then
    tail -n 40 "build-fuzz/${target}.log"
    echo "fuzz: ${target} FAILED (input saved as build-fuzz/${target}-*)"
    exit 1
  fi
  grep -E "^stat::number_of_executed_runs|^Done" "build-fuzz/${target}.log" | tr '\n' ' '
  echo
  rm -rf "$work"
done
