// The SIMD kernels of the linear layers and the updates. Each output element is computed by
// the same sequence of operations whichever tile it falls in, so results never depend on how
// work was divided. Unaligned loads throughout: rows of odd lengths start anywhere. The
// elementwise units, softmax and output deltas are in kernels_simd_units.cpp.
#include <algorithm>
#include <cmath>

#include "ptrain/engine/kernels.hpp"
#include "ptrain/core/simd.hpp"

namespace ptrain::kernels::simd {
namespace {

using ptrain::simd::fma;
using ptrain::simd::horizontal_sum;
using ptrain::simd::kWidth;
using ptrain::simd::vfloat;

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
      for (int kb = 0; kb < KB; ++kb) acc[r][kb] = fma(w, x[kb], acc[r][kb]);
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

// Σ_k dZ[k][j]·A[k][i] for an R-row × V-vector tile: per example, V input loads and R
// broadcasts feed R·V FMAs. The examples are summed in order 0..K-1 in every lane and in the
// scalar tail alike, so each element's value is independent of the tiling. `sink(j, i, acc)`
// receives each finished vector; `sink_one(j, i, sum)` each tail element.
template <int R, int V, class Sink>
void rank_k_tile(const float* dZ, const float* A, int out, int in, int K, int j0, int i, Sink&& sink) {
  vfloat acc[R][V];
  for (auto& row : acc)
    for (auto& a : row) a = vfloat(0.0f);
  for (int k = 0; k < K; ++k) {
    vfloat x[V];
    for (int v = 0; v < V; ++v) x[v] = load(A + static_cast<std::size_t>(k) * in + i + v * kWidth);
    for (int r = 0; r < R; ++r) {
      vfloat d(dZ[static_cast<std::size_t>(k) * out + j0 + r]);
      for (int v = 0; v < V; ++v) acc[r][v] = fma(d, x[v], acc[r][v]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) sink(j0 + r, i + v * kWidth, acc[r][v]);
}

template <int V, class Sink>
void rank_k_rows(const float* dZ, const float* A, int out, int in, int K, int i, int j_begin, int j_end, Sink&& sink) {
  int j = j_begin;
  for (; j + 4 <= j_end; j += 4) rank_k_tile<4, V>(dZ, A, out, in, K, j, i, sink);
  switch (j_end - j) {
    case 3: rank_k_tile<3, V>(dZ, A, out, in, K, j, i, sink); break;
    case 2: rank_k_tile<2, V>(dZ, A, out, in, K, j, i, sink); break;
    case 1: rank_k_tile<1, V>(dZ, A, out, in, K, j, i, sink); break;
    default: break;
  }
}

// Rows [j_begin, j_end) of the rank-K product Dᵀ·A, handed to the sinks. Input columns are the
// outer loop, so a slice of A (K × 16 floats) stays in L1 while every row tile passes over it.
template <class Sink, class SinkOne>
void rank_k_product(const float* dZ, const float* A, int out, int in, int K, int j_begin, int j_end, Sink&& sink,
                    SinkOne&& sink_one) {
  int i = 0;
  for (; i + 3 * kWidth <= in; i += 3 * kWidth) rank_k_rows<3>(dZ, A, out, in, K, i, j_begin, j_end, sink);
  for (; i + 2 * kWidth <= in; i += 2 * kWidth) rank_k_rows<2>(dZ, A, out, in, K, i, j_begin, j_end, sink);
  for (; i + kWidth <= in; i += kWidth) rank_k_rows<1>(dZ, A, out, in, K, i, j_begin, j_end, sink);
  for (; i < in; ++i)
    for (int j = j_begin; j < j_end; ++j) {
      float s = 0.0f;
      for (int k = 0; k < K; ++k)
        s = std::fma(dZ[static_cast<std::size_t>(k) * out + j], A[static_cast<std::size_t>(k) * in + i], s);
      sink_one(j, i, s);
    }
}

float column_sum(const float* dZ, int out, int K, int j) {
  float s = 0.0f;
  for (int k = 0; k < K; ++k) s += dZ[static_cast<std::size_t>(k) * out + j];
  return s;
}

}  // namespace

float dot(const float* a, const float* b, std::size_t n) {
  // Four accumulators: one would serialise on the FMA latency.
  vfloat acc[4] = {vfloat(0.0f), vfloat(0.0f), vfloat(0.0f), vfloat(0.0f)};
  std::size_t i = 0;
  for (; i + 4 * kWidth <= n; i += 4 * kWidth)
    for (int u = 0; u < 4; ++u) acc[u] = fma(load(a + i + u * kWidth), load(b + i + u * kWidth), acc[u]);
  for (; i + kWidth <= n; i += kWidth) acc[0] = fma(load(a + i), load(b + i), acc[0]);
  float s = horizontal_sum((acc[0] + acc[1]) + (acc[2] + acc[3]));
  for (; i < n; ++i) s = std::fma(a[i], b[i], s);
  return s;
}

void axpy(float alpha, const float* x, float* y, std::size_t n) {
  const vfloat va(alpha);
  std::size_t i = 0;
  for (; i + kWidth <= n; i += kWidth) fma(va, load(x + i), load(y + i)).store_unaligned(y + i);
  for (; i < n; ++i) y[i] = std::fma(alpha, x[i], y[i]);
}

void linear_forward(const float* W, const float* b, const float* A, float* Z, int out, int in, int K) {
  // Weight rows outermost: a tile of 4 rows stays in L1 while every example of the chunk passes.
  int j0 = 0;
  for (; j0 + 4 <= out; j0 += 4) forward_rows<4>(W, b, A, Z, out, in, K, j0);
  switch (out - j0) {
    case 3: forward_rows<3>(W, b, A, Z, out, in, K, j0); break;
    case 2: forward_rows<2>(W, b, A, Z, out, in, K, j0); break;
    case 1: forward_rows<1>(W, b, A, Z, out, in, K, j0); break;
    default: break;
  }
}

void linear_backward_weights(const float* dZ, const float* A, float* dW, float* db, int out, int in, int K) {
  rank_k_product(
      dZ, A, out, in, K, 0, out,
      [&](int j, int i, const vfloat& acc) { acc.store_unaligned(dW + static_cast<std::size_t>(j) * in + i); },
      [&](int j, int i, float sum) { dW[static_cast<std::size_t>(j) * in + i] = sum; });
  for (int j = 0; j < out; ++j) db[j] = column_sum(dZ, out, K, j);
}

void sgd_rank_k_step(const float* dZ, const float* A, float* W, float* b, int out, int in, int K, float scale,
                     int j_begin, int j_end) {
  const vfloat vminus(-scale);  // w + (−scale)·g: the expression axpy and sgd_step use too
  rank_k_product(
      dZ, A, out, in, K, j_begin, j_end,
      [&](int j, int i, const vfloat& acc) {
        float* w = W + static_cast<std::size_t>(j) * in + i;
        fma(vminus, acc, load(w)).store_unaligned(w);
      },
      [&](int j, int i, float sum) {
        float* w = W + static_cast<std::size_t>(j) * in + i;
        *w = std::fma(-scale, sum, *w);
      });
  for (int j = j_begin; j < j_end; ++j) b[j] = std::fma(-scale, column_sum(dZ, out, K, j), b[j]);
}

void linear_backward_input(const float* W, const float* dZ, float* dA, int out, int in, int K) {
  for (int k = 0; k < K; ++k) {
    const float* d = dZ + static_cast<std::size_t>(k) * out;
    float* da = dA + static_cast<std::size_t>(k) * in;
    std::fill(da, da + in, 0.0f);
    for (int j = 0; j < out; ++j) axpy(d[j], W + static_cast<std::size_t>(j) * in, da, in);
  }
}

void sgd_momentum_rank_k_step(const float* dZ, const float* A, float* W, float* b, float* V, float* Vb, int out, int in,
                              int K, float inv_batch, float lr, float momentum, int j_begin, int j_end) {
  const vfloat vinv(inv_batch), vminus_lr(-lr), vmu(momentum);
  rank_k_product(
      dZ, A, out, in, K, j_begin, j_end,
      [&](int j, int i, const vfloat& acc) {
        const std::size_t at = static_cast<std::size_t>(j) * in + i;
        const vfloat v = fma(vmu, load(V + at), acc * vinv);
        v.store_unaligned(V + at);
        fma(vminus_lr, v, load(W + at)).store_unaligned(W + at);
      },
      [&](int j, int i, float sum) {
        const std::size_t at = static_cast<std::size_t>(j) * in + i;
        V[at] = std::fma(momentum, V[at], sum * inv_batch);
        W[at] = std::fma(-lr, V[at], W[at]);
      });
  for (int j = j_begin; j < j_end; ++j) {
    Vb[j] = std::fma(momentum, Vb[j], column_sum(dZ, out, K, j) * inv_batch);
    b[j] = std::fma(-lr, Vb[j], b[j]);
  }
}

void sgd_step(const float* dW, float* W, std::size_t n, float scale) { axpy(-scale, dW, W, n); }

void sgd_momentum_step(const float* dW, float* W, float* V, std::size_t n, float inv_batch, float lr, float momentum) {
  const vfloat vinv(inv_batch), vminus_lr(-lr), vmu(momentum);
  std::size_t i = 0;
  for (; i + kWidth <= n; i += kWidth) {
    const vfloat v = fma(vmu, load(V + i), load(dW + i) * vinv);
    v.store_unaligned(V + i);
    fma(vminus_lr, v, load(W + i)).store_unaligned(W + i);
  }
  for (; i < n; ++i) {
    V[i] = std::fma(momentum, V[i], dW[i] * inv_batch);
    W[i] = std::fma(-lr, V[i], W[i]);
  }
}

}  // namespace ptrain::kernels::simd
