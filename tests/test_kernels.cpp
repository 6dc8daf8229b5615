// The SIMD kernels against their plain twins over lengths that are not multiples of the SIMD
// width and starts that are not aligned. Buffers are padded with NaN so an over-read poisons
// the result and an over-write is seen in the padding. The tolerance is the rounding bound
// (n + 2)·ε·Σ|terms|: loose enough for any summation order, far too tight for a wrong index.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "ptrain/core/transpose.hpp"
#include "ptrain/engine/kernels.hpp"

namespace ptrain {
namespace {

namespace simd = kernels::simd;
namespace plain = kernels::plain;

const std::vector<int> kLengths{1, 3, 7, 15, 16, 17, 31, 112, 784, 1000};
const std::vector<int> kMisalign{0, 1, 3};
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr double kEps = std::numeric_limits<float>::epsilon();
constexpr int kPad = 32;

// n floats starting `misalign` floats into a NaN-filled allocation.
class Buffer {
 public:
  Buffer(std::size_t n, int misalign, std::mt19937& rng) : n_(n), off_(misalign), v_(n + misalign + kPad, kNaN) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (std::size_t i = 0; i < n; ++i) v_[off_ + i] = u(rng);
  }
  float* data() { return v_.data() + off_; }
  const float* data() const { return v_.data() + off_; }
  float operator[](std::size_t i) const { return data()[i]; }
  std::vector<float> values() const { return {data(), data() + n_}; }
  std::size_t size() const { return n_; }
  void square() {  // Adam's second moment must be non-negative
    for (std::size_t i = 0; i < n_; ++i) data()[i] *= data()[i];
  }
  bool padding_intact() const {
    for (std::size_t i = 0; i < v_.size(); ++i)
      if ((i < off_ || i >= off_ + n_) && !std::isnan(v_[i])) return false;
    return true;
  }

