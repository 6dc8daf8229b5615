// The plain twins of the SIMD kernels: obvious loops accumulating in double, the yardstick
// the kernel tests and benchmarks measure the `simd::` versions against.
#include <cmath>

#include "ptrain/kernels.hpp"

namespace ptrain::kernels::plain {

float dot(const float* a, const float* b, std::size_t n) {
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) s += double{a[i]} * b[i];
  return static_cast<float>(s);
}

void axpy(float alpha, const float* x, float* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = static_cast<float>(y[i] + double{alpha} * x[i]);
}

void linear_forward(const float* W, const float* b, const float* A, float* Z, int out, int in, int K) {
  for (int k = 0; k < K; ++k)
    for (int j = 0; j < out; ++j) {
      double s = b[j];
      for (int i = 0; i < in; ++i) s += double{W[j * in + i]} * A[k * in + i];
      Z[k * out + j] = static_cast<float>(s);
    }
}

void weight_gradient(const float* D, const float* A, float* dW, float* db, int out, int in, int K) {
  for (int j = 0; j < out; ++j) {
    double sb = 0;
    for (int k = 0; k < K; ++k) sb += D[k * out + j];
    db[j] = static_cast<float>(sb);
    for (int i = 0; i < in; ++i) {
      double s = 0;
      for (int k = 0; k < K; ++k) s += double{D[k * out + j]} * A[k * in + i];
      dW[j * in + i] = static_cast<float>(s);
    }
  }
}

void backprop_input(const float* W, const float* D, float* G, int out, int in, int K) {
  for (int k = 0; k < K; ++k)
    for (int i = 0; i < in; ++i) {
      double s = 0;
      for (int j = 0; j < out; ++j) s += double{D[k * out + j]} * W[j * in + i];
      G[k * in + i] = static_cast<float>(s);
    }
}

void sigmoid(const float* z, float* a, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) a[i] = static_cast<float>(1.0 / (1.0 + std::exp(-double{z[i]})));
}

void tanh_units(const float* z, float* a, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) a[i] = static_cast<float>(std::tanh(double{z[i]}));
}

void relu(const float* z, float* a, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) a[i] = z[i] > 0.0f ? z[i] : 0.0f;
}

void sgd_rank_k_step(const float* D, const float* A, float* W, float* b, int out, int in, int K, float scale,
                     int j_begin, int j_end) {
  for (int j = j_begin; j < j_end; ++j) {
    double sb = 0;
    for (int k = 0; k < K; ++k) sb += D[k * out + j];
    b[j] = static_cast<float>(b[j] - double{scale} * sb);
    for (int i = 0; i < in; ++i) {
      double s = 0;
      for (int k = 0; k < K; ++k) s += double{D[k * out + j]} * A[k * in + i];
      W[j * in + i] = static_cast<float>(W[j * in + i] - double{scale} * s);
    }
  }
}

void sgd_momentum_rank_k_step(const float* D, const float* A, float* W, float* b, float* V, float* Vb, int out, int in,
                              int K, float inv_batch, float lr, float momentum, int j_begin, int j_end) {
  auto step = [&](float& w, float& v, double sum) {
    v = static_cast<float>(double{momentum} * v + sum * inv_batch);
    w = static_cast<float>(w - double{lr} * v);
  };
  for (int j = j_begin; j < j_end; ++j) {
    double sb = 0;
    for (int k = 0; k < K; ++k) sb += D[k * out + j];
    step(b[j], Vb[j], sb);
    for (int i = 0; i < in; ++i) {
      double s = 0;
      for (int k = 0; k < K; ++k) s += double{D[k * out + j]} * A[k * in + i];
      step(W[j * in + i], V[j * in + i], s);
    }
  }
}

}  // namespace ptrain::kernels::plain
