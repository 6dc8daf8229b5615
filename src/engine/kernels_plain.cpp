// The plain twins of the SIMD kernels: obvious loops accumulating in double, the yardstick
// the kernel tests and benchmarks measure the `simd::` versions against.
#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <vector>

#include "ptrain/core/transpose.hpp"
#include "ptrain/engine/kernels.hpp"

namespace ptrain::kernels::plain {
namespace {

// The K rows the `_pixels` kernels read, converted: A[k][i] = to_float[images[k][i]].
std::vector<float> converted(const std::uint8_t* const* images, const float* to_float, int in, int K) {
  std::vector<float> A(std::size_t(K) * in);
  for (int k = 0; k < K; ++k)
    for (int i = 0; i < in; ++i) A[std::size_t(k) * in + i] = to_float[images[k][i]];
  return A;
}

// The K rows the `_rows` kernels read, gathered.
std::vector<float> gathered(const float* const* rows, int in, int K) {
  std::vector<float> A(std::size_t(K) * in);
  for (int k = 0; k < K; ++k) std::copy_n(rows[k], in, A.begin() + std::size_t(k) * in);
  return A;
}

}  // namespace

void axpy(float alpha, const float* x, float* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = static_cast<float>(y[i] + double{alpha} * x[i]);
}

void linear_forward(const float* Wt, const float* b, const float* A, float* Z, int out, int in, int K, int j_begin,
                    int j_end) {
  for (int k = 0; k < K; ++k)
    for (int j = j_begin; j < j_end; ++j) {
      double s = b[j];
      for (int i = 0; i < in; ++i) s += double{Wt[i * out + j]} * A[k * in + i];
      Z[k * out + j] = static_cast<float>(s);
    }
}

void linear_forward_pixels(const float* Wt, const float* b, const std::uint8_t* const* images, const float* to_float,
                           float* Z, int out, int in, int K, int j_begin, int j_end) {
  linear_forward(Wt, b, converted(images, to_float, in, K).data(), Z, out, in, K, j_begin, j_end);
}

void linear_forward_rows(const float* Wt, const float* b, const float* const* rows, float* Z, int out, int in, int K,
                         int j_begin, int j_end) {
  linear_forward(Wt, b, gathered(rows, in, K).data(), Z, out, in, K, j_begin, j_end);
}

void linear_backward_weights(const float* dZ, const float* A, float* dWt, float* db, int out, int in, int K) {
  for (int j = 0; j < out; ++j) {
    double sb = 0;
    for (int k = 0; k < K; ++k) sb += dZ[k * out + j];
    db[j] = static_cast<float>(sb);
    for (int i = 0; i < in; ++i) {
      double s = 0;
      for (int k = 0; k < K; ++k) s += double{dZ[k * out + j]} * A[k * in + i];
      dWt[i * out + j] = static_cast<float>(s);
    }
  }
}

namespace {

// dA[k][i] = Σ_j dZ[k][j]·w(j, i), whichever way the weights are stored.
template <class Weight>
void backward_input(Weight w, const float* dZ, float* dA, int out, int in, int K) {
  for (int k = 0; k < K; ++k)
    for (int i = 0; i < in; ++i) {
      double s = 0;
      for (int j = 0; j < out; ++j) s += double{dZ[k * out + j]} * w(j, i);
      dA[k * in + i] = static_cast<float>(s);
    }
}

}  // namespace

void linear_backward_input(const float* W, const float* dZ, float* dA, int out, int in, int K) {
  backward_input([=](int j, int i) { return W[j * in + i]; }, dZ, dA, out, in, K);
}

void linear_backward_input_from_wt(const float* Wt, const float* dZ, float* dA, int out, int in, int K) {
  backward_input([=](int j, int i) { return Wt[i * out + j]; }, dZ, dA, out, in, K);
}

void sigmoid_forward(const float* z, float* a, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) a[i] = static_cast<float>(1.0 / (1.0 + std::exp(-double{z[i]})));
}

void tanh_forward(const float* z, float* a, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) a[i] = static_cast<float>(std::tanh(double{z[i]}));
}

void relu_forward(const float* z, float* a, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) a[i] = z[i] > 0.0f ? z[i] : 0.0f;
}

namespace {

double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

}  // namespace

void sigmoid_backward(const float* a, float* d, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) d[i] = static_cast<float>(d[i] * (double{a[i]} * (1.0 - a[i])));
}

void sigmoid_backward_blog(const float* a, float* d, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) d[i] = static_cast<float>(d[i] * (sigmoid(a[i]) * (1.0 - sigmoid(a[i]))));
}

