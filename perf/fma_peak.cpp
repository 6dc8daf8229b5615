// This machine's float32 FMA ceiling, measured with the kernels' own instruction set: a loop of
// independent FMAs on accumulators that never leave the registers (no loads, no stores), on 1
// thread and on every hardware thread at once. Every speed figure of ptrain is quoted as a
// fraction of this peak; one training example of the default net costs 181,472 multiply-adds
// (perf/README in ../README.md), which turns the peak into an examples/s ceiling.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "ptrain/core/simd.hpp"

namespace {

using ptrain::simd::vfloat;

// Enough independent chains to cover the FMA latency (4 cycles) × 2 ports with room to spare,
// within the register file (16 registers for AVX2, 32 for AVX-512).
constexpr int kChains = ptrain::simd::kWidth == 16 ? 24 : 12;
constexpr double kMultiplyAddsPerExample = 181472;

// Multiply-adds per second of one thread over `iterations` rounds of kChains vector FMAs.
double fma_rate(long iterations, float seed) {
  vfloat acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = vfloat(seed + c);
  const vfloat a(0.999999f), b(1e-7f);
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < iterations; ++i) {
#pragma GCC unroll 32
    for (int c = 0; c < kChains; ++c) acc[c] = ptrain::simd::fma(acc[c], a, b);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  float keep = 0;  // the accumulators' values are used, so the loop cannot be dropped
  for (auto& v : acc) keep += v.get(0);
  if (keep == 12345.0f) std::puts("");
  return double(iterations) * kChains * ptrain::simd::kWidth / seconds;
}

// The median over `repeats` of the rate of `threads` threads running at once: all their
// multiply-adds over the wall time from the first start to the last end, so threads that
// happened to run one after the other are not counted as running together.
double peak(int threads, long iterations, int repeats) {
  std::vector<double> totals;
  for (int r = 0; r < repeats; ++r) {
    std::vector<std::thread> pool;
    const auto start = std::chrono::steady_clock::now();
    for (int t = 0; t < threads; ++t) pool.emplace_back([&, t] { fma_rate(iterations, 1.0f + t); });
    for (auto& th : pool) th.join();
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    totals.push_back(double(iterations) * kChains * ptrain::simd::kWidth * threads / wall);
  }
  std::sort(totals.begin(), totals.end());
  return totals[totals.size() / 2];
}

}  // namespace

int main() {
  const int hardware = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::printf("instruction set %s, %d lanes, %d independent FMA chains\n", ptrain::simd::Arch::name(),
              ptrain::simd::kWidth, kChains);
  std::printf("threads,gflops,gflops_per_thread,examples_per_sec_ceiling\n");
  for (int threads : {1, hardware}) {
    const double rate = peak(threads, 20'000'000 / kChains, 7);
    std::printf("%d,%.1f,%.1f,%.0f\n", threads, 2 * rate / 1e9, 2 * rate / 1e9 / threads,
                rate / kMultiplyAddsPerExample);
    if (hardware == 1) break;
  }
  return 0;
}
