#!/usr/bin/env bash
# The test suite under the sanitizers, with clang: everything under AddressSanitizer +
# UndefinedBehaviorSanitizer (build-asan/), and the parallel-engine tests under
# ThreadSanitizer (build-tsan/, suppressions and why they are safe in tests/tsan.supp; its
# symbolizer cuts long names, tools/symbolizer/llvm-symbolizer says why).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_packages.sh --sanitizers
jobs=$(nproc)

CC=clang CXX=clang++ cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPTRAIN_SANITIZE=address,undefined \
  -DPTRAIN_BUILD_PERF=OFF -DPTRAIN_WIDTH_TESTS=OFF >/dev/null
cmake --build build-asan -j"$jobs" >/dev/null
echo "sanitize: the whole suite under AddressSanitizer + UndefinedBehaviorSanitizer"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs" -E '^(MpiTest\.|MultiHost$)' | grep -E "tests passed|tests failed|Failed|Skipped"
# Open MPI itself leaks at MPI_Finalize (its dlopen'ed components), so the MPI runs are checked
# for memory errors and undefined behaviour but not for leaks.
# (grep reads all of ctest's list: with pipefail, grep -q could stop early and fail the pipe.)
if [[ $(ctest --test-dir build-asan -N -R '^MpiTest\.' | grep -c "MpiTest" || true) -gt 0 ]]; then
  echo "sanitize: the MPI tests under AddressSanitizer (no leak check) + UndefinedBehaviorSanitizer"
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j"$jobs" -R '^MpiTest\.' | grep -E "tests passed|tests failed|Failed"
fi

CC=clang CXX=clang++ cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPTRAIN_SANITIZE=thread \
  -DPTRAIN_BUILD_PERF=OFF -DPTRAIN_WIDTH_TESTS=OFF >/dev/null
cmake --build build-tsan -j"$jobs" --target test_determinism test_engine_vs_oracle test_training >/dev/null
echo "sanitize: the parallel-engine tests under ThreadSanitizer"
TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp halt_on_error=1 external_symbolizer_path=$PWD/tools/symbolizer/llvm-symbolizer" \
  ctest --test-dir build-tsan --output-on-failure -j"$jobs" -R '^(Determinism|Nets/EngineVsOracle|Training)\.' | tail -n 3