void tanh_backward(const float* a, float* d, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) d[i] = static_cast<float>(d[i] * (1.0 - double{a[i]} * a[i]));
}

void relu_backward(const float* a, float* d, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) d[i] = a[i] > 0.0f ? d[i] : 0.0f;
}

void softmax_forward(float* Z, float* logits, float* log_norm, int K, int n) {
  for (int k = 0; k < K; ++k) {
    float* row = Z + k * n;
    double m = row[0], sum = 0;
    for (int j = 1; j < n; ++j) m = std::max(m, double{row[j]});
    for (int j = 0; j < n; ++j) sum += std::exp(row[j] - m);
    for (int j = 0; j < n; ++j) logits[k * n + j] = row[j];
    for (int j = 0; j < n; ++j) row[j] = static_cast<float>(std::exp(row[j] - m) / sum);
    log_norm[k] = static_cast<float>(m + std::log(sum));
  }
}

double mse_output_backward(const float* A, const int* labels, float* dZ, int K, int n, bool blog_derivative) {
  double loss = 0;
  for (int k = 0; k < K; ++k)
    for (int j = 0; j < n; ++j) {
      const double a = A[k * n + j], diff = a - (j == labels[k] ? 1.0 : 0.0);
      const double slope = blog_derivative ? sigmoid(a) * (1.0 - sigmoid(a)) : a * (1.0 - a);
      loss += 0.5 * diff * diff;
      dZ[k * n + j] = static_cast<float>(diff * slope);
    }
  return loss;
}

double linear_output_backward(const float* A, const float* T, float* dZ, int K, int n) {
  double loss = 0;
  for (int i = 0; i < K * n; ++i) {
    const double diff = double{A[i]} - T[i];
    loss += 0.5 * diff * diff;
    dZ[i] = static_cast<float>(diff);
  }
  return loss;
}

double xent_output_backward(const float* P, const float* logits, const float* log_norm, const int* labels, float* dZ,
                            int K, int n) {
  double loss = 0;
  for (int k = 0; k < K; ++k) {
    for (int j = 0; j < n; ++j) dZ[k * n + j] = static_cast<float>(double{P[k * n + j]} - (j == labels[k] ? 1.0 : 0.0));
    loss += double{log_norm[k]} - logits[k * n + labels[k]];
  }
  return loss;
}

void sgd_rank_k_step(const float* dZ, const float* A, float* Wt, float* b, int out, int in, int K, float scale,
                     int j_begin, int j_end) {
  for (int j = j_begin; j < j_end; ++j) {
    double sb = 0;
    for (int k = 0; k < K; ++k) sb += dZ[k * out + j];
    b[j] = static_cast<float>(b[j] - double{scale} * sb);
    for (int i = 0; i < in; ++i) {
      double s = 0;
      for (int k = 0; k < K; ++k) s += double{dZ[k * out + j]} * A[k * in + i];
      Wt[i * out + j] = static_cast<float>(Wt[i * out + j] - double{scale} * s);
    }
  }
}

void sgd_rank_k_step_pixels(const float* dZ, const std::uint8_t* const* images, float pixel_scale, float* Wt, float* b,
                            int out, int in, int K, float scale, int j_begin, int j_end) {
  const std::vector<float> A = converted(images, pixel_table(pixel_scale).data(), in, K);
  sgd_rank_k_step(dZ, A.data(), Wt, b, out, in, K, scale, j_begin, j_end);
}

void sgd_rank_k_step_rows(const float* dZ, const float* const* rows, float* Wt, float* b, int out, int in, int K,
                          float scale, int j_begin, int j_end) {
  sgd_rank_k_step(dZ, gathered(rows, in, K).data(), Wt, b, out, in, K, scale, j_begin, j_end);
}

void sgd_momentum_rank_k_step(const float* dZ, const float* A, float* Wt, float* b, float* Vt, float* Vb, int out,
                              int in, int K, float inv_batch, float lr, float momentum, float decay, int j_begin,
                              int j_end, bool nesterov) {
  auto step = [&](float& w, float& v, double sum) {
    const double g = sum * inv_batch + double{decay} * w;
    v = static_cast<float>(double{momentum} * v + g);
    w = static_cast<float>(w - double{lr} * (nesterov ? double{momentum} * v + g : double{v}));
  };
  for (int j = j_begin; j < j_end; ++j) {
    double sb = 0;
    for (int k = 0; k < K; ++k) sb += dZ[k * out + j];
    step(b[j], Vb[j], sb);
    for (int i = 0; i < in; ++i) {
      double s = 0;
      for (int k = 0; k < K; ++k) s += double{dZ[k * out + j]} * A[k * in + i];
      step(Wt[i * out + j], Vt[i * out + j], s);
    }
  }
}

