// The SIMD kernels of the linear layers and the updates. Every product here is an outer
// product: one operand is broadcast, the other loaded as a vector of consecutive outputs, and
// each output element sums its terms in a fixed order (input order, or example order) in its
// own lane, with FMAs only. The scalar tail does the same operations with std::fma, so a
// result depends on neither the vector width nor the tiling. Unaligned loads throughout. The
// elementwise units, softmax and output deltas are in kernels_simd_units.cpp.
#include <algorithm>
#include <cmath>
#include <string>

#include "ptrain/core/simd.hpp"
#include "ptrain/engine/kernels.hpp"

namespace ptrain::kernels::simd {
namespace {

using ptrain::simd::fma;
using ptrain::simd::kWidth;
using ptrain::simd::vfloat;

vfloat load(const float* p) { return vfloat::load_unaligned(p); }

// Rows of X (r) against columns of Y (j), summed over t:
//   acc[r][j] = init(r, j), then acc[r][j] = fma(X[r·xr + t·xt], Y[t·yt + j], acc) for t = 0..T−1,
// for an R-row × V-vector tile at row r0 and column j0. R·V accumulators hide the FMA latency
// (4 cycles × 2 ports needs ≥ 8 in flight); each vector load feeds R FMAs, each broadcast V.
struct Operands {
  const float* X;
  std::size_t xr, xt;
  const float* Y;
  std::size_t yt;
  int T;
  const float* x(int r, int t) const { return X + std::size_t(r) * xr + std::size_t(t) * xt; }
};

template <int R, int V, class Init, class Sink>
void outer_tile(const Operands& o, int r0, int j0, Init&& init, Sink&& sink) {
  vfloat acc[R][V];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) acc[r][v] = init(r0 + r, j0 + v * kWidth);
  for (int t = 0; t < o.T; ++t) {
    vfloat y[V];
    for (int v = 0; v < V; ++v) y[v] = load(o.Y + t * o.yt + j0 + v * kWidth);
    for (int r = 0; r < R; ++r) {
      const vfloat x(*o.x(r0 + r, t));
      for (int v = 0; v < V; ++v) acc[r][v] = fma(x, y[v], acc[r][v]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) sink(r0 + r, j0 + v * kWidth, acc[r][v]);
}

// Tiles as large as the register file allows: R·V accumulators, V loads and a broadcast in 32
// registers (AVX-512: 24 accumulators) or 16 (12).
constexpr int kAccumulators = ptrain::simd::kWidth == 16 ? 24 : 12;
constexpr int rows_for(int V) { return std::min(8, kAccumulators / V); }

// Rows [r_begin, r_end) of one column tile of V vectors at j.
template <int V, class Init, class Sink>
void outer_column(const Operands& o, int r_begin, int r_end, int j, Init&& init, Sink&& sink) {
  constexpr int R = rows_for(V);
  int r = r_begin;
  for (; r + R <= r_end; r += R) outer_tile<R, V>(o, r, j, init, sink);
  if constexpr (R > 4)
    for (; r + 4 <= r_end; r += 4) outer_tile<4, V>(o, r, j, init, sink);
  for (; r + 2 <= r_end; r += 2) outer_tile<2, V>(o, r, j, init, sink);
  for (; r < r_end; ++r) outer_tile<1, V>(o, r, j, init, sink);
}

// The whole product for rows [r_begin, r_end) and `cols` columns, a column tile at a time; the
// columns past the last whole vector go through `init_one`/`sink_one` with the same operations
// in scalar form.
template <class Init, class Sink, class InitOne, class SinkOne>
void outer_product(const Operands& o, int r_begin, int r_end, int cols, Init&& init, Sink&& sink, InitOne&& init_one,
                   SinkOne&& sink_one) {
  int j = 0;
  if constexpr (kAccumulators >= 24)
    for (; j + 4 * kWidth <= cols; j += 4 * kWidth) outer_column<4>(o, r_begin, r_end, j, init, sink);
  for (; j + 3 * kWidth <= cols; j += 3 * kWidth) outer_column<3>(o, r_begin, r_end, j, init, sink);
  for (; j + 2 * kWidth <= cols; j += 2 * kWidth) outer_column<2>(o, r_begin, r_end, j, init, sink);
  for (; j + kWidth <= cols; j += kWidth) outer_column<1>(o, r_begin, r_end, j, init, sink);
  for (; j < cols; ++j)
    for (int row = r_begin; row < r_end; ++row) {
      float s = init_one(row, j);
      for (int t = 0; t < o.T; ++t) s = std::fma(*o.x(row, t), o.Y[t * o.yt + j], s);
      sink_one(row, j, s);
    }
}

// Σ_k dZ[k][j] for every j, in example order, vector and tail alike, handed to the sinks.
template <class Sink, class SinkOne>
void column_sums(const float* dZ, int out, int K, Sink&& sink, SinkOne&& sink_one) {
  int j = 0;
  for (; j + kWidth <= out; j += kWidth) {
    vfloat s(0.0f);
    for (int k = 0; k < K; ++k) s = s + load(dZ + std::size_t(k) * out + j);
    sink(j, s);
  }
  for (; j < out; ++j) {
    float s = 0.0f;
    for (int k = 0; k < K; ++k) s = s + dZ[std::size_t(k) * out + j];
    sink_one(j, s);
  }
}

// The operands of Σ_k A[k][i]·dZ[k][j] for rows i of an input-major weight matrix.
Operands weight_gradient_operands(const float* dZ, const float* A, int out, int in, int K) {
  return {A, 1, std::size_t(in), dZ, std::size_t(out), K};
}

}  // namespace

void axpy(float alpha, const float* x, float* y, std::size_t n) {
  const vfloat va(alpha);
  std::size_t i = 0;
  for (; i + kWidth <= n; i += kWidth) fma(va, load(x + i), load(y + i)).store_unaligned(y + i);
  for (; i < n; ++i) y[i] = std::fma(alpha, x[i], y[i]);
}

void linear_forward(const float* Wt, const float* b, const float* A, float* Z, int out, int in, int K) {
  const Operands o{A, std::size_t(in), 1, Wt, std::size_t(out), in};
  outer_product(
      o, 0, K, out, [&](int, int j) { return load(b + j); },
      [&](int k, int j, const vfloat& acc) { acc.store_unaligned(Z + std::size_t(k) * out + j); },
      [&](int, int j) { return b[j]; }, [&](int k, int j, float s) { Z[std::size_t(k) * out + j] = s; });
}

void linear_backward_input(const float* W, const float* dZ, float* dA, int out, int in, int K) {
  for (int k = 0; k < K; ++k) {
    const float* d = dZ + static_cast<std::size_t>(k) * out;
    float* da = dA + static_cast<std::size_t>(k) * in;
    std::fill(da, da + in, 0.0f);
    for (int j = 0; j < out; ++j) axpy(d[j], W + static_cast<std::size_t>(j) * in, da, in);
  }
}

void linear_backward_weights(const float* dZ, const float* A, float* dWt, float* db, int out, int in, int K) {
  outer_product(
      weight_gradient_operands(dZ, A, out, in, K), 0, in, out, [](int, int) { return vfloat(0.0f); },
      [&](int i, int j, const vfloat& acc) { acc.store_unaligned(dWt + std::size_t(i) * out + j); },
      [](int, int) { return 0.0f; }, [&](int i, int j, float s) { dWt[std::size_t(i) * out + j] = s; });
  column_sums(
      dZ, out, K, [&](int j, const vfloat& sum) { sum.store_unaligned(db + j); }, [&](int j, float sum) { db[j] = sum; });
}

void sgd_rank_k_step(const float* dZ, const float* A, float* Wt, float* b, int out, int in, int K, float scale,
                     int i_begin, int i_end) {
  const vfloat vminus(-scale);  // w + (−scale)·g: the expression axpy and sgd_step use too
  outer_product(
      weight_gradient_operands(dZ, A, out, in, K), i_begin, i_end, out, [](int, int) { return vfloat(0.0f); },
      [&](int i, int j, const vfloat& acc) {
        float* w = Wt + std::size_t(i) * out + j;
        fma(vminus, acc, load(w)).store_unaligned(w);
      },
      [](int, int) { return 0.0f; },
      [&](int i, int j, float s) {
        float* w = Wt + std::size_t(i) * out + j;
        *w = std::fma(-scale, s, *w);
      });
  if (!b) return;
  column_sums(
      dZ, out, K, [&](int j, const vfloat& sum) { fma(vminus, sum, load(b + j)).store_unaligned(b + j); },
      [&](int j, float sum) { b[j] = std::fma(-scale, sum, b[j]); });
}

void sgd_momentum_rank_k_step(const float* dZ, const float* A, float* Wt, float* b, float* Vt, float* Vb, int out,
                              int in, int K, float inv_batch, float lr, float momentum, int i_begin, int i_end) {
  const vfloat vinv(inv_batch), vminus_lr(-lr), vmu(momentum);
  outer_product(
      weight_gradient_operands(dZ, A, out, in, K), i_begin, i_end, out, [](int, int) { return vfloat(0.0f); },
      [&](int i, int j, const vfloat& acc) {
        const std::size_t at = std::size_t(i) * out + j;
        const vfloat v = fma(vmu, load(Vt + at), acc * vinv);
        v.store_unaligned(Vt + at);
        fma(vminus_lr, v, load(Wt + at)).store_unaligned(Wt + at);
      },
      [](int, int) { return 0.0f; },
      [&](int i, int j, float s) {
        const std::size_t at = std::size_t(i) * out + j;
        Vt[at] = std::fma(momentum, Vt[at], s * inv_batch);
        Wt[at] = std::fma(-lr, Vt[at], Wt[at]);
      });
  if (!b) return;
  column_sums(
      dZ, out, K,
      [&](int j, const vfloat& sum) {
        const vfloat v = fma(vmu, load(Vb + j), sum * vinv);
        v.store_unaligned(Vb + j);
        fma(vminus_lr, v, load(b + j)).store_unaligned(b + j);
      },
      [&](int j, float sum) {
        Vb[j] = std::fma(momentum, Vb[j], sum * inv_batch);
        b[j] = std::fma(-lr, Vb[j], b[j]);
      });
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

const char* instruction_set() { return ptrain::simd::Arch::name(); }

std::string library_version() {
  return "xsimd " + std::to_string(XSIMD_VERSION_MAJOR) + "." + std::to_string(XSIMD_VERSION_MINOR) + "." +
         std::to_string(XSIMD_VERSION_PATCH);
}

}  // namespace ptrain::kernels::simd
