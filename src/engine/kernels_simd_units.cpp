// The SIMD kernels of the units: hidden activations forward and backward, softmax, and the
// output layer's delta and loss. Elementwise kernels send a buffer's tail through the same
// vector code as its body, so an element's value never depends on where it falls (and so on
// the chunk size). Softmax and the output deltas work on one example's few classes at a time:
// plain float loops with libm's exp, identical for every SIMD width.
//
// GCC 12 warns -Wmaybe-uninitialized inside avx512fintrin.h for xsimd's exp and max on
// AVX-512 (intrinsics that start from _mm512_undefined_ps): a false positive in the compiler's
// own header, silenced for this file alone.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <algorithm>
#include <cmath>

#include "ptrain/core/aligned.hpp"
#include "ptrain/engine/kernels.hpp"
#include "ptrain/core/simd.hpp"

namespace ptrain::kernels::simd {
namespace {

using ptrain::simd::kWidth;
using ptrain::simd::vfloat;

vfloat load(const float* p) { return vfloat::load_unaligned(p); }

// σ(z) = 1/(1+e^-z) for z ≥ 0 and e^z/(1+e^z) below: e^-|z| never overflows.
vfloat sigmoid(const vfloat& v) {
  const vfloat one(1.0f);
  vfloat e = xsimd::exp(-xsimd::abs(v));
  vfloat r = one / (one + e);
  return xsimd::select(v >= vfloat(0.0f), r, e * r);
}

// out = f(x) over n floats, the tail through the same vector code as the body.
template <class F>
void elementwise(const float* x, float* out, std::size_t n, F f) {
  std::size_t i = 0;
  for (; i + kWidth <= n; i += kWidth) f(load(x + i)).store_unaligned(out + i);
  if (i == n) return;
  alignas(kCacheLine) float tail[kWidth] = {};
  std::copy(x + i, x + n, tail);
  f(vfloat::load_aligned(tail)).store_aligned(tail);
  std::copy(tail, tail + (n - i), out + i);
}

// d = f(a, d) over n floats, the tail likewise.
template <class F>
void elementwise_backward(const float* a, float* d, std::size_t n, F f) {
  std::size_t i = 0;
  for (; i + kWidth <= n; i += kWidth) f(load(a + i), load(d + i)).store_unaligned(d + i);
  if (i == n) return;
  alignas(kCacheLine) float ta[kWidth] = {}, td[kWidth] = {};
  std::copy(a + i, a + n, ta);
  std::copy(d + i, d + n, td);
  f(vfloat::load_aligned(ta), vfloat::load_aligned(td)).store_aligned(td);
  std::copy(td, td + (n - i), d + i);
}

// The post's slope σ(a)(1 − σ(a)); a ∈ (0, 1), so e^-a cannot overflow.
float blog_slope(float a) {
  const float s = 1.0f / (1.0f + std::exp(-a));
  return s * (1.0f - s);
}

}  // namespace

void sigmoid_forward(const float* z, float* a, std::size_t n) {
  elementwise(z, a, n, [](const vfloat& v) { return sigmoid(v); });
}

void sigmoid_backward(const float* a, float* d, std::size_t n) {
  const vfloat one(1.0f);
  elementwise_backward(a, d, n, [&](const vfloat& va, const vfloat& vd) { return vd * (va * (one - va)); });
}

void sigmoid_backward_blog(const float* a, float* d, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) d[i] *= blog_slope(a[i]);
}

void tanh_forward(const float* z, float* a, std::size_t n) {
  elementwise(z, a, n, [](const vfloat& v) { return xsimd::tanh(v); });
}

void tanh_backward(const float* a, float* d, std::size_t n) {
  const vfloat one(1.0f);
  elementwise_backward(a, d, n, [&](const vfloat& va, const vfloat& vd) { return vd * (one - va * va); });
}

void relu_forward(const float* z, float* a, std::size_t n) {
  elementwise(z, a, n, [](const vfloat& v) { return xsimd::max(v, vfloat(0.0f)); });
}

void relu_backward(const float* a, float* d, std::size_t n) {
  const vfloat zero(0.0f);
  elementwise_backward(a, d, n, [&](const vfloat& va, const vfloat& vd) { return xsimd::select(va > zero, vd, zero); });
}

void softmax_forward(float* Z, float* logits, float* log_norm, int K, int n) {
  std::copy(Z, Z + std::size_t(K) * n, logits);
  for (int k = 0; k < K; ++k) {
    float* row = Z + std::size_t(k) * n;
    const float m = *std::max_element(row, row + n);
    float sum = 0.0f;
    for (int j = 0; j < n; ++j) sum += std::exp(row[j] - m);
    log_norm[k] = m + std::log(sum);
    for (int j = 0; j < n; ++j) row[j] = std::exp(row[j] - log_norm[k]);
  }
}

double mse_output_backward(const float* A, const int* labels, float* dZ, int K, int n, bool blog_derivative) {
  double loss = 0;
  for (int k = 0; k < K; ++k) {
    const float* a = A + std::size_t(k) * n;
    float* d = dZ + std::size_t(k) * n;
    float example_loss = 0;
    for (int j = 0; j < n; ++j) {
      const float diff = a[j] - (j == labels[k] ? 1.0f : 0.0f);
      example_loss += diff * diff;
      d[j] = diff * (blog_derivative ? blog_slope(a[j]) : a[j] * (1.0f - a[j]));
    }
    loss += 0.5 * example_loss;
  }
  return loss;
}

double xent_output_backward(const float* P, const float* logits, const float* log_norm, const int* labels, float* dZ,
                            int K, int n) {
  double loss = 0;
  for (int k = 0; k < K; ++k) {
    const float* p = P + std::size_t(k) * n;
    float* d = dZ + std::size_t(k) * n;
    for (int j = 0; j < n; ++j) d[j] = p[j] - (j == labels[k] ? 1.0f : 0.0f);
    loss += double{log_norm[k]} - logits[std::size_t(k) * n + labels[k]];
  }
  return loss;
}

}  // namespace ptrain::kernels::simd