 private:
  std::size_t n_, off_;
  std::vector<float> v_;
};

TEST(Kernels, AxpyMatchesPlainLoopAndWritesNothingElse) {
  std::mt19937 rng(2);
  for (int n : kLengths)
    for (int m : kMisalign) {
      Buffer x(n, m, rng), y(n, (m + 2) % 4, rng), y_plain = y;
      simd::axpy(0.75f, x.data(), y.data(), n);
      plain::axpy(0.75f, x.data(), y_plain.data(), n);
      for (int i = 0; i < n; ++i) ASSERT_NEAR(y[i], y_plain[i], 4 * kEps * (std::fabs(y_plain[i]) + 1)) << "n=" << n;
      EXPECT_TRUE(y.padding_intact()) << "axpy wrote outside y, n=" << n;
    }
}

// Runs a matrix kernel both ways on NaN-padded buffers and compares the output elementwise
// against the plain result, with the bound `bound(i)` for element i.
struct Shape {
  int out, in, K;
};

std::vector<Shape> matrix_shapes() {
  std::vector<Shape> shapes;
  for (int in : kLengths)
    for (int out : {1, 2, 3, 5, 16, 17, 24, 56})  // 24, 56: whole vectors and a half (AVX-512)
      for (int K : {1, 3, 4, 5, 8, 9}) shapes.push_back({out, in, K});
  return shapes;
}

// dA from the SIMD kernel against the plain one, each element within the rounding bound of its
// terms dZ[k][j]·W[j][i] (W output-major), and nothing written past dA.
void expect_backward_input_near(const Buffer& G, const Buffer& G_plain, const Buffer& D, const float* W,
                                const Shape& s) {
  for (int k = 0; k < s.K; ++k)
    for (int i = 0; i < s.in; ++i) {
      double bound = 0;
      for (int j = 0; j < s.out; ++j) bound += std::fabs(double{D[k * s.out + j]} * W[j * s.in + i]);
      ASSERT_NEAR(G[k * s.in + i], G_plain[k * s.in + i], (s.out + 2) * kEps * bound)
          << "out=" << s.out << " in=" << s.in << " K=" << s.K;
    }
  ASSERT_TRUE(G.padding_intact());
}

TEST(Kernels, LinearForwardMatchesPlainLoop) {
  std::mt19937 rng(3);
  for (const Shape& s : matrix_shapes()) {
    const int m = s.in % 3;
    Buffer W(std::size_t(s.out) * s.in, m, rng), b(s.out, 1, rng), A(std::size_t(s.K) * s.in, 2 - m, rng);
    Buffer Z(std::size_t(s.K) * s.out, 1, rng), Z_plain = Z;
    simd::linear_forward(W.data(), b.data(), A.data(), Z.data(), s.out, s.in, s.K, 0, s.out);
    plain::linear_forward(W.data(), b.data(), A.data(), Z_plain.data(), s.out, s.in, s.K, 0, s.out);
    for (int k = 0; k < s.K; ++k)
      for (int j = 0; j < s.out; ++j) {
        double bound = std::fabs(b[j]);
        for (int i = 0; i < s.in; ++i) bound += std::fabs(double{W[i * s.out + j]} * A[k * s.in + i]);
        ASSERT_NEAR(Z[k * s.out + j], Z_plain[k * s.out + j], (s.in + 3) * kEps * bound)
            << "out=" << s.out << " in=" << s.in << " K=" << s.K << " at k=" << k << " j=" << j;
      }
    ASSERT_TRUE(Z.padding_intact()) << "out=" << s.out << " in=" << s.in << " K=" << s.K;
  }
}

TEST(Kernels, LinearBackwardWeightsMatchesPlainLoop) {
  std::mt19937 rng(4);
  for (const Shape& s : matrix_shapes()) {
    Buffer D(std::size_t(s.K) * s.out, 1, rng), A(std::size_t(s.K) * s.in, s.in % 3, rng);
    Buffer dW(std::size_t(s.out) * s.in, 3, rng), db(s.out, 2, rng), dW_plain = dW, db_plain = db;
    simd::linear_backward_weights(D.data(), A.data(), dW.data(), db.data(), s.out, s.in, s.K);
    plain::linear_backward_weights(D.data(), A.data(), dW_plain.data(), db_plain.data(), s.out, s.in, s.K);
    for (int j = 0; j < s.out; ++j) {
      double bias_bound = 0;
      for (int k = 0; k < s.K; ++k) bias_bound += std::fabs(D[k * s.out + j]);
      ASSERT_NEAR(db[j], db_plain[j], (s.K + 2) * kEps * bias_bound) << "db, K=" << s.K;
      for (int i = 0; i < s.in; ++i) {
        double bound = 0;
        for (int k = 0; k < s.K; ++k) bound += std::fabs(double{D[k * s.out + j]} * A[k * s.in + i]);
        ASSERT_NEAR(dW[i * s.out + j], dW_plain[i * s.out + j], (s.K + 2) * kEps * bound)
            << "out=" << s.out << " in=" << s.in << " K=" << s.K << " at j=" << j << " i=" << i;
      }
    }
    ASSERT_TRUE(dW.padding_intact() && db.padding_intact()) << "out=" << s.out << " in=" << s.in << " K=" << s.K;
  }
}

TEST(Kernels, LinearBackwardInputMatchesPlainLoop) {
  std::mt19937 rng(5);
  for (const Shape& s : matrix_shapes()) {
    Buffer W(std::size_t(s.out) * s.in, 2, rng), D(std::size_t(s.K) * s.out, 1, rng);
    Buffer G(std::size_t(s.K) * s.in, s.in % 4, rng), G_plain = G;
    simd::linear_backward_input(W.data(), D.data(), G.data(), s.out, s.in, s.K);
    plain::linear_backward_input(W.data(), D.data(), G_plain.data(), s.out, s.in, s.K);
    ASSERT_NO_FATAL_FAILURE(expect_backward_input_near(G, G_plain, D, W.data(), s));
  }
}

TEST(Kernels, SigmoidMatchesPlainLoopAndNeverOverflows) {
  std::mt19937 rng(6);
  for (int n : kLengths) {
    Buffer z(n, n % 4, rng), a(n, 1, rng), a_plain = a;
    for (int i = 0; i < n; ++i) z.data()[i] *= 30.0f;  // well into saturation both ways
    simd::sigmoid_forward(z.data(), a.data(), n);
    plain::sigmoid_forward(z.data(), a_plain.data(), n);
    for (int i = 0; i < n; ++i) ASSERT_NEAR(a[i], a_plain[i], 4 * kEps * a_plain[i]) << "z=" << z[i];
    ASSERT_TRUE(a.padding_intact());
  }
  const std::vector<float> extreme{-1e30f,
                                   -1000.0f,
                                   -88.0f,
                                   0.0f,
                                   88.0f,
                                   1000.0f,
                                   1e30f,
                                   -std::numeric_limits<float>::infinity(),
                                   std::numeric_limits<float>::infinity()};
  std::vector<float> out(extreme.size());
  simd::sigmoid_forward(extreme.data(), out.data(), extreme.size());
  for (std::size_t i = 0; i < extreme.size(); ++i) {
    EXPECT_TRUE(out[i] >= 0.0f && out[i] <= 1.0f) << "σ(" << extreme[i] << ") = " << out[i];
  }
  EXPECT_LT(out[0], 2e-38f);  // e^z is clamped at z = −87, where it is still a normal number
  EXPECT_EQ(out[3], 0.5f);
  EXPECT_EQ(out[6], 1.0f);
}

TEST(Kernels, TanhAndReluMatchPlainLoops) {
  std::mt19937 rng(9);
  for (int n : kLengths) {
    Buffer z(n, n % 4, rng), a(n, 1, rng), a_plain = a, r(n, 2, rng), r_plain = r;
    for (int i = 0; i < n; ++i) z.data()[i] *= 6.0f;
    simd::tanh_forward(z.data(), a.data(), n);
    plain::tanh_forward(z.data(), a_plain.data(), n);
    simd::relu_forward(z.data(), r.data(), n);
    plain::relu_forward(z.data(), r_plain.data(), n);
    for (int i = 0; i < n; ++i) {
      ASSERT_NEAR(a[i], a_plain[i], 4 * kEps * (std::fabs(a_plain[i]) + 1e-6f)) << "tanh(" << z[i] << ")";
      ASSERT_EQ(r[i], r_plain[i]) << "relu(" << z[i] << ")";
    }
    ASSERT_TRUE(a.padding_intact() && r.padding_intact());
  }
}

// Adam's constants for step t of a batch of K, as an engine computes them (test values: a
// large ε keeps m/(√v + ε) well conditioned, so float and double sums cannot differ in sign).
kernels::AdamStep adam_constants(int K, int t, float decay, bool decoupled) {
  const double lr = 0.01, b1 = 0.9, b2 = 0.999;
  kernels::AdamStep c;
  c.inv_batch = 1.0f / static_cast<float>(K);
  c.beta1 = static_cast<float>(b1);
  c.one_minus_beta1 = static_cast<float>(1 - b1);
  c.beta2 = static_cast<float>(b2);
  c.one_minus_beta2 = static_cast<float>(1 - b2);
  c.step_size = static_cast<float>(lr / (1 - std::pow(b1, t)));
  c.root_bc2 = static_cast<float>(std::sqrt(1 - std::pow(b2, t)));
  c.eps = 1e-3f;
  c.decay = decoupled ? 0.0f : decay;
  c.shrink = decoupled ? static_cast<float>(1 - lr * decay) : 1.0f;
  return c;
}

TEST(Kernels, SgdMomentumRankKStepMatchesPlainLoop) {
  std::mt19937 rng(10);
  for (const Shape& s : matrix_shapes()) {
    Buffer D(std::size_t(s.K) * s.out, 2, rng), A(std::size_t(s.K) * s.in, s.in % 3, rng);
    Buffer W(std::size_t(s.out) * s.in, 1, rng), b(s.out, 3, rng), V(std::size_t(s.out) * s.in, 2, rng),
        Vb(s.out, 1, rng);
    Buffer W_plain = W, b_plain = b, V_plain = V, Vb_plain = Vb;
    const float inv = 1.0f / s.K, lr = 0.3f, mu = 0.9f;
    simd::sgd_momentum_rank_k_step(D.data(), A.data(), W.data(), b.data(), V.data(), Vb.data(), s.out, s.in, s.K, inv,
                                   lr, mu, 0.0f, 0, s.out);
    plain::sgd_momentum_rank_k_step(D.data(), A.data(), W_plain.data(), b_plain.data(), V_plain.data(), Vb_plain.data(),
                                    s.out, s.in, s.K, inv, lr, mu, 0.0f, 0, s.out);
    for (int j = 0; j < s.out; ++j)
      for (int i = 0; i < s.in; ++i) {
        double g = 0;
        for (int k = 0; k < s.K; ++k) g += std::fabs(double{D[k * s.out + j]} * A[k * s.in + i]);
        const std::size_t at = std::size_t(i) * s.out + j;
        const double v_bound = mu * std::fabs(V_plain[at]) + inv * g + 1e-30;
        ASSERT_NEAR(V[at], V_plain[at], (s.K + 4) * kEps * v_bound) << "V, K=" << s.K;
        ASSERT_NEAR(W[at], W_plain[at], (s.K + 4) * kEps * (std::fabs(W_plain[at]) + lr * v_bound))
            << "W, out=" << s.out << " in=" << s.in << " K=" << s.K;
      }
    for (int j = 0; j < s.out; ++j) ASSERT_NEAR(b[j], b_plain[j], 1e-5 * (std::fabs(b_plain[j]) + 1));
    ASSERT_TRUE(W.padding_intact() && b.padding_intact() && V.padding_intact() && Vb.padding_intact());
  }
}

TEST(Kernels, SgdRankKStepMatchesPlainLoop) {
  std::mt19937 rng(7);
  for (const Shape& s : matrix_shapes()) {
    Buffer D(std::size_t(s.K) * s.out, 2, rng), A(std::size_t(s.K) * s.in, s.in % 3, rng);
    Buffer W(std::size_t(s.out) * s.in, 1, rng), b(s.out, 3, rng), W_plain = W, b_plain = b;
    const float scale = 0.3f;
    simd::sgd_rank_k_step(D.data(), A.data(), W.data(), b.data(), s.out, s.in, s.K, scale, 0, s.out);
    plain::sgd_rank_k_step(D.data(), A.data(), W_plain.data(), b_plain.data(), s.out, s.in, s.K, scale, 0, s.out);
    for (int j = 0; j < s.out; ++j) {
      double bias_bound = std::fabs(b_plain[j]);
      for (int k = 0; k < s.K; ++k) bias_bound += scale * std::fabs(D[k * s.out + j]);
      ASSERT_NEAR(b[j], b_plain[j], (s.K + 3) * kEps * bias_bound);
      for (int i = 0; i < s.in; ++i) {
        double bound = std::fabs(W_plain[i * s.out + j]);
        for (int k = 0; k < s.K; ++k) bound += scale * std::fabs(double{D[k * s.out + j]} * A[k * s.in + i]);
        ASSERT_NEAR(W[i * s.out + j], W_plain[i * s.out + j], (s.K + 3) * kEps * bound)
            << "out=" << s.out << " in=" << s.in << " K=" << s.K << " at j=" << j << " i=" << i;
      }
    }
    ASSERT_TRUE(W.padding_intact() && b.padding_intact()) << "out=" << s.out << " in=" << s.in << " K=" << s.K;
  }
}

// K images of `in` bytes, each in an allocation of its own (as a batch's images lie scattered
// in a data set), the 256-entry table a pixel byte is read through, and the rows a conversion
// pass would have made of them.
struct Images {
  std::vector<std::vector<std::uint8_t>> bytes;
  std::vector<const std::uint8_t*> rows;
  std::vector<float> to_float, converted;
  float scale;
  Images(int in, int K, float scale, std::mt19937& rng) : bytes(K), rows(K), to_float(256), scale(scale) {
    for (int v = 0; v < 256; ++v) to_float[v] = static_cast<float>(v) * scale;
    for (int k = 0; k < K; ++k) {
      for (int i = 0; i < in; ++i) bytes[k].push_back(static_cast<std::uint8_t>(rng()));
      rows[k] = bytes[k].data();
      for (std::uint8_t b : bytes[k]) converted.push_back(to_float[b]);
    }
  }
};

TEST(Kernels, PixelAndRowKernelsAreTheFloatKernelsOnConvertedRowsBitwise) {
  std::mt19937 rng(17);
  for (const Shape& s : matrix_shapes())
    for (float scale : {1.0f / 255.0f, 1.0f}) {  // the default inputs, and the blog preset's raw bytes
      const Images px(s.in, s.K, scale, rng);
      const float* A = px.converted.data();
      const int cut = s.out / 3;  // the pixel kernels in two column pieces, the float ones whole
      Buffer W(std::size_t(s.out) * s.in, 1, rng), b(s.out, 0, rng), Z(std::size_t(s.K) * s.out, 0, rng), Z_px = Z;
      simd::linear_forward(W.data(), b.data(), A, Z.data(), s.out, s.in, s.K, 0, s.out);
      for (auto [j0, j1] : {std::pair{0, cut}, {cut, s.out}})
        simd::linear_forward_pixels(W.data(), b.data(), px.rows.data(), px.to_float.data(), Z_px.data(), s.out, s.in,
                                    s.K, j0, j1);
      ASSERT_EQ(Z.values(), Z_px.values()) << "forward, out=" << s.out << " in=" << s.in << " K=" << s.K;
      ASSERT_TRUE(Z_px.padding_intact());
      // The same rows as floats where they lie, each in an allocation of its own.
      std::vector<std::vector<float>> own(s.K);
      std::vector<const float*> rows(s.K);
      for (int k = 0; k < s.K; ++k) {
        own[k].assign(A + std::size_t(k) * s.in, A + std::size_t(k + 1) * s.in);
        rows[k] = own[k].data();
      }
      Buffer Z_rows = Z_px;
      simd::linear_forward_rows(W.data(), b.data(), rows.data(), Z_rows.data(), s.out, s.in, s.K, 0, s.out);
      ASSERT_EQ(Z.values(), Z_rows.values()) << "forward from rows";

      Buffer D(std::size_t(s.K) * s.out, 2, rng), V(std::size_t(s.out) * s.in, 0, rng), Vb(s.out, 1, rng);
      Buffer W_px = W, b_px = b, V_px = V, Vb_px = Vb, W_rows = W, b_rows = b, V_rows = V, Vb_rows = Vb;
      simd::sgd_rank_k_step(D.data(), A, W.data(), b.data(), s.out, s.in, s.K, 0.3f, 0, s.out);
      simd::sgd_rank_k_step_rows(D.data(), rows.data(), W_rows.data(), b_rows.data(), s.out, s.in, s.K, 0.3f, 0, s.out);
      ASSERT_EQ(W.values(), W_rows.values()) << "sgd from rows";
      for (auto [j0, j1] : {std::pair{0, cut}, {cut, s.out}})
        simd::sgd_rank_k_step_pixels(D.data(), px.rows.data(), px.scale, W_px.data(), b_px.data(), s.out, s.in, s.K,
                                     0.3f, j0, j1);
      ASSERT_EQ(W.values(), W_px.values()) << "sgd, out=" << s.out << " in=" << s.in << " K=" << s.K;
      ASSERT_EQ(b.values(), b_px.values());
      simd::sgd_momentum_rank_k_step(D.data(), A, W.data(), b.data(), V.data(), Vb.data(), s.out, s.in, s.K, 0.25f,
                                     0.3f, 0.9f, 0.01f, 0, s.out);
      simd::sgd_momentum_rank_k_step_pixels(D.data(), px.rows.data(), px.scale, W_px.data(), b_px.data(), V_px.data(),
                                            Vb_px.data(), s.out, s.in, s.K, 0.25f, 0.3f, 0.9f, 0.01f, 0, s.out);
      ASSERT_EQ(W.values(), W_px.values()) << "momentum, out=" << s.out << " in=" << s.in << " K=" << s.K;
      ASSERT_EQ(V.values(), V_px.values());
      simd::sgd_momentum_rank_k_step_rows(D.data(), rows.data(), W_rows.data(), b_rows.data(), V_rows.data(),
                                          Vb_rows.data(), s.out, s.in, s.K, 0.25f, 0.3f, 0.9f, 0.01f, 0, s.out);
      ASSERT_EQ(W.values(), W_rows.values()) << "momentum from rows";
      ASSERT_EQ(V.values(), V_rows.values());
      // Adam's moments: the second moment starts from squares, as it must be non-negative.
      Buffer M = V, M_px = V, M_rows = V, Mb = Vb, Mb_px = Vb, Mb_rows = Vb;
      Buffer S = V, Sb = Vb;
      S.square();
      Sb.square();
      Buffer S_px = S, S_rows = S, Sb_px = Sb, Sb_rows = Sb;
      const kernels::AdamStep c = adam_constants(s.K, 3, 0.01f, true);
      simd::adam_rank_k_step(D.data(), A, W.data(), b.data(), M.data(), Mb.data(), S.data(), Sb.data(), s.out, s.in,
                             s.K, c, 0, s.out);
      for (auto [j0, j1] : {std::pair{0, cut}, {cut, s.out}})
        simd::adam_rank_k_step_pixels(D.data(), px.rows.data(), px.scale, W_px.data(), b_px.data(), M_px.data(),
                                      Mb_px.data(), S_px.data(), Sb_px.data(), s.out, s.in, s.K, c, j0, j1);
      simd::adam_rank_k_step_rows(D.data(), rows.data(), W_rows.data(), b_rows.data(), M_rows.data(), Mb_rows.data(),
                                  S_rows.data(), Sb_rows.data(), s.out, s.in, s.K, c, 0, s.out);
      ASSERT_EQ(W.values(), W_px.values()) << "adam, out=" << s.out << " in=" << s.in << " K=" << s.K;
      ASSERT_EQ(S.values(), S_px.values());
      ASSERT_EQ(b.values(), b_px.values());
      ASSERT_EQ(W.values(), W_rows.values()) << "adam from rows";
      ASSERT_EQ(M.values(), M_rows.values());
      ASSERT_TRUE(W_px.padding_intact() && b_px.padding_intact() && V_px.padding_intact() && Vb_px.padding_intact());
    }
}

// Weight decay in the momentum pass, and Adam and AdamW, against the plain loops in double.
TEST(Kernels, DecayAndAdamRankKStepsMatchPlainLoops) {
  std::mt19937 rng(19);
  for (const Shape& s : matrix_shapes())
    for (int variant = 0; variant < 3; ++variant) {  // sgd with decay, adam with L2, adamw
      Buffer D(std::size_t(s.K) * s.out, 2, rng), A(std::size_t(s.K) * s.in, s.in % 3, rng);
      Buffer W(std::size_t(s.out) * s.in, 1, rng), b(s.out, 3, rng), M(std::size_t(s.out) * s.in, 2, rng),
          Mb(s.out, 1, rng), V = M, Vb = Mb;
      V.square();
      Vb.square();
      Buffer W_plain = W, b_plain = b, M_plain = M, Mb_plain = Mb, V_plain = V, Vb_plain = Vb;
      const kernels::AdamStep c = adam_constants(s.K, 2, 0.05f, variant == 2);
      if (variant == 0) {
        simd::sgd_momentum_rank_k_step(D.data(), A.data(), W.data(), b.data(), M.data(), Mb.data(), s.out, s.in, s.K,
                                       c.inv_batch, 0.3f, 0.5f, 0.05f, 0, s.out);
        plain::sgd_momentum_rank_k_step(D.data(), A.data(), W_plain.data(), b_plain.data(), M_plain.data(),
                                        Mb_plain.data(), s.out, s.in, s.K, c.inv_batch, 0.3f, 0.5f, 0.05f, 0, s.out);
      } else {
        simd::adam_rank_k_step(D.data(), A.data(), W.data(), b.data(), M.data(), Mb.data(), V.data(), Vb.data(), s.out,
                               s.in, s.K, c, 0, s.out);
        plain::adam_rank_k_step(D.data(), A.data(), W_plain.data(), b_plain.data(), M_plain.data(), Mb_plain.data(),
                                V_plain.data(), Vb_plain.data(), s.out, s.in, s.K, c, 0, s.out);
      }
      // Each result a few roundings of sums of K products away: bounded by the terms' sizes.
      const double tol = (s.K + 16) * kEps;
      for (std::size_t i = 0; i < W.size(); ++i) {
        ASSERT_NEAR(M[i], M_plain[i], tol * (std::fabs(M_plain[i]) + 1)) << "variant " << variant << " K=" << s.K;
        ASSERT_NEAR(W[i], W_plain[i], tol * (std::fabs(W_plain[i]) + 1)) << "variant " << variant << " K=" << s.K;
        if (variant != 0) {
          ASSERT_NEAR(V[i], V_plain[i], tol * (std::fabs(V_plain[i]) + 1));
        }
      }
      for (int j = 0; j < s.out; ++j) ASSERT_NEAR(b[j], b_plain[j], tol * (std::fabs(b_plain[j]) + 1));
      ASSERT_TRUE(W.padding_intact() && M.padding_intact() && V.padding_intact() && Vb.padding_intact());
    }
}

// One element by hand: PyTorch's Adam formula written out, against both twins.
TEST(Kernels, AdamStepOnOneElementIsPyTorchsFormula) {
  const kernels::AdamStep c = adam_constants(4, 3, 0, false);
  const float g_sum = 0.8f, w0 = 0.5f, m0 = 0.02f, v0 = 0.0004f;
  const double g = 0.8 / 4, m = 0.9 * 0.02 + 0.1 * g, v = 0.999 * 0.0004 + 0.001 * g * g;
  const double want =
      0.5 - 0.01 / (1 - std::pow(0.9, 3)) * m / (std::sqrt(v) / std::sqrt(1 - std::pow(0.999, 3)) + 1e-3);
  for (auto step : {&simd::adam_step, &plain::adam_step}) {
    float w = w0, mm = m0, vv = v0;
    step(&g_sum, &w, &mm, &vv, 1, c);
    EXPECT_NEAR(mm, m, 1e-8);
    EXPECT_NEAR(vv, v, 1e-9);
    EXPECT_NEAR(w, want, 2e-7);
  }
}

TEST(Kernels, PlainPixelAndRowTwinsReadTheirRows) {
  std::mt19937 rng(18);
  const int out = 17, in = 31, K = 5;
  const Images px(in, K, 1.0f / 255.0f, rng);
  Buffer W(std::size_t(out) * in, 0, rng), b(out, 0, rng), Z(std::size_t(K) * out, 0, rng), Z_plain = Z;
  plain::linear_forward_pixels(W.data(), b.data(), px.rows.data(), px.to_float.data(), Z_plain.data(), out, in, K, 0,
                               out);
  for (int k = 0; k < K; ++k)  // by hand: b[j] + Σ_i W[i][j]·byte/255, in double
    for (int j = 0; j < out; ++j) {
      double z = b[j], bound = std::fabs(b[j]);
      for (int i = 0; i < in; ++i) {
        z += double{W[i * out + j]} * px.bytes[k][i] / 255.0;
        bound += std::fabs(double{W[i * out + j]} * px.bytes[k][i] / 255.0);
      }
      ASSERT_NEAR(Z_plain[k * out + j], z, (in + 3) * kEps * bound);
    }
  Buffer D(std::size_t(K) * out, 1, rng), b2(out, 0, rng), W_plain = W, b_plain = b2;
  plain::sgd_rank_k_step_pixels(D.data(), px.rows.data(), px.scale, W_plain.data(), b_plain.data(), out, in, K, 0.5f, 0,
                                out);
  plain::sgd_rank_k_step(D.data(), px.converted.data(), W.data(), b2.data(), out, in, K, 0.5f, 0, out);
  EXPECT_EQ(W.values(), W_plain.values());
  std::vector<const float*> rows(K);  // the plain row twins gather the rows
  for (int k = 0; k < K; ++k) rows[k] = px.converted.data() + std::size_t(k) * in;
  Buffer Z_rows = Z_plain;
  plain::linear_forward_rows(W.data(), b.data(), rows.data(), Z_rows.data(), out, in, K, 0, out);
  Buffer Z_whole = Z_plain;
  plain::linear_forward(W.data(), b.data(), px.converted.data(), Z_whole.data(), out, in, K, 0, out);
  EXPECT_EQ(Z_rows.values(), Z_whole.values());
}

// A narrow block (an owner of at most 8 columns) kept output-major, with the batch or the
// inputs in the lanes: every result bitwise the input-major kernels' on the same block, for
// block widths with and without whole vectors of examples or inputs left over.
struct NarrowCase {
  int out, in, K;
  std::size_t stride;  // the transposed batch's row stride: a larger batch's, as in the engine
  Images px;
  std::vector<float> xt;         // the converted rows transposed, in rows `stride` apart
  std::vector<std::uint8_t> bt;  // the bytes transposed likewise
  std::vector<const float*> rows;
  Buffer Wt, W, b, D;  // Wt input-major [in][out]; W the same weights output-major
  NarrowCase(int o, int i, int k, std::mt19937& rng)
      : out(o),
        in(i),
        K(k),
        stride(std::size_t(k) + 5),
        px(i, k, 1.0f / 255.0f, rng),
        xt(i * stride, kNaN),
        bt(i * stride, 0xEE),
        rows(k),
        Wt(std::size_t(i) * o, 0, rng),
        W(Wt.size(), 1, rng),
        b(o, 2, rng),
        D(std::size_t(k) * o, 3, rng) {
    for (int e = 0; e < K; ++e) {
      rows[e] = px.converted.data() + std::size_t(e) * in;
      for (int x = 0; x < in; ++x) {
        xt[x * stride + e] = px.converted[std::size_t(e) * in + x];
        bt[x * stride + e] = px.bytes[e][x];
      }
    }
    for (int x = 0; x < in; ++x)
      for (int j = 0; j < out; ++j) W.data()[std::size_t(j) * in + x] = Wt[std::size_t(x) * out + j];
  }
  // An input-major buffer as the output-major values it stands for.
  std::vector<float> output_major(const Buffer& t) const {
    std::vector<float> m(t.size());
    for (int x = 0; x < in; ++x)
      for (int j = 0; j < out; ++j) m[std::size_t(j) * in + x] = t[std::size_t(x) * out + j];
    return m;
  }
};

std::vector<Shape> narrow_shapes() {
  std::vector<Shape> shapes;
  for (int out : {1, 3, 6, 8})
    for (int in : {1, 7, 16, 37, 784})
      for (int K : {1, 5, 16, 31, 40, 50, 128}) shapes.push_back({out, in, K});
  return shapes;
}

// The batch's bytes transposed in registers, against the byte-by-byte definition, for row runs
// and column runs with and without whole 16 × 16 blocks, into a wider matrix (nothing else
// written).
TEST(Kernels, ByteTransposeIsTheDefinition) {
  std::mt19937 rng(25);
  for (int rows : {1, 15, 16, 33, 128})
    for (int cols : {1, 16, 37, 784})
      for (int first : {0, 5})
        for (int first_col : {0, 3, 16}) {
          if (first_col >= cols) continue;
          std::vector<std::vector<std::uint8_t>> images(first + rows);
          for (auto& im : images)
            for (int c = 0; c < cols; ++c) im.push_back(static_cast<std::uint8_t>(rng()));
          const std::size_t stride = first + rows + 3;
          std::vector<std::uint8_t> got(stride * cols + 1, 0xA5), want = got;
          transpose_byte_rows([&](int r) { return images[r].data(); }, first, first + rows, first_col, cols, got.data(),
                              stride);
          for (int c = first_col; c < cols; ++c)
            for (int r = first; r < first + rows; ++r) want[c * stride + r] = images[r][c];
          ASSERT_EQ(got, want) << rows << " rows from " << first << " × columns " << first_col << " to " << cols;
        }
}

// Floats transposed 8 × 8 in registers, against the element-by-element definition, for shapes
// with and without whole blocks, wide and tall (each walks its own way), into exactly its size.
TEST(Kernels, FloatTransposeIsTheDefinition) {
  std::mt19937 rng(26);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  for (int rows : {1, 7, 8, 9, 16, 37, 128, 1024})
    for (int cols : {1, 8, 13, 24, 112, 1029}) {
      std::vector<float> src(std::size_t(rows) * cols);
      for (float& x : src) x = value(rng);
      std::vector<float> got(src.size() + 1, -2.0f), want = got;
      transpose(src.data(), rows, cols, got.data());
      for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) want[std::size_t(c) * rows + r] = src[std::size_t(r) * cols + c];
      ASSERT_EQ(got, want) << rows << " × " << cols;
    }
}