void sgd_momentum_rank_k_step_pixels(const float* dZ, const std::uint8_t* const* images, float pixel_scale, float* Wt,
                                     float* b, float* Vt, float* Vb, int out, int in, int K, float inv_batch, float lr,
                                     float momentum, float decay, int j_begin, int j_end, bool nesterov) {
  const std::vector<float> A = converted(images, pixel_table(pixel_scale).data(), in, K);
  sgd_momentum_rank_k_step(dZ, A.data(), Wt, b, Vt, Vb, out, in, K, inv_batch, lr, momentum, decay, j_begin, j_end,
                           nesterov);
}

void sgd_momentum_rank_k_step_rows(const float* dZ, const float* const* rows, float* Wt, float* b, float* Vt, float* Vb,
                                   int out, int in, int K, float inv_batch, float lr, float momentum, float decay,
                                   int j_begin, int j_end, bool nesterov) {
  sgd_momentum_rank_k_step(dZ, gathered(rows, in, K).data(), Wt, b, Vt, Vb, out, in, K, inv_batch, lr, momentum, decay,
                           j_begin, j_end, nesterov);
}

namespace {

// PyTorch's Adam step on one parameter, in double, from its gradient sum.
void adam_one(float& w, float& m, float& v, double sum, const AdamStep& c) {
  const double g = sum * c.inv_batch + double{c.decay} * w;
  const double wd = double{w} * c.shrink;
  const double m1 = double{c.beta1} * m + double{c.one_minus_beta1} * g;
  const double v1 = double{c.beta2} * v + double{c.one_minus_beta2} * g * g;
  m = static_cast<float>(m1);
  v = static_cast<float>(v1);
  w = static_cast<float>(wd - double{c.step_size} * m1 / (std::sqrt(v1) / c.root_bc2 + c.eps));
}

}  // namespace

void adam_rank_k_step(const float* dZ, const float* A, float* Wt, float* b, float* Mt, float* Mb, float* Vt, float* Vb,
                      int out, int in, int K, const AdamStep& c, int j_begin, int j_end) {
  for (int j = j_begin; j < j_end; ++j) {
    double sb = 0;
    for (int k = 0; k < K; ++k) sb += dZ[k * out + j];
    adam_one(b[j], Mb[j], Vb[j], sb, c);
    for (int i = 0; i < in; ++i) {
      double s = 0;
      for (int k = 0; k < K; ++k) s += double{dZ[k * out + j]} * A[k * in + i];
      adam_one(Wt[i * out + j], Mt[i * out + j], Vt[i * out + j], s, c);
    }
  }
}

void adam_rank_k_step_pixels(const float* dZ, const std::uint8_t* const* images, float pixel_scale, float* Wt, float* b,
                             float* Mt, float* Mb, float* Vt, float* Vb, int out, int in, int K, const AdamStep& c,
                             int j_begin, int j_end) {
  const std::vector<float> A = converted(images, pixel_table(pixel_scale).data(), in, K);
  adam_rank_k_step(dZ, A.data(), Wt, b, Mt, Mb, Vt, Vb, out, in, K, c, j_begin, j_end);
}

void adam_rank_k_step_rows(const float* dZ, const float* const* rows, float* Wt, float* b, float* Mt, float* Mb,
                           float* Vt, float* Vb, int out, int in, int K, const AdamStep& c, int j_begin, int j_end) {
  adam_rank_k_step(dZ, gathered(rows, in, K).data(), Wt, b, Mt, Mb, Vt, Vb, out, in, K, c, j_begin, j_end);
}

namespace {

// A narrow block's output-major matrices W[out][in] as input-major copies, written back by
// done(): the narrow twins are the input-major twins on those.
class InputMajorCopies {
 public:
  InputMajorCopies(int out, int in, std::initializer_list<float*> matrices) : out_(out), in_(in), at_(matrices) {
    for (float* m : at_) {
      copies_.emplace_back(std::size_t(out) * in);
      transpose(m, out, in, copies_.back().data());
    }
  }
  float* operator[](std::size_t m) { return copies_[m].data(); }
  void done() {
    for (std::size_t m = 0; m < at_.size(); ++m) transpose(copies_[m].data(), in_, out_, at_[m]);
  }

 private:
  int out_, in_;
  std::vector<float*> at_;
  std::vector<std::vector<float>> copies_;
};

}  // namespace

