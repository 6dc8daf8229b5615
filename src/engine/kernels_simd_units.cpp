// The SIMD kernels of the units: hidden activations forward and backward, softmax, and the
// output layer's delta and loss. Elementwise kernels send a buffer's tail through the same
// vector code as its body, so an element's value never depends on where it falls (and so on
// the chunk size). Softmax and the output deltas work on one example's few classes at a time,
// in plain float loops. e^x is ptrain's own (below), the same sequence of IEEE operations in
// every lane width and in scalar code, so no result depends on the SIMD width or on libm.
//
// GCC 12 warns -Wmaybe-uninitialized inside avx512fintrin.h for xsimd's rounding, conversion
// and max on AVX-512 (intrinsics that start from _mm512_undefined_ps): a false positive in the
// compiler's own header, silenced for this file alone.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <algorithm>
#include <cmath>

#include <bit>
#include <cstdint>

#include "ptrain/core/aligned.hpp"
#include "ptrain/engine/kernels.hpp"
#include "ptrain/core/simd.hpp"

namespace ptrain::kernels::simd {
namespace {

using ptrain::simd::fma;
using ptrain::simd::kWidth;
using ptrain::simd::vfloat;
using ptrain::simd::vint;

vfloat load(const float* p) { return vfloat::load_unaligned(p); }

// e^x (Cephes' expf): x = n·ln 2 + r with |r| ≤ ½ln 2, e^r by a degree-7 polynomial, 2^n put
// into the exponent bits. x is clamped to [−87, 88], where 2^n stays a normal number.
constexpr float kExpLow = -87.0f, kExpHigh = 88.0f, kLog2e = 1.44269504088896341f;
constexpr float kLn2High = 0.693359375f, kLn2Low = -2.12194440e-4f;
constexpr float kExpPoly[] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                              4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};

float exp_fixed(float x) {
  if (std::isnan(x)) return x;
  x = std::min(std::max(x, kExpLow), kExpHigh);
  const float n = std::nearbyint(x * kLog2e);
  float r = std::fma(n, -kLn2High, x);
  r = std::fma(n, -kLn2Low, r);
  float p = kExpPoly[0];
  for (int c = 1; c < 6; ++c) p = std::fma(p, r, kExpPoly[c]);
  const float y = std::fma(p, r * r, r) + 1.0f;
  return y * std::bit_cast<float>((static_cast<std::int32_t>(n) + 127) << 23);
}

vfloat exp_fixed(vfloat x) {
  x = xsimd::min(xsimd::max(x, vfloat(kExpLow)), vfloat(kExpHigh));
  const vfloat n = xsimd::nearbyint(x * vfloat(kLog2e));
  vfloat r = fma(n, vfloat(-kLn2High), x);
  r = fma(n, vfloat(-kLn2Low), r);
  vfloat p(kExpPoly[0]);
  for (int c = 1; c < 6; ++c) p = fma(p, r, vfloat(kExpPoly[c]));
  const vfloat y = fma(p, r * r, r) + vfloat(1.0f);
  const vint bits = (xsimd::to_int(n) + vint(127)) << 23;
  return y * xsimd::bitwise_cast<vfloat>(bits);
}

// σ(z) = 1/(1+e^-z) for z ≥ 0 and e^z/(1+e^z) below: e^-|z| never overflows. NaN stays NaN.
vfloat sigmoid(const vfloat& v) {
  const vfloat one(1.0f);
  const vfloat e = exp_fixed(-xsimd::abs(v));
  const vfloat r = one / (one + e);
  return xsimd::select(v != v, v, xsimd::select(v >= vfloat(0.0f), r, e * r));
}

// tanh (Cephes' tanhf): an odd polynomial below |x| = 0.625, 1 − 2/(e^{2|x|} + 1) above, with x's sign.
constexpr float kTanhPoly[] = {-5.70498872745e-3f, 2.06390887954e-2f, -5.37397155531e-2f, 1.33314422036e-1f,
                               -3.33332819422e-1f};

vfloat tanh_fixed(const vfloat& x) {
  const vfloat z = x * x, ax = xsimd::abs(x), one(1.0f);
  vfloat p(kTanhPoly[0]);
  for (int c = 1; c < 5; ++c) p = fma(p, z, vfloat(kTanhPoly[c]));
  const vfloat small = fma(p * z, x, x);
  const vfloat big = one - vfloat(2.0f) / (exp_fixed(ax + ax) + one);
  const vfloat large = xsimd::select(x < vfloat(0.0f), -big, big);
  return xsimd::select(x != x, x, xsimd::select(ax < vfloat(0.625f), small, large));
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
  const float s = 1.0f / (1.0f + exp_fixed(-a));
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
  elementwise(z, a, n, [](const vfloat& v) { return tanh_fixed(v); });
}

void tanh_backward(const float* a, float* d, std::size_t n) {
  const vfloat one(1.0f);
  elementwise_backward(a, d, n, [&](const vfloat& va, const vfloat& vd) { return vd * fma(-va, va, one); });
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
    for (int j = 0; j < n; ++j) {
      row[j] = exp_fixed(row[j] - m);
      sum += row[j];
    }
    log_norm[k] = m + std::log(sum);  // for the loss alone: the weights never see libm
    for (int j = 0; j < n; ++j) row[j] /= sum;
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
      example_loss = std::fma(diff, diff, example_loss);
      d[j] = diff * (blog_derivative ? blog_slope(a[j]) : a[j] * (1.0f - a[j]));
    }
    loss += 0.5 * example_loss;
  }
  return loss;
}

double linear_output_backward(const float* A, const float* T, float* dZ, int K, int n) {
  double loss = 0;
  for (int k = 0; k < K; ++k) {
    const std::size_t row = std::size_t(k) * n;
    float example_loss = 0;
    for (int j = 0; j < n; ++j) {
      const float diff = A[row + j] - T[row + j];
      example_loss = std::fma(diff, diff, example_loss);
      dZ[row + j] = diff;
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