TEST(Kernels, NarrowForwardIsTheInputMajorForwardBitwise) {
  std::mt19937 rng(23);
  for (const Shape& s : narrow_shapes()) {
    const NarrowCase c(s.out, s.in, s.K, rng);
    Buffer Z(std::size_t(s.K) * s.out, 0, rng), Zt_px(Z.size(), 1, rng), Zt_rows(Z.size(), 2, rng);
    simd::linear_forward_pixels(c.Wt.data(), c.b.data(), c.px.rows.data(), c.px.to_float.data(), Z.data(), s.out, s.in,
                                s.K, 0, s.out);
    simd::narrow_forward_pixels(c.W.data(), c.b.data(), c.bt.data(), c.stride, 1.0f / 255.0f, Zt_px.data(), s.out, s.in,
                                s.K);
    simd::narrow_forward(c.W.data(), c.b.data(), c.xt.data(), c.stride, Zt_rows.data(), s.out, s.in, s.K);
    for (int k = 0; k < s.K; ++k)
      for (int j = 0; j < s.out; ++j) {
        ASSERT_EQ(Zt_px[std::size_t(j) * s.K + k], Z[std::size_t(k) * s.out + j])
            << "bytes, out=" << s.out << " in=" << s.in << " K=" << s.K;
        ASSERT_EQ(Zt_rows[std::size_t(j) * s.K + k], Z[std::size_t(k) * s.out + j]) << "floats";
      }
    ASSERT_TRUE(Zt_px.padding_intact() && Zt_rows.padding_intact());
    Buffer Zt_plain = Zt_px;  // and the plain twin, within the rounding bound of its terms
    plain::narrow_forward_pixels(c.W.data(), c.b.data(), c.bt.data(), c.stride, 1.0f / 255.0f, Zt_plain.data(), s.out,
                                 s.in, s.K);
    for (int j = 0; j < s.out; ++j)
      for (int k = 0; k < s.K; ++k) {
        double bound = std::fabs(c.b[j]);
        for (int x = 0; x < s.in; ++x)
          bound += std::fabs(double{c.W[std::size_t(j) * s.in + x]} * c.xt[x * c.stride + k]);
        ASSERT_NEAR(Zt_px[std::size_t(j) * s.K + k], Zt_plain[std::size_t(j) * s.K + k], (s.in + 2) * kEps * bound);
      }
  }
}

