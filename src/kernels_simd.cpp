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
  for (; k0 + 4 <= K; k0 += 4) forward_tile<R, 4>(W, b, A, Z, out, in, j0, k0);
  switch (K - k0) {
    case 3: forward_tile<R, 3>(W, b, A, Z, out, in, j0, k0); break;
    case 2: forward_tile<R, 2>(W, b, A, Z, out, in, j0, k0); break;
    case 1: forward_tile<R, 1>(W, b, A, Z, out, in, j0, k0); break;
    default: break;
  }
}

// R rows of dW, two vectors wide: per example, two input loads and R broadcasts feed 2R FMAs.
template <int R>
void gradient_rows(const float* D, const float* A, float* dW, int out, int in, int K, int j0) {
  int i = 0;
  for (; i + 2 * kWidth <= in; i += 2 * kWidth) {
    vfloat acc[R][2];
    for (auto& row : acc) row[0] = row[1] = vfloat(0.0f);
    for (int k = 0; k < K; ++k) {
      vfloat x0 = load(A + static_cast<std::size_t>(k) * in + i);
      vfloat x1 = load(A + static_cast<std::size_t>(k) * in + i + kWidth);
      for (int r = 0; r < R; ++r) {
        vfloat d(D[static_cast<std::size_t>(k) * out + j0 + r]);
        acc[r][0] = xsimd::fma(d, x0, acc[r][0]);
        acc[r][1] = xsimd::fma(d, x1, acc[r][1]);
      }
    }
    for (int r = 0; r < R; ++r) {
      acc[r][0].store_unaligned(dW + static_cast<std::size_t>(j0 + r) * in + i);
      acc[r][1].store_unaligned(dW + static_cast<std::size_t>(j0 + r) * in + i + kWidth);
    }
  }
  for (; i + kWidth <= in; i += kWidth) {
    vfloat acc[R];
    for (auto& a : acc) a = vfloat(0.0f);
    for (int k = 0; k < K; ++k) {
      vfloat x = load(A + static_cast<std::size_t>(k) * in + i);
      for (int r = 0; r < R; ++r) acc[r] = xsimd::fma(vfloat(D[static_cast<std::size_t>(k) * out + j0 + r]), x, acc[r]);
    }
    for (int r = 0; r < R; ++r) acc[r].store_unaligned(dW + static_cast<std::size_t>(j0 + r) * in + i);
  }
  for (; i < in; ++i)
    for (int r = 0; r < R; ++r) {
      float s = 0.0f;
      for (int k = 0; k < K; ++k) s = std::fma(D[static_cast<std::size_t>(k) * out + j0 + r], A[static_cast<std::size_t>(k) * in + i], s);
      dW[static_cast<std::size_t>(j0 + r) * in + i] = s;
    }
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
  for (; j0 + 2 <= out; j0 += 2) forward_rows<2>(W, b, A, Z, out, in, K, j0);
  if (j0 < out) forward_rows<1>(W, b, A, Z, out, in, K, j0);
}

void weight_gradient(const float* D, const float* A, float* dW, float* db, int out, int in, int K) {
  int j0 = 0;
  for (; j0 + 4 <= out; j0 += 4) gradient_rows<4>(D, A, dW, out, in, K, j0);
  switch (out - j0) {
    case 3: gradient_rows<3>(D, A, dW, out, in, K, j0); break;
    case 2: gradient_rows<2>(D, A, dW, out, in, K, j0); break;
    case 1: gradient_rows<1>(D, A, dW, out, in, K, j0); break;
    default: break;
  }
  for (int j = 0; j < out; ++j) {
    float s = 0.0f;
    for (int k = 0; k < K; ++k) s += D[static_cast<std::size_t>(k) * out + j];
    db[j] = s;
  }
}

void backprop_input(const float* W, const float* D, float* G, int out, int in, int K) {
  for (int k = 0; k < K; ++k) {
    const float* d = D + static_cast<std::size_t>(k) * out;
    float* g = G + static_cast<std::size_t>(k) * in;
    std::fill(g, g + in, 0.0f);
    for (int j = 0; j < out; ++j) axpy(d[j], W + static_cast<std::size_t>(j) * in, g, in);
  }
}

void sigmoid(const float* z, float* a, std::size_t n) {
  // σ(z) = 1/(1+e^-z) for z ≥ 0 and e^z/(1+e^z) below: e^-|z| never overflows.
  const vfloat one(1.0f);
  std::size_t i = 0;
  for (; i + kWidth <= n; i += kWidth) {
    vfloat v = load(z + i);
    vfloat e = xsimd::exp(-xsimd::abs(v));
    vfloat r = one / (one + e);
    xsimd::select(v >= vfloat(0.0f), r, e * r).store_unaligned(a + i);
  }
  for (; i < n; ++i) {
    float e = std::exp(-std::fabs(z[i]));
    float r = 1.0f / (1.0f + e);
    a[i] = z[i] >= 0.0f ? r : e * r;
  }
}

void reduce_and_step(float* p, const float* const* grads, int C, float scale, std::size_t begin, std::size_t end) {
  const vfloat vscale(scale);
  std::size_t i = begin;
  for (; i + kWidth <= end; i += kWidth) {
    vfloat s = load(grads[0] + i);
    for (int c = 1; c < C; ++c) s += load(grads[c] + i);
    xsimd::fnma(vscale, s, load(p + i)).store_unaligned(p + i);
  }
  for (; i < end; ++i) {
    float s = grads[0][i];
    for (int c = 1; c < C; ++c) s += grads[c][i];
    p[i] = std::fma(-scale, s, p[i]);
  }
}

}  // namespace ptrain::kernels::simd
