// The SIMD kernels the parallel engine runs. Each output element is computed by the same
// sequence of operations whichever tile it falls in, so results never depend on how work
// was divided. Unaligned loads throughout: rows of odd lengths start anywhere.
#include <algorithm>
#include <cmath>

#include "ptrain/kernels.hpp"
#include "ptrain/simd.hpp"

namespace ptrain::kernels::simd {
namespace {

using ptrain::simd::horizontal_sum;
using ptrain::simd::kWidth;
using ptrain::simd::vfloat;
constexpr std::size_t kCacheLineBytes = 64;

vfloat load(const float* p) { return vfloat::load_unaligned(p); }

// R weight rows against KB input rows: R·KB independent accumulators hide the FMA latency
// (4 cycles × 2 ports needs ≥ 8 in flight) and each loaded vector feeds several FMAs.
template <int R, int KB>
void forward_tile(const float* W, const float* b, const float* A, float* Z, int out, int in, int j0, int k0) {
  vfloat acc[R][KB];
  for (auto& row : acc)
    for (auto& a : row) a = vfloat(0.0f);
  const int vec_end = in - in % kWidth;
  for (int i = 0; i < vec_end; i += kWidth) {
    vfloat x[KB];
    for (int kb = 0; kb < KB; ++kb) x[kb] = load(A + static_cast<std::size_t>(k0 + kb) * in + i);
    for (int r = 0; r < R; ++r) {
      vfloat w = load(W + static_cast<std::size_t>(j0 + r) * in + i);
      for (int kb = 0; kb < KB; ++kb) acc[r][kb] = xsimd::fma(w, x[kb], acc[r][kb]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int kb = 0; kb < KB; ++kb) {
      const float* w = W + static_cast<std::size_t>(j0 + r) * in;
      const float* x = A + static_cast<std::size_t>(k0 + kb) * in;
      float s = horizontal_sum(acc[r][kb]);
      for (int i = vec_end; i < in; ++i) s = std::fma(w[i], x[i], s);
      Z[static_cast<std::size_t>(k0 + kb) * out + j0 + r] = s + b[j0 + r];
    }
}

template <int R>
void forward_rows(const float* W, const float* b, const float* A, float* Z, int out, int in, int K, int j0) {
  int k0 = 0;
  for (; k0 + 3 <= K; k0 += 3) forward_tile<R, 3>(W, b, A, Z, out, in, j0, k0);
  switch (K - k0) {
    case 2: forward_tile<R, 2>(W, b, A, Z, out, in, j0, k0); break;
    case 1: forward_tile<R, 1>(W, b, A, Z, out, in, j0, k0); break;
    default: break;
  }
}

// Σ_k D[k][j]·A[k][i] for an R-row × V-vector tile: per example, V input loads and R
// broadcasts feed R·V FMAs. The examples are summed in order 0..K-1 in every lane and in the
// scalar tail alike, so each element's value is independent of the tiling. `sink(j, i, acc)`
// receives each finished vector; `sink_one(j, i, sum)` each tail element.
template <int R, int V, class Sink>
void rank_k_tile(const float* D, const float* A, int out, int in, int K, int j0, int i, Sink&& sink) {
  vfloat acc[R][V];
  for (auto& row : acc)
    for (auto& a : row) a = vfloat(0.0f);
  for (int k = 0; k < K; ++k) {
    vfloat x[V];
    for (int v = 0; v < V; ++v) x[v] = load(A + static_cast<std::size_t>(k) * in + i + v * kWidth);
    for (int r = 0; r < R; ++r) {
      vfloat d(D[static_cast<std::size_t>(k) * out + j0 + r]);
      for (int v = 0; v < V; ++v) acc[r][v] = xsimd::fma(d, x[v], acc[r][v]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) sink(j0 + r, i + v * kWidth, acc[r][v]);
}

template <int V, class Sink>
void rank_k_rows(const float* D, const float* A, int out, int in, int K, int i, int j_begin, int j_end, Sink&& sink) {
  int j = j_begin;
  for (; j + 4 <= j_end; j += 4) rank_k_tile<4, V>(D, A, out, in, K, j, i, sink);
  switch (j_end - j) {
    case 3: rank_k_tile<3, V>(D, A, out, in, K, j, i, sink); break;
    case 2: rank_k_tile<2, V>(D, A, out, in, K, j, i, sink); break;
    case 1: rank_k_tile<1, V>(D, A, out, in, K, j, i, sink); break;
    default: break;
  }
}

// Rows [j_begin, j_end) of the rank-K product Dᵀ·A, handed to the sinks. Input columns are the
// outer loop, so a slice of A (K × 16 floats) stays in L1 while every row tile passes over it.
template <class Sink, class SinkOne>
void rank_k_product(const float* D, const float* A, int out, int in, int K, int j_begin, int j_end, Sink&& sink,
                    SinkOne&& sink_one) {
  int i = 0;
  for (; i + 3 * kWidth <= in; i += 3 * kWidth) rank_k_rows<3>(D, A, out, in, K, i, j_begin, j_end, sink);
  for (; i + 2 * kWidth <= in; i += 2 * kWidth) rank_k_rows<2>(D, A, out, in, K, i, j_begin, j_end, sink);
  for (; i + kWidth <= in; i += kWidth) rank_k_rows<1>(D, A, out, in, K, i, j_begin, j_end, sink);
  for (; i < in; ++i)
    for (int j = j_begin; j < j_end; ++j) {
      float s = 0.0f;
      for (int k = 0; k < K; ++k)
        s = std::fma(D[static_cast<std::size_t>(k) * out + j], A[static_cast<std::size_t>(k) * in + i], s);
      sink_one(j, i, s);
    }
}

float column_sum(const float* D, int out, int K, int j) {
  float s = 0.0f;
  for (int k = 0; k < K; ++k) s += D[static_cast<std::size_t>(k) * out + j];
  return s;
}

}  // namespace

float dot(const float* a, const float* b, std::size_t n) {
  // Four accumulators: one would serialise on the FMA latency.
  vfloat acc[4] = {vfloat(0.0f), vfloat(0.0f), vfloat(0.0f), vfloat(0.0f)};
  std::size_t i = 0;
  for (; i + 4 * kWidth <= n; i += 4 * kWidth)
    for (int u = 0; u < 4; ++u) acc[u] = xsimd::fma(load(a + i + u * kWidth), load(b + i + u * kWidth), acc[u]);
  for (; i + kWidth <= n; i += kWidth) acc[0] = xsimd::fma(load(a + i), load(b + i), acc[0]);
  float s = horizontal_sum((acc[0] + acc[1]) + (acc[2] + acc[3]));
  for (; i < n; ++i) s = std::fma(a[i], b[i], s);
  return s;
}

void axpy(float alpha, const float* x, float* y, std::size_t n) {
  const vfloat va(alpha);
  std::size_t i = 0;
  for (; i + kWidth <= n; i += kWidth) xsimd::fma(va, load(x + i), load(y + i)).store_unaligned(y + i);
  for (; i < n; ++i) y[i] = std::fma(alpha, x[i], y[i]);
}

void linear_forward(const float* W, const float* b, const float* A, float* Z, int out, int in, int K) {
  // Weight rows outermost: a pair of rows stays in L1 while every example of the chunk passes.
  int j0 = 0;
  for (; j0 + 4 <= out; j0 += 4) forward_rows<4>(W, b, A, Z, out, in, K, j0);
  switch (out - j0) {
    case 3: forward_rows<3>(W, b, A, Z, out, in, K, j0); break;
    case 2: forward_rows<2>(W, b, A, Z, out, in, K, j0); break;
    case 1: forward_rows<1>(W, b, A, Z, out, in, K, j0); break;
    default: break;
  }
}

void weight_gradient(const float* D, const float* A, float* dW, float* db, int out, int in, int K) {
  rank_k_product(
      D, A, out, in, K, 0, out,
      [&](int j, int i, const vfloat& acc) { acc.store_unaligned(dW + static_cast<std::size_t>(j) * in + i); },
      [&](int j, int i, float sum) { dW[static_cast<std::size_t>(j) * in + i] = sum; });
  for (int j = 0; j < out; ++j) db[j] = column_sum(D, out, K, j);
}

void sgd_rank_k_step(const float* D, const float* A, float* W, float* b, int out, int in, int K, float scale,
                     int j_begin, int j_end) {
  const vfloat vscale(scale);
  rank_k_product(
      D, A, out, in, K, j_begin, j_end,
      [&](int j, int i, const vfloat& acc) {
        float* w = W + static_cast<std::size_t>(j) * in + i;
        xsimd::fnma(vscale, acc, load(w)).store_unaligned(w);
      },
      [&](int j, int i, float sum) {
        float* w = W + static_cast<std::size_t>(j) * in + i;
        *w = std::fma(-scale, sum, *w);
      });
  for (int j = j_begin; j < j_end; ++j) b[j] = std::fma(-scale, column_sum(D, out, K, j), b[j]);
}

void backprop_input(const float* W, const float* D, float* G, int out, int in, int K) {
  for (int k = 0; k < K; ++k) {
    const float* d = D + static_cast<std::size_t>(k) * out;
    float* g = G + static_cast<std::size_t>(k) * in;
    std::fill(g, g + in, 0.0f);
    for (int j = 0; j < out; ++j) axpy(d[j], W + static_cast<std::size_t>(j) * in, g, in);
  }
}

void sgd_momentum_rank_k_step(const float* D, const float* A, float* W, float* b, float* V, float* Vb, int out, int in,
                              int K, float inv_batch, float lr, float momentum, int j_begin, int j_end) {
  const vfloat vinv(inv_batch), vlr(lr), vmu(momentum);
  rank_k_product(
      D, A, out, in, K, j_begin, j_end,
      [&](int j, int i, const vfloat& acc) {
        const std::size_t at = static_cast<std::size_t>(j) * in + i;
        const vfloat v = xsimd::fma(vmu, load(V + at), acc * vinv);
        v.store_unaligned(V + at);
        xsimd::fnma(vlr, v, load(W + at)).store_unaligned(W + at);
      },
      [&](int j, int i, float sum) {
        const std::size_t at = static_cast<std::size_t>(j) * in + i;
        V[at] = std::fma(momentum, V[at], sum * inv_batch);
        W[at] = std::fma(-lr, V[at], W[at]);
      });
  for (int j = j_begin; j < j_end; ++j) {
    Vb[j] = std::fma(momentum, Vb[j], column_sum(D, out, K, j) * inv_batch);
    b[j] = std::fma(-lr, Vb[j], b[j]);
  }
}

namespace {

// σ(z) = 1/(1+e^-z) for z ≥ 0 and e^z/(1+e^z) below: e^-|z| never overflows.
vfloat sigmoid(const vfloat& v) {
  const vfloat one(1.0f);
  vfloat e = xsimd::exp(-xsimd::abs(v));
  vfloat r = one / (one + e);
  return xsimd::select(v >= vfloat(0.0f), r, e * r);
}

}  // namespace

// f over n floats; the tail goes through the same vector code, so an element's value never
// depends on where it falls in the buffer (and so on the chunk size).
template <class F>
void elementwise(const float* z, float* a, std::size_t n, F f) {
  std::size_t i = 0;
  for (; i + kWidth <= n; i += kWidth) f(load(z + i)).store_unaligned(a + i);
  if (i == n) return;
  alignas(kCacheLineBytes) float tail[kWidth] = {};
  std::copy(z + i, z + n, tail);
  f(vfloat::load_aligned(tail)).store_aligned(tail);
  std::copy(tail, tail + (n - i), a + i);
}

void sigmoid(const float* z, float* a, std::size_t n) {
  elementwise(z, a, n, [](const vfloat& v) { return sigmoid(v); });
}

void tanh_units(const float* z, float* a, std::size_t n) {
  elementwise(z, a, n, [](const vfloat& v) { return xsimd::tanh(v); });
}

void relu(const float* z, float* a, std::size_t n) {
  elementwise(z, a, n, [](const vfloat& v) { return xsimd::max(v, vfloat(0.0f)); });
}

}  // namespace ptrain::kernels::simd