TEST(Kernels, NarrowUpdatesAreTheInputMajorUpdatesBitwise) {
  std::mt19937 rng(24);
  const float to_float_scale = 1.0f / 255.0f;
  for (const Shape& s : narrow_shapes()) {
    if (s.K == 128 && s.in == 784 && s.out != 8) continue;  // the largest only once
    const NarrowCase c(s.out, s.in, s.K, rng);
    const std::size_t n = c.W.size();
    for (int rule = 0; rule < 3; ++rule)  // sgd, momentum with decay, adam
      for (bool pixels : {true, false}) {
        Buffer Wt = c.Wt, bt_ = c.b, W = c.W, bn = c.b, W_plain = c.W, b_plain = c.b;
        Buffer Mt(n, 0, rng), Vt(n, 1, rng), Mb(s.out, 2, rng), Vb(s.out, 3, rng);
        Vt.square();
        Vb.square();
        Buffer M(n, 0, rng), V(n, 1, rng), Mbn = Mb, Vbn = Vb;  // the same moments output-major
        for (int x = 0; x < s.in; ++x)
          for (int j = 0; j < s.out; ++j) {
            M.data()[std::size_t(j) * s.in + x] = Mt[std::size_t(x) * s.out + j];
            V.data()[std::size_t(j) * s.in + x] = Vt[std::size_t(x) * s.out + j];
          }
        Buffer M_plain = M, V_plain = V, Mb_plain = Mb, Vb_plain = Vb;
        const kernels::AdamStep ac = adam_constants(s.K, 2, 0.01f, false);
        const auto* im = c.px.rows.data();
        const float* const* fr = c.rows.data();
        const float *dz = c.D.data(), inv = 1.0f / s.K;
        if (rule == 0) {
          pixels ? simd::sgd_rank_k_step_pixels(dz, im, to_float_scale, Wt.data(), bt_.data(), s.out, s.in, s.K, 0.3f,
                                                0, s.out)
                 : simd::sgd_rank_k_step_rows(dz, fr, Wt.data(), bt_.data(), s.out, s.in, s.K, 0.3f, 0, s.out);
          pixels ? simd::narrow_sgd_step_pixels(dz, im, to_float_scale, W.data(), bn.data(), s.out, s.in, s.K, 0.3f)
                 : simd::narrow_sgd_step_rows(dz, fr, W.data(), bn.data(), s.out, s.in, s.K, 0.3f);
          pixels ? plain::narrow_sgd_step_pixels(dz, im, to_float_scale, W_plain.data(), b_plain.data(), s.out, s.in,
                                                 s.K, 0.3f)
                 : plain::narrow_sgd_step_rows(dz, fr, W_plain.data(), b_plain.data(), s.out, s.in, s.K, 0.3f);
        } else if (rule == 1) {
          pixels ? simd::sgd_momentum_rank_k_step_pixels(dz, im, to_float_scale, Wt.data(), bt_.data(), Mt.data(),
                                                         Mb.data(), s.out, s.in, s.K, inv, 0.3f, 0.9f, 0.01f, 0, s.out)
                 : simd::sgd_momentum_rank_k_step_rows(dz, fr, Wt.data(), bt_.data(), Mt.data(), Mb.data(), s.out, s.in,
                                                       s.K, inv, 0.3f, 0.9f, 0.01f, 0, s.out);
          pixels ? simd::narrow_momentum_step_pixels(dz, im, to_float_scale, W.data(), bn.data(), M.data(), Mbn.data(),
                                                     s.out, s.in, s.K, inv, 0.3f, 0.9f, 0.01f)
                 : simd::narrow_momentum_step_rows(dz, fr, W.data(), bn.data(), M.data(), Mbn.data(), s.out, s.in, s.K,
                                                   inv, 0.3f, 0.9f, 0.01f);
          pixels ? plain::narrow_momentum_step_pixels(dz, im, to_float_scale, W_plain.data(), b_plain.data(),
                                                      M_plain.data(), Mb_plain.data(), s.out, s.in, s.K, inv, 0.3f,
                                                      0.9f, 0.01f)
                 : plain::narrow_momentum_step_rows(dz, fr, W_plain.data(), b_plain.data(), M_plain.data(),
                                                    Mb_plain.data(), s.out, s.in, s.K, inv, 0.3f, 0.9f, 0.01f);
        } else {
          pixels ? simd::adam_rank_k_step_pixels(dz, im, to_float_scale, Wt.data(), bt_.data(), Mt.data(), Mb.data(),
                                                 Vt.data(), Vb.data(), s.out, s.in, s.K, ac, 0, s.out)
                 : simd::adam_rank_k_step_rows(dz, fr, Wt.data(), bt_.data(), Mt.data(), Mb.data(), Vt.data(),
                                               Vb.data(), s.out, s.in, s.K, ac, 0, s.out);
          pixels ? simd::narrow_adam_step_pixels(dz, im, to_float_scale, W.data(), bn.data(), M.data(), Mbn.data(),
                                                 V.data(), Vbn.data(), s.out, s.in, s.K, ac)
                 : simd::narrow_adam_step_rows(dz, fr, W.data(), bn.data(), M.data(), Mbn.data(), V.data(), Vbn.data(),
                                               s.out, s.in, s.K, ac);
          pixels
              ? plain::narrow_adam_step_pixels(dz, im, to_float_scale, W_plain.data(), b_plain.data(), M_plain.data(),
                                               Mb_plain.data(), V_plain.data(), Vb_plain.data(), s.out, s.in, s.K, ac)
              : plain::narrow_adam_step_rows(dz, fr, W_plain.data(), b_plain.data(), M_plain.data(), Mb_plain.data(),
                                             V_plain.data(), Vb_plain.data(), s.out, s.in, s.K, ac);
        }
        const std::string what = "rule " + std::to_string(rule) + (pixels ? " bytes" : " floats") +
                                 ", out=" + std::to_string(s.out) + " in=" + std::to_string(s.in) +
                                 " K=" + std::to_string(s.K);
        ASSERT_EQ(W.values(), c.output_major(Wt)) << what;
        ASSERT_EQ(bn.values(), bt_.values()) << what;
        if (rule > 0) {
          ASSERT_EQ(M.values(), c.output_major(Mt)) << what;
        }
        if (rule == 2) {
          ASSERT_EQ(V.values(), c.output_major(Vt)) << what;
        }
        ASSERT_TRUE(W.padding_intact() && bn.padding_intact() && M.padding_intact() && V.padding_intact()) << what;
        const double tol = (s.K + 16) * kEps;  // the plain twin: a few roundings of K-term sums away
        for (std::size_t e = 0; e < n; ++e) ASSERT_NEAR(W[e], W_plain[e], tol * (std::fabs(W_plain[e]) + 1)) << what;
        for (int j = 0; j < s.out; ++j) ASSERT_NEAR(bn[j], b_plain[j], tol * (std::fabs(b_plain[j]) + 1)) << what;
      }
  }
}

