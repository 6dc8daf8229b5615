// Kernel microbenchmarks, registered in pairs: each SIMD kernel beside its plain twin, on the
// default net's shapes. items/s counts multiply-adds.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "ptrain/core/aligned.hpp"
#include "ptrain/core/transpose.hpp"
#include "ptrain/engine/kernels.hpp"

namespace {

using namespace ptrain;

AlignedVector<float> random_floats(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  AlignedVector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

// Args: out, in, K (examples in the chunk).
template <void (*Forward)(const float*, const float*, const float*, float*, int, int, int, int, int)>
void BM_linear_forward(benchmark::State& state) {
  const int out = state.range(0), in = state.range(1), K = state.range(2);
  auto W = random_floats(std::size_t(out) * in, 1), b = random_floats(out, 2),
       A = random_floats(std::size_t(K) * in, 3);
  AlignedVector<float> Z(std::size_t(K) * out);
  for (auto _ : state) {
    Forward(W.data(), b.data(), A.data(), Z.data(), out, in, K, 0, out);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * int64_t(out) * in * K);
}
BENCHMARK(BM_linear_forward<kernels::plain::linear_forward>)
    ->Name("linear_forward/plain")
    ->Args({112, 784, 8})
    ->UseRealTime();
// {128, 784, 8} and {128, 784, 16}: an owner of 8 or 16 of the first layer's columns at batch 128
// if its block were output-major with the examples in the lanes (the 16-core layout README argues).
BENCHMARK(BM_linear_forward<kernels::simd::linear_forward>)
    ->Name("linear_forward/simd")
    ->Args({112, 784, 1})
    ->Args({112, 784, 4})
    ->Args({112, 784, 8})
    ->Args({112, 784, 32})
    ->Args({16, 112, 8})
    ->Args({1024, 1024, 8})
    ->Args({1024, 1024, 128})
    ->Args({1024, 784, 128})
    ->Args({10, 1024, 128})
    ->Args({10, 16, 32})
    ->Args({128, 784, 8})
    ->Args({128, 784, 16})
    ->UseRealTime();

template <void (*Gradient)(const float*, const float*, float*, float*, int, int, int)>
void BM_linear_backward_weights(benchmark::State& state) {
  const int out = state.range(0), in = state.range(1), K = state.range(2);
  auto D = random_floats(std::size_t(K) * out, 1), A = random_floats(std::size_t(K) * in, 2);
  AlignedVector<float> dW(std::size_t(out) * in), db(out);
  for (auto _ : state) {
    Gradient(D.data(), A.data(), dW.data(), db.data(), out, in, K);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * int64_t(out) * in * K);
}
BENCHMARK(BM_linear_backward_weights<kernels::plain::linear_backward_weights>)
    ->Name("linear_backward_weights/plain")
    ->Args({112, 784, 8})
    ->UseRealTime();
BENCHMARK(BM_linear_backward_weights<kernels::simd::linear_backward_weights>)
    ->Name("linear_backward_weights/simd")
    ->Args({112, 784, 1})
    ->Args({112, 784, 4})
    ->Args({112, 784, 8})
    ->Args({112, 784, 16})
    ->UseRealTime();

template <void (*Backprop)(const float*, const float*, float*, int, int, int)>
void BM_linear_backward_input(benchmark::State& state) {
  const int out = state.range(0), in = state.range(1), K = state.range(2);
  auto W = random_floats(std::size_t(out) * in, 1), D = random_floats(std::size_t(K) * out, 2);
  AlignedVector<float> G(std::size_t(K) * in);
  for (auto _ : state) {
    Backprop(W.data(), D.data(), G.data(), out, in, K);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * int64_t(out) * in * K);
}
BENCHMARK(BM_linear_backward_input<kernels::plain::linear_backward_input>)
    ->Name("linear_backward_input/plain")
    ->Args({16, 112, 8})
    ->UseRealTime();
BENCHMARK(BM_linear_backward_input<kernels::simd::linear_backward_input>)
    ->Name("linear_backward_input/simd")
    ->Args({16, 112, 8})
    ->Args({1024, 1024, 128})
    ->UseRealTime();
BENCHMARK(BM_linear_backward_input<kernels::simd::linear_backward_input_from_wt>)
    ->Name("linear_backward_input_from_wt/simd")
    ->Args({1024, 1024, 64})
    ->Args({1024, 1024, 128})
    ->UseRealTime();

// The fused gradient-sum-and-step of phase 3. Args: out, in, batch.
template <void (*Step)(const float*, const float*, float*, float*, int, int, int, float, int, int)>
void BM_sgd_rank_k_step(benchmark::State& state) {
  const int out = state.range(0), in = state.range(1), K = state.range(2);
  auto D = random_floats(std::size_t(K) * out, 1), A = random_floats(std::size_t(K) * in, 2);
  auto W = random_floats(std::size_t(out) * in, 3), b = random_floats(out, 4);
  for (auto _ : state) {
    Step(D.data(), A.data(), W.data(), b.data(), out, in, K, 1e-9f, 0, out);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * int64_t(out) * in * K);
}
BENCHMARK(BM_sgd_rank_k_step<kernels::plain::sgd_rank_k_step>)
    ->Name("sgd_rank_k_step/plain")
    ->Args({112, 784, 32})
    ->UseRealTime();
// {784, 8, 128} and {784, 16, 128}: the same owner's update with the inputs in the lanes.
BENCHMARK(BM_sgd_rank_k_step<kernels::simd::sgd_rank_k_step>)
    ->Name("sgd_rank_k_step/simd")
    ->Args({112, 784, 32})
    ->Args({112, 784, 128})
    ->Args({16, 112, 32})
    ->Args({1024, 1024, 128})
    ->Args({1024, 784, 128})
    ->Args({10, 1024, 128})
    ->Args({10, 16, 32})
    ->Args({784, 8, 128})
    ->Args({784, 16, 128})
    ->UseRealTime();

// The first layer straight from bytes (`_pixels`): K images of `in` bytes, a 256-entry table.
struct Pixels {
  std::vector<std::uint8_t> bytes;
  std::vector<const std::uint8_t*> images;
  std::vector<float> to_float;
  float scale = 1.0f / 255.0f;
  Pixels(int in, int K) : bytes(std::size_t(in) * K), images(K), to_float(256) {
    std::mt19937 rng(5);
    for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
    for (int k = 0; k < K; ++k) images[k] = bytes.data() + std::size_t(k) * in;
    for (int v = 0; v < 256; ++v) to_float[v] = static_cast<float>(v) * scale;
  }
};

void BM_linear_forward_pixels(benchmark::State& state) {
  const int out = state.range(0), in = state.range(1), K = state.range(2);
  auto W = random_floats(std::size_t(out) * in, 1), b = random_floats(out, 2);
  Pixels px(in, K);
  AlignedVector<float> Z(std::size_t(K) * out);
  for (auto _ : state) {
    kernels::simd::linear_forward_pixels(W.data(), b.data(), px.images.data(), px.to_float.data(), Z.data(), out, in, K,
                                         0, out);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * int64_t(out) * in * K);
}
BENCHMARK(BM_linear_forward_pixels)
    ->Name("linear_forward_pixels/simd")
    ->Args({112, 784, 8})
    ->Args({112, 784, 32})
    ->Args({56, 784, 32})
    ->Args({56, 784, 8})
    ->Args({48, 784, 32})
    ->Args({64, 784, 32})
    ->Args({8, 784, 128})
    ->Args({16, 784, 128})
    ->Args({256, 784, 128})
    ->Args({512, 784, 128})
    ->Args({1024, 784, 128})
    ->UseRealTime();

void BM_sgd_rank_k_step_pixels(benchmark::State& state) {
  const int out = state.range(0), in = state.range(1), K = state.range(2);
  auto D = random_floats(std::size_t(K) * out, 1);
  auto W = random_floats(std::size_t(out) * in, 3), b = random_floats(out, 4);
  Pixels px(in, K);
  for (auto _ : state) {
    kernels::simd::sgd_rank_k_step_pixels(D.data(), px.images.data(), px.scale, W.data(), b.data(), out, in, K, 1e-9f,
                                          0, out);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * int64_t(out) * in * K);
}
BENCHMARK(BM_sgd_rank_k_step_pixels)
    ->Name("sgd_rank_k_step_pixels/simd")
    ->Args({112, 784, 32})
    ->Args({56, 784, 32})
    ->Args({48, 784, 32})
    ->Args({64, 784, 32})
    ->Args({112, 784, 128})
    ->Args({8, 784, 128})
    ->Args({16, 784, 128})
    ->Args({256, 784, 128})
    ->Args({512, 784, 128})
    ->Args({1024, 784, 128})
    ->UseRealTime();

// A narrow owner (8 columns, from 8 threads on the default net): its block output-major, the batch (forward) or
// the inputs (update) in the lanes, the forward reading the batch's bytes transposed once a step
// (timed alone below: its items are bytes).
struct TransposedPixels : Pixels {
  std::vector<std::uint8_t> bytes_t;
  TransposedPixels(int in, int K) : Pixels(in, K), bytes_t(bytes.size()) { transpose_batch(in, K); }
  void transpose_batch(int in, int K) {
    transpose_byte_rows([this](int k) { return images[k]; }, 0, K, 0, in, bytes_t.data(), std::size_t(K));
  }
};

void BM_narrow_forward_pixels(benchmark::State& state) {
  const int out = state.range(0), in = state.range(1), K = state.range(2);
  auto W = random_floats(std::size_t(out) * in, 1), b = random_floats(out, 2);
  TransposedPixels px(in, K);
  AlignedVector<float> Zt(std::size_t(K) * out);
  for (auto _ : state) {
    kernels::simd::narrow_forward_pixels(W.data(), b.data(), px.bytes_t.data(), K, 1.0f / 255.0f, Zt.data(), out, in,
                                         K);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * int64_t(out) * in * K);
}
BENCHMARK(BM_narrow_forward_pixels)
    ->Name("narrow_forward_pixels/simd")
    ->Args({8, 784, 32})
    ->Args({8, 784, 128})
    ->Args({16, 784, 128})
    ->Args({16, 784, 32})
    ->Args({56, 784, 32})
    ->Args({112, 784, 32})
    ->UseRealTime();

void BM_narrow_sgd_step_pixels(benchmark::State& state) {
  const int out = state.range(0), in = state.range(1), K = state.range(2);
  auto D = random_floats(std::size_t(K) * out, 1);
  auto W = random_floats(std::size_t(out) * in, 3), b = random_floats(out, 4);
  Pixels px(in, K);
  for (auto _ : state) {
    kernels::simd::narrow_sgd_step_pixels(D.data(), px.images.data(), 1.0f / 255.0f, W.data(), b.data(), out, in, K,
                                          1e-9f);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * int64_t(out) * in * K);
}
BENCHMARK(BM_narrow_sgd_step_pixels)
    ->Name("narrow_sgd_step_pixels/simd")
    ->Args({8, 784, 32})
    ->Args({8, 784, 128})
    ->Args({16, 784, 128})
    ->Args({16, 784, 32})
    ->Args({56, 784, 32})
    ->Args({112, 784, 32})
    ->UseRealTime();

void BM_transpose_batch(benchmark::State& state) {
  const int in = state.range(0), K = state.range(1);
  TransposedPixels px(in, K);
  for (auto _ : state) {
    px.transpose_batch(in, K);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * int64_t(in) * K);
}
BENCHMARK(BM_transpose_batch)->Name("transpose_batch")->Args({784, 32})->Args({784, 128})->UseRealTime();

// Args: rows, cols of a float matrix transposed: element by element (the definition) and 8 × 8
// in registers (transpose), the wide net's backward's two shapes. items/s counts floats.
void transpose_elementwise(const float* src, int rows, int cols, float* dst) {
  transpose_rows([&](int r) { return src + std::size_t(r) * cols; }, 0, rows, 0, cols, dst, std::size_t(rows));
}
template <void (*Transpose)(const float*, int, int, float*)>
void BM_transpose_floats(benchmark::State& state) {
  const int rows = state.range(0), cols = state.range(1);
  const AlignedVector<float> src = random_floats(std::size_t(rows) * cols, 27);
  AlignedVector<float> dst(src.size());
  for (auto _ : state) {
    Transpose(src.data(), rows, cols, dst.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * int64_t(rows) * cols);
}
BENCHMARK(BM_transpose_floats<transpose_elementwise>)
    ->Name("transpose_floats/elementwise")
    ->Args({128, 1024})
    ->Args({1024, 128})
    ->UseRealTime();
BENCHMARK(BM_transpose_floats<transpose<float>>)
    ->Name("transpose_floats/blocks")
    ->Args({128, 1024})
    ->Args({1024, 128})
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
