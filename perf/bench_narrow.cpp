// A design spike for 14-16 threads, measured here and used by nothing in ptrain: an owner of
// 8 of the first layer's 112 columns, its block stored output-major (W[j][i]), with the batch
// in the lanes instead of the outputs. Forward: Zᵀ[j][k] = b[j] + Σ_i W[j][i]·x(k, i), the
// examples k in the lanes, read from the batch's bytes transposed once a step (xᵀ[i][k]).
// Update: W[j][i] −= s·Σ_k dZ[k][j]·x(k, i), the inputs i in the lanes, read from the images'
// rows. Both convert bytes in the lanes (cvt × scale: the engine's table is v·scale, so the
// same float). Each output is the same chain of FMAs as in the engine's kernels, which the
// set-up checks bitwise before timing. Beside them, the engine's kernels on the same block,
// and the transposition (once a step, shared by all owners). AVX-512 only; items are
// multiply-adds (bytes for the transposition).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "ptrain/core/aligned.hpp"
#include "ptrain/engine/kernels.hpp"

#if defined(__AVX512F__)
#include <immintrin.h>

namespace {

using namespace ptrain;

constexpr int kCols = 8, kIn = 784;
constexpr float kScale = 1.0f / 255.0f;

struct Block {
  int K;
  std::vector<std::uint8_t> bytes, bytes_t;  // K images of kIn bytes; transposed, kIn rows of K
  std::vector<const std::uint8_t*> images;
  std::vector<float> to_float;
  AlignedVector<float> wt, w, b, dz, z, zt;  // wt: [kIn][kCols] (the engine's), w: [kCols][kIn]
  explicit Block(int k)
      : K(k), bytes(std::size_t(kIn) * k), bytes_t(bytes.size()), images(k), to_float(256),
        wt(kIn * kCols), w(kIn * kCols), b(kCols), dz(std::size_t(k) * kCols), z(dz.size()), zt(dz.size()) {
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (auto& v : bytes) v = static_cast<std::uint8_t>(rng());
    for (int e = 0; e < k; ++e) images[e] = bytes.data() + std::size_t(e) * kIn;
    for (int v = 0; v < 256; ++v) to_float[v] = static_cast<float>(v) * kScale;
    for (int i = 0; i < kIn; ++i)
      for (int j = 0; j < kCols; ++j) w[j * kIn + i] = wt[i * kCols + j] = u(rng);
    for (auto& v : b) v = u(rng);
    for (auto& v : dz) v = u(rng);
  }
};

void transpose_bytes(const std::uint8_t* const* images, int K, std::uint8_t* bytes_t) {
  constexpr int B = 16;
  for (int k0 = 0; k0 < K; k0 += B)
    for (int i0 = 0; i0 < kIn; i0 += B)
      for (int i = i0; i < std::min(kIn, i0 + B); ++i)
        for (int k = k0; k < std::min(K, k0 + B); ++k) bytes_t[std::size_t(i) * K + k] = images[k][i];
}

// The zero-masked forms, every lane set: GCC 12 warns, falsely, that the unmasked ones read an
// uninitialised register.
__m512 bytes_to_floats(const std::uint8_t* p, __m512 scale) {
  constexpr __mmask16 all = 0xFFFF;
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm512_mul_ps(_mm512_maskz_cvtepi32_ps(all, _mm512_maskz_cvtepu8_epi32(all, v)), scale);
}

// 8 output rows × V vectors of 16 examples from k0.
template <int V>
void forward_tile(const Block& s, float* zt, int k0) {
  const __m512 scale = _mm512_set1_ps(kScale);
  __m512 acc[kCols][V];
  for (int r = 0; r < kCols; ++r)
    for (int v = 0; v < V; ++v) acc[r][v] = _mm512_set1_ps(s.b[r]);
  for (int i = 0; i < kIn; ++i) {
    __m512 y[V];
    for (int v = 0; v < V; ++v) y[v] = bytes_to_floats(s.bytes_t.data() + std::size_t(i) * s.K + k0 + 16 * v, scale);
    for (int r = 0; r < kCols; ++r) {
      const __m512 x = _mm512_set1_ps(s.w[r * kIn + i]);
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_fmadd_ps(x, y[v], acc[r][v]);
    }
  }
  for (int r = 0; r < kCols; ++r)
    for (int v = 0; v < V; ++v) _mm512_storeu_ps(zt + std::size_t(r) * s.K + k0 + 16 * v, acc[r][v]);
}

void narrow_forward(const Block& s, float* zt) {
  int k = 0;
  for (; k + 48 <= s.K; k += 48) forward_tile<3>(s, zt, k);
  for (; k + 16 <= s.K; k += 16) forward_tile<1>(s, zt, k);
}

// 8 weight rows × V vectors of 16 inputs from i0: w −= step·Σ_k dz[k][r]·x(k, i).
template <int V>
void update_tile(const Block& s, float* w, float step, int i0) {
  const __m512 scale = _mm512_set1_ps(kScale);
  __m512 acc[kCols][V];
  for (int r = 0; r < kCols; ++r)
    for (int v = 0; v < V; ++v) acc[r][v] = _mm512_setzero_ps();
  for (int k = 0; k < s.K; ++k) {
    __m512 y[V];
    for (int v = 0; v < V; ++v) y[v] = bytes_to_floats(s.images[k] + i0 + 16 * v, scale);
    for (int r = 0; r < kCols; ++r) {
      const __m512 x = _mm512_set1_ps(s.dz[std::size_t(k) * kCols + r]);
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_fmadd_ps(x, y[v], acc[r][v]);
    }
  }
  const __m512 minus_step = _mm512_set1_ps(-step);
  for (int r = 0; r < kCols; ++r)
    for (int v = 0; v < V; ++v) {
      float* p = w + r * kIn + i0 + 16 * v;
      _mm512_storeu_ps(p, _mm512_fmadd_ps(minus_step, acc[r][v], _mm512_loadu_ps(p)));
    }
}

void narrow_update(const Block& s, float* w, float step) {
  int i = 0;
  for (; i + 48 <= kIn; i += 48) update_tile<3>(s, w, step, i);
  for (; i + 16 <= kIn; i += 16) update_tile<1>(s, w, step, i);
}

// The spike's results against the engine's kernels on the same block, bitwise.
bool same_as_engine(Block& s) {
  transpose_bytes(s.images.data(), s.K, s.bytes_t.data());
  kernels::simd::linear_forward_pixels(s.wt.data(), s.b.data(), s.images.data(), s.to_float.data(), s.z.data(), kCols,
                                       kIn, s.K, 0, kCols);
  narrow_forward(s, s.zt.data());
  for (int k = 0; k < s.K; ++k)
    for (int j = 0; j < kCols; ++j)
      if (std::memcmp(&s.z[k * kCols + j], &s.zt[j * s.K + k], sizeof(float)) != 0) return false;
  AlignedVector<float> wt = s.wt, w = s.w, bias = s.b;
  kernels::simd::sgd_rank_k_step_pixels(s.dz.data(), s.images.data(), s.to_float.data(), wt.data(), bias.data(), kCols,
                                        kIn, s.K, 0.01f, 0, kCols);
  narrow_update(s, w.data(), 0.01f);
  for (int i = 0; i < kIn; ++i)
    for (int j = 0; j < kCols; ++j)
      if (std::memcmp(&wt[i * kCols + j], &w[j * kIn + i], sizeof(float)) != 0) return false;
  return true;
}

template <class Run>
void timed(benchmark::State& state, Run&& run) {
  Block s(static_cast<int>(state.range(0)));
  if (!same_as_engine(s)) return state.SkipWithError("the spike's sums differ from the engine's");
  for (auto _ : state) {
    run(s);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * int64_t(kCols) * kIn * s.K);
}

void BM_forward_engine(benchmark::State& state) {
  timed(state, [](Block& s) {
    kernels::simd::linear_forward_pixels(s.wt.data(), s.b.data(), s.images.data(), s.to_float.data(), s.z.data(),
                                         kCols, kIn, s.K, 0, kCols);
  });
}
void BM_forward_output_major(benchmark::State& state) {
  timed(state, [](Block& s) { narrow_forward(s, s.zt.data()); });
}
void BM_update_engine(benchmark::State& state) {
  timed(state, [](Block& s) {
    kernels::simd::sgd_rank_k_step_pixels(s.dz.data(), s.images.data(), s.to_float.data(), s.wt.data(), s.b.data(),
                                          kCols, kIn, s.K, 1e-9f, 0, kCols);
  });
}
void BM_update_output_major(benchmark::State& state) {
  timed(state, [](Block& s) { narrow_update(s, s.w.data(), 1e-9f); });
}
void BM_transpose_bytes(benchmark::State& state) {
  Block s(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    transpose_bytes(s.images.data(), s.K, s.bytes_t.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * int64_t(kIn) * s.K);
}
BENCHMARK(BM_forward_engine)->Name("narrow/forward/engine")->Arg(128)->Arg(32)->UseRealTime();
BENCHMARK(BM_forward_output_major)->Name("narrow/forward/output_major")->Arg(128)->Arg(32)->UseRealTime();
BENCHMARK(BM_update_engine)->Name("narrow/update/engine")->Arg(128)->Arg(32)->UseRealTime();
BENCHMARK(BM_update_output_major)->Name("narrow/update/output_major")->Arg(128)->Arg(32)->UseRealTime();
BENCHMARK(BM_transpose_bytes)->Name("narrow/transpose_bytes")->Arg(128)->Arg(32)->UseRealTime();

}  // namespace
#endif

BENCHMARK_MAIN();