TEST(Kernels, SgdRankKStepIsTheSameWhateverTheSplitOfTheColumns) {
  // The engine gives each thread a block of the first layer's output columns; every weight must
  // come out bitwise the same for any split, and equal to the unfused gradient followed by
  // w − scale·g.
  std::mt19937 rng(8);
  const int out = 43, in = 37, K = 9;
  const float scale = 0.1f;
  Buffer D(std::size_t(K) * out, 0, rng), A(std::size_t(K) * in, 1, rng);
  Buffer W(std::size_t(in) * out, 0, rng), b(out, 0, rng), W_pieces = W, b_pieces = b, W_unfused = W, b_unfused = b;
  simd::sgd_rank_k_step(D.data(), A.data(), W.data(), b.data(), out, in, K, scale, 0, out);
  const std::vector<int> cuts{0, 5, 8, 13, 24, 40, out};
  for (std::size_t c = 0; c + 1 < cuts.size(); ++c)
    simd::sgd_rank_k_step(D.data(), A.data(), W_pieces.data(), b_pieces.data(), out, in, K, scale, cuts[c],
                          cuts[c + 1]);
  // Unfused: the gradient, then w + (−scale)·g elementwise. Every element takes one FMA of
  // the same operands whichever path and lane it falls in.
  std::vector<float> dW(std::size_t(in) * out), db(out);
  simd::linear_backward_weights(D.data(), A.data(), dW.data(), db.data(), out, in, K);
  for (std::size_t e = 0; e < dW.size(); ++e) W_unfused.data()[e] = std::fma(-scale, dW[e], W_unfused[e]);
  for (int j = 0; j < out; ++j) b_unfused.data()[j] = std::fma(-scale, db[j], b_unfused[j]);
  EXPECT_EQ(W.values(), W_pieces.values());
  EXPECT_EQ(b.values(), b_pieces.values());
  EXPECT_EQ(W.values(), W_unfused.values());
  EXPECT_EQ(b.values(), b_unfused.values());
}