void narrow_forward(const float* W, const float* b, const float* Xt, std::size_t xt_stride, float* Zt, int out, int in,
                    int K) {
  for (int j = 0; j < out; ++j)
    for (int k = 0; k < K; ++k) {
      double s = b[j];
      for (int i = 0; i < in; ++i) s += double{W[std::size_t(j) * in + i]} * Xt[i * xt_stride + k];
      Zt[std::size_t(j) * K + k] = static_cast<float>(s);
    }
}

void narrow_forward_pixels(const float* W, const float* b, const std::uint8_t* Bt, std::size_t bt_stride,
                           float pixel_scale, float* Zt, int out, int in, int K) {
  std::vector<float> Xt(std::size_t(in) * K);
  for (int i = 0; i < in; ++i)
    for (int k = 0; k < K; ++k) Xt[std::size_t(i) * K + k] = static_cast<float>(Bt[i * bt_stride + k]) * pixel_scale;
  narrow_forward(W, b, Xt.data(), std::size_t(K), Zt, out, in, K);
}

void narrow_sgd_step_pixels(const float* dZ, const std::uint8_t* const* images, float pixel_scale, float* W, float* b,
                            int out, int in, int K, float scale) {
  InputMajorCopies t(out, in, {W});
  sgd_rank_k_step_pixels(dZ, images, pixel_scale, t[0], b, out, in, K, scale, 0, out);
  t.done();
}

void narrow_sgd_step_rows(const float* dZ, const float* const* rows, float* W, float* b, int out, int in, int K,
                          float scale) {
  InputMajorCopies t(out, in, {W});
  sgd_rank_k_step_rows(dZ, rows, t[0], b, out, in, K, scale, 0, out);
  t.done();
}

void narrow_momentum_step_pixels(const float* dZ, const std::uint8_t* const* images, float pixel_scale, float* W,
                                 float* b, float* V, float* Vb, int out, int in, int K, float inv_batch, float lr,
                                 float momentum, float decay, bool nesterov) {
  InputMajorCopies t(out, in, {W, V});
  sgd_momentum_rank_k_step_pixels(dZ, images, pixel_scale, t[0], b, t[1], Vb, out, in, K, inv_batch, lr, momentum,
                                  decay, 0, out, nesterov);
  t.done();
}

void narrow_momentum_step_rows(const float* dZ, const float* const* rows, float* W, float* b, float* V, float* Vb,
                               int out, int in, int K, float inv_batch, float lr, float momentum, float decay,
                               bool nesterov) {
  InputMajorCopies t(out, in, {W, V});
  sgd_momentum_rank_k_step_rows(dZ, rows, t[0], b, t[1], Vb, out, in, K, inv_batch, lr, momentum, decay, 0, out,
                                nesterov);
  t.done();
}

void narrow_adam_step_pixels(const float* dZ, const std::uint8_t* const* images, float pixel_scale, float* W, float* b,
                             float* M, float* Mb, float* V, float* Vb, int out, int in, int K, const AdamStep& c) {
  InputMajorCopies t(out, in, {W, M, V});
  adam_rank_k_step_pixels(dZ, images, pixel_scale, t[0], b, t[1], Mb, t[2], Vb, out, in, K, c, 0, out);
  t.done();
}

void narrow_adam_step_rows(const float* dZ, const float* const* rows, float* W, float* b, float* M, float* Mb, float* V,
                           float* Vb, int out, int in, int K, const AdamStep& c) {
  InputMajorCopies t(out, in, {W, M, V});
  adam_rank_k_step_rows(dZ, rows, t[0], b, t[1], Mb, t[2], Vb, out, in, K, c, 0, out);
  t.done();
}

void sgd_step(const float* dW, float* W, std::size_t n, float scale) {
  for (std::size_t i = 0; i < n; ++i) W[i] = static_cast<float>(W[i] - double{scale} * dW[i]);
}

void sgd_momentum_step(const float* dW, float* W, float* V, std::size_t n, float inv_batch, float lr, float momentum,
                       float decay, bool nesterov) {
  for (std::size_t i = 0; i < n; ++i) {
    const double g = double{dW[i]} * inv_batch + double{decay} * W[i];
    V[i] = static_cast<float>(double{momentum} * V[i] + g);
    W[i] = static_cast<float>(W[i] - double{lr} * (nesterov ? double{momentum} * V[i] + g : double{V[i]}));
  }
}

void adam_step(const float* dW, float* W, float* M, float* V, std::size_t n, const AdamStep& c) {
  for (std::size_t i = 0; i < n; ++i) adam_one(W[i], M[i], V[i], dW[i], c);
}

}  // namespace ptrain::kernels::plain