TEST(Kernels, LinearForwardIsTheSameWhateverTheSplitOfTheColumns) {
  std::mt19937 rng(15);
  const int out = 43, in = 37, K = 11;
  Buffer W(std::size_t(in) * out, 0, rng), b(out, 1, rng), A(std::size_t(K) * in, 2, rng);
  Buffer Z(std::size_t(K) * out, 0, rng), Z_pieces = Z;
  simd::linear_forward(W.data(), b.data(), A.data(), Z.data(), out, in, K, 0, out);
  for (auto [j0, j1] : {std::pair{0, 8}, {8, 9}, {9, 25}, {25, 43}})
    simd::linear_forward(W.data(), b.data(), A.data(), Z_pieces.data(), out, in, K, j0, j1);
  EXPECT_EQ(Z.values(), Z_pieces.values());
  // Column j of example k is the chain b[j], then fma over the inputs in order.
  for (int k : {0, 5, 10})
    for (int j : {0, 7, 16, 42}) {
      float s = b[j];
      for (int i = 0; i < in; ++i) s = std::fma(A[k * in + i], W[i * out + j], s);
      EXPECT_EQ(Z[k * out + j], s) << "k=" << k << " j=" << j;
    }
}

// Layers of 512·n outputs over more than 512 inputs sum in blocks of inputs, each output's partial
// sum kept in Z between blocks (kernels_simd.cpp): still the one chain from the bias over the
// inputs in order, from floats, rows and bytes alike, whatever the split of the columns.
TEST(Kernels, ForwardSumsInBlocksOfInputsAreTheSameChains) {
  std::mt19937 rng(19);
  for (int out : {512, 1024})
    for (int in : {600, 1030})
      for (int K : {8, 11}) {
        const Images px(in, K, 1.0f / 255.0f, rng);
        const float* A = px.converted.data();
        std::vector<const float*> rows(K);
        for (int k = 0; k < K; ++k) rows[k] = A + std::size_t(k) * in;
        Buffer W(std::size_t(in) * out, 0, rng), b(out, 1, rng), Z(std::size_t(K) * out, 0, rng);
        Buffer Z_px = Z, Z_rows = Z;
        simd::linear_forward(W.data(), b.data(), A, Z.data(), out, in, K, 0, out);
        for (auto [j0, j1] : {std::pair{0, 200}, {200, 203}, {203, out}})
          simd::linear_forward_pixels(W.data(), b.data(), px.rows.data(), px.to_float.data(), Z_px.data(), out, in, K,
                                      j0, j1);
        simd::linear_forward_rows(W.data(), b.data(), rows.data(), Z_rows.data(), out, in, K, 0, out);
        ASSERT_EQ(Z.values(), Z_px.values()) << "out=" << out << " in=" << in << " K=" << K;
        ASSERT_EQ(Z.values(), Z_rows.values()) << "out=" << out << " in=" << in << " K=" << K;
        for (int k : {0, K - 1})
          for (int j : {0, 191, 192, 201, out - 1}) {
            float z = b[j];
            for (int i = 0; i < in; ++i) z = std::fma(A[k * in + i], W[i * out + j], z);
            ASSERT_EQ(Z[k * out + j], z) << "out=" << out << " in=" << in << " K=" << K << " k=" << k << " j=" << j;
          }
        ASSERT_TRUE(Z_px.padding_intact());
      }
}

TEST(Kernels, BackwardInputFromWtIsTheSameChainAsFromW) {
  std::mt19937 rng(17);
  for (const Shape& s : matrix_shapes()) {
    Buffer Wt(std::size_t(s.out) * s.in, 0, rng), D(std::size_t(s.K) * s.out, 1, rng);
    std::vector<float> W(std::size_t(s.out) * s.in);
    for (int i = 0; i < s.in; ++i)
      for (int j = 0; j < s.out; ++j) W[j * s.in + i] = Wt[i * s.out + j];
    Buffer G(std::size_t(s.K) * s.in, s.in % 4, rng), G_from_w = G, G_plain = G;
    simd::linear_backward_input_from_wt(Wt.data(), D.data(), G.data(), s.out, s.in, s.K);
    simd::linear_backward_input(W.data(), D.data(), G_from_w.data(), s.out, s.in, s.K);
    plain::linear_backward_input_from_wt(Wt.data(), D.data(), G_plain.data(), s.out, s.in, s.K);
    ASSERT_EQ(G.values(), G_from_w.values()) << "out=" << s.out << " in=" << s.in << " K=" << s.K;
    ASSERT_NO_FATAL_FAILURE(expect_backward_input_near(G, G_plain, D, W.data(), s));
  }
}

// Rows in eights take 8-row tiles, strides of 128 floats a copy of the operand, 8 columns past
// one to three whole AVX-512 vectors ride along their tile as a half vector (kernels_simd.cpp):
// every element is still the one chain of FMAs in input (or example) order, every bias's
// gradient the one chain of adds.
TEST(Kernels, EveryTileShapeAndStrideGivesTheSameChains) {
  std::mt19937 rng(16);
  for (int out : {24, 40, 43, 56, 120, 128})
    for (int in : {37, 256})
      for (int K : {8, 11, 16}) {
        Buffer W(std::size_t(in) * out, 0, rng), b(out, 1, rng), A(std::size_t(K) * in, 2, rng);
        Buffer D(std::size_t(K) * out, 0, rng), Z(std::size_t(K) * out, 0, rng);
        Buffer dW(std::size_t(in) * out, 0, rng), db(out, 0, rng);
        simd::linear_forward(W.data(), b.data(), A.data(), Z.data(), out, in, K, 0, out);
        simd::linear_backward_weights(D.data(), A.data(), dW.data(), db.data(), out, in, K);
        for (int k : {0, K - 1})
          for (int j : {0, out - 9, out - 8, out - 1}) {
            float z = b[j];
            for (int i = 0; i < in; ++i) z = std::fma(A[k * in + i], W[i * out + j], z);
            ASSERT_EQ(Z[k * out + j], z) << "out=" << out << " in=" << in << " K=" << K;
          }
        for (int i : {0, in - 1})
          for (int j : {0, out / 2, out - 8, out - 1}) {
            float g = 0;
            for (int k = 0; k < K; ++k) g = std::fma(A[k * in + i], D[k * out + j], g);
            ASSERT_EQ(dW[i * out + j], g) << "out=" << out << " in=" << in << " K=" << K;
          }
        for (int j = 0; j < out; ++j) {  // the biases' sums, four vectors at a time where they fit
          float sum = 0;
          for (int k = 0; k < K; ++k) sum += D[k * out + j];
          ASSERT_EQ(db[j], sum) << "out=" << out << " j=" << j << " K=" << K;
        }
      }
}

// The rank-K steps read a block's bytes through a table, or from 256 columns on convert them to
// float rows first (padded where in is 256): the float kernel's results either way.
TEST(Kernels, RankKStepsFromBytesAreTheFloatStepsEitherWay) {
  std::mt19937 rng(18);
  for (int out : {56, 264})
    for (int in : {37, 256})
      for (int K : {8, 11}) {
        const Images px(in, K, 1.0f / 255.0f, rng);
        Buffer W(std::size_t(in) * out, 0, rng), b(out, 1, rng), D(std::size_t(K) * out, 0, rng);
        Buffer W_px = W, b_px = b;
        simd::sgd_rank_k_step(D.data(), px.converted.data(), W.data(), b.data(), out, in, K, 0.3f, 0, out);
        simd::sgd_rank_k_step_pixels(D.data(), px.rows.data(), px.scale, W_px.data(), b_px.data(), out, in, K, 0.3f, 0,
                                     out);
        ASSERT_EQ(W.values(), W_px.values()) << "out=" << out << " in=" << in << " K=" << K;
        ASSERT_EQ(b.values(), b_px.values());
      }
}

TEST(Kernels, ActivationBackwardsMatchPlainLoops) {
  using Backward = void (*)(const float*, float*, std::size_t);
  const std::vector<std::pair<Backward, Backward>> twins{{simd::sigmoid_backward, plain::sigmoid_backward},
                                                         {simd::sigmoid_backward_blog, plain::sigmoid_backward_blog},
                                                         {simd::tanh_backward, plain::tanh_backward},
                                                         {simd::relu_backward, plain::relu_backward}};
  std::mt19937 rng(11);
  for (std::size_t t = 0; t < twins.size(); ++t)
    for (int n : kLengths) {
      Buffer a(n, n % 4, rng), d(n, 1, rng), d_plain = d, d_before = d;
      twins[t].first(a.data(), d.data(), n);
      twins[t].second(a.data(), d_plain.data(), n);
      for (int i = 0; i < n; ++i) {
        // The terms' magnitudes bound the rounding: 1 − a² loses digits to cancellation near |a| = 1.
        const double bound = 4 * kEps * (std::fabs(d_plain[i]) + std::fabs(d_before[i]) * a[i] * a[i]);
        ASSERT_NEAR(d[i], d_plain[i], bound) << "twin " << t << " n=" << n << " i=" << i;
      }
      ASSERT_TRUE(d.padding_intact()) << "twin " << t << " n=" << n;
    }
}

TEST(Kernels, SoftmaxMatchesPlainLoopForAnyLogits) {
  std::mt19937 rng(12);
  for (int n : {1, 2, 10, 17})
    for (int K : {1, 3, 5}) {
      Buffer Z(std::size_t(K) * n, 0, rng), logits(std::size_t(K) * n, 1, rng), norm(K, 2, rng);
      for (int i = 0; i < K * n; ++i) Z.data()[i] *= 200.0f;  // e^200 overflows float: the max must come off first
      Buffer Z_plain = Z, logits_plain = logits, norm_plain = norm;
      simd::softmax_forward(Z.data(), logits.data(), norm.data(), K, n);
      plain::softmax_forward(Z_plain.data(), logits_plain.data(), norm_plain.data(), K, n);
      for (int i = 0; i < K * n; ++i) {
        // exp(z − log_norm) in float: log_norm's rounding, about |z|·ε, becomes a relative error.
        double scale = 1;
        for (int j = 0; j < n; ++j) scale = std::max(scale, 1.0 + std::fabs(logits_plain[i / n * n + j]));
        ASSERT_NEAR(Z[i], Z_plain[i], 8 * kEps * scale * (Z_plain[i] + kEps)) << "n=" << n << " K=" << K;
        ASSERT_EQ(logits[i], logits_plain[i]);
      }
      for (int k = 0; k < K; ++k) ASSERT_NEAR(norm[k], norm_plain[k], 8 * kEps * std::fabs(norm_plain[k]));
      ASSERT_TRUE(Z.padding_intact() && logits.padding_intact() && norm.padding_intact());
    }
}

TEST(Kernels, OutputBackwardsMatchPlainLoopsAndAHandComputedCase) {
  std::mt19937 rng(13);
  const int K = 5, n = 10;
  std::vector<int> labels{0, 3, 9, 9, 4};
  Buffer A(K * n, 1, rng), logits(K * n, 2, rng), norm(K, 0, rng);
  for (int i = 0; i < K * n; ++i) A.data()[i] = 0.5f + 0.5f * A[i];  // activations in (0, 1)
  for (bool blog : {false, true}) {
    Buffer dZ(K * n, 3, rng), dZ_plain = dZ;
    const double loss = simd::mse_output_backward(A.data(), labels.data(), dZ.data(), K, n, blog);
    const double loss_plain = plain::mse_output_backward(A.data(), labels.data(), dZ_plain.data(), K, n, blog);
    EXPECT_NEAR(loss, loss_plain, 1e-6 * loss_plain);
    for (int i = 0; i < K * n; ++i) ASSERT_NEAR(dZ[i], dZ_plain[i], 4 * kEps * std::fabs(dZ_plain[i]) + 1e-12);
    ASSERT_TRUE(dZ.padding_intact());
  }
  Buffer dZ(K * n, 3, rng), dZ_plain = dZ;
  const double xent = simd::xent_output_backward(A.data(), logits.data(), norm.data(), labels.data(), dZ.data(), K, n);
  const double xent_plain =
      plain::xent_output_backward(A.data(), logits.data(), norm.data(), labels.data(), dZ_plain.data(), K, n);
  EXPECT_NEAR(xent, xent_plain, 1e-6 * std::fabs(xent_plain) + 1e-6);
  for (int i = 0; i < K * n; ++i) ASSERT_NEAR(dZ[i], dZ_plain[i], 2 * kEps);
  // One example, two classes, label 1: a = (0.25, 0.5) gives loss ½(0.25² + 0.5²) = 0.15625 and
  // dZ = (0.25·0.25·0.75, −0.5·0.5·0.5) by the mse formula.
  const float a[2] = {0.25f, 0.5f};
  const int label = 1;
  float d[2];
  EXPECT_DOUBLE_EQ(simd::mse_output_backward(a, &label, d, 1, 2, false), 0.15625);
  EXPECT_FLOAT_EQ(d[0], 0.046875f);
  EXPECT_FLOAT_EQ(d[1], -0.125f);
}

TEST(Kernels, LinearOutputBackwardMatchesPlainLoopsAndAHandComputedCase) {
  std::mt19937 rng(15);
  const int K = 7, n = 3;
  Buffer A(K * n, 1, rng), T(K * n, 2, rng), dZ(K * n, 3, rng), dZ_plain = dZ;
  for (int i = 0; i < K * n; ++i) A.data()[i] *= 40.0f;  // real-valued outputs, far from (0, 1)
  const double loss = simd::linear_output_backward(A.data(), T.data(), dZ.data(), K, n);
  const double loss_plain = plain::linear_output_backward(A.data(), T.data(), dZ_plain.data(), K, n);
  EXPECT_NEAR(loss, loss_plain, 1e-6 * loss_plain);
  for (int i = 0; i < K * n; ++i) ASSERT_NEAR(dZ[i], dZ_plain[i], 2 * kEps * std::fabs(dZ_plain[i]) + 1e-12);
  ASSERT_TRUE(dZ.padding_intact());
  // One example, two targets: a = (3, −1), t = (1, 0.5) gives loss ½(2² + 1.5²) = 3.125, dZ = (2, −1.5).
  const float a[2] = {3.0f, -1.0f}, t[2] = {1.0f, 0.5f};
  float d[2];
  EXPECT_DOUBLE_EQ(simd::linear_output_backward(a, t, d, 1, 2), 3.125);
  EXPECT_FLOAT_EQ(d[0], 2.0f);
  EXPECT_FLOAT_EQ(d[1], -1.5f);
}

TEST(Kernels, DenseSgdStepsMatchPlainLoops) {
  std::mt19937 rng(14);
  for (int n : kLengths)
    for (int m : kMisalign) {
      Buffer G(n, m, rng), W(n, (m + 1) % 4, rng), V(n, 2, rng), W_plain = W, V_plain = V;
      Buffer W2 = W, W2_plain = W;
      simd::sgd_step(G.data(), W2.data(), n, 0.3f);
      plain::sgd_step(G.data(), W2_plain.data(), n, 0.3f);
      simd::sgd_momentum_step(G.data(), W.data(), V.data(), n, 0.125f, 0.3f, 0.9f, 0.0f);
      plain::sgd_momentum_step(G.data(), W_plain.data(), V_plain.data(), n, 0.125f, 0.3f, 0.9f, 0.0f);
      for (int i = 0; i < n; ++i) {
        ASSERT_NEAR(W2[i], W2_plain[i], 4 * kEps * (std::fabs(W2_plain[i]) + 0.3 * std::fabs(G[i]))) << "n=" << n;
        const double v_bound = 0.9 * std::fabs(V_plain[i]) + 0.125 * std::fabs(G[i]) + 1e-30;
        ASSERT_NEAR(V[i], V_plain[i], 4 * kEps * v_bound) << "V, n=" << n;
        ASSERT_NEAR(W[i], W_plain[i], 4 * kEps * (std::fabs(W_plain[i]) + 0.3 * v_bound)) << "W, n=" << n;
      }
      ASSERT_TRUE(W.padding_intact() && V.padding_intact() && W2.padding_intact());
      Buffer M = V, S = V, M_plain = V, W3 = W, W3_plain = W;
      S.square();
      Buffer S_plain = S;
      const kernels::AdamStep c = adam_constants(8, 5, 0.01f, n % 2 == 0);
      simd::adam_step(G.data(), W3.data(), M.data(), S.data(), n, c);
      plain::adam_step(G.data(), W3_plain.data(), M_plain.data(), S_plain.data(), n, c);
      for (int i = 0; i < n; ++i) {
        ASSERT_NEAR(M[i], M_plain[i], 8 * kEps * (std::fabs(M_plain[i]) + 1)) << "adam M, n=" << n;
        ASSERT_NEAR(W3[i], W3_plain[i], 8 * kEps * (std::fabs(W3_plain[i]) + 1)) << "adam W, n=" << n;
      }
      ASSERT_TRUE(W3.padding_intact() && M.padding_intact() && S.padding_intact());
    }
}

}  // namespace
}  // namespace ptrain
