// The oracle's gradient against central finite differences of its own loss, and against a
// hand-derived formula for a one-layer net, so the oracle and the parallel engine cannot
// agree on a wrong gradient.
#include <gtest/gtest.h>

#include <cmath>

#include "ptrain/engine/reference.hpp"
#include "support.hpp"

namespace ptrain {
namespace {

// Mean over the batch of the oracle's loss at weights `w`.
double batch_loss(const ReferenceEngine& ref, const std::vector<double>& w, const Dataset& d,
                  const std::vector<std::uint32_t>& batch) {
  double s = 0;
  for (std::uint32_t e : batch)
    s += d.target_count > 0 ? ref.example_loss(w, d, e) : ref.example_loss(w, d.image(e), d.labels[e]);
  return s / static_cast<double>(batch.size());
}

void expect_gradient_matches_finite_differences(const std::vector<int>& sizes, std::uint64_t seed,
                                                Activation hidden = Activation::sigmoid, Loss loss = Loss::mse,
                                                Task task = Task::classification) {
  NetSpec spec;
  spec.sizes = sizes;
  spec.hidden = hidden;
  spec.loss = loss;
  spec.task = task;
  Dataset d = test::synthetic_dataset(5, sizes.front(), sizes.back(), seed);
  if (task == Task::regression) d = test::as_regression(std::move(d), sizes.back(), seed);
  std::vector<std::uint32_t> batch = test::iota_indices(d.size());
  // Larger weights than the blog's init, so no layer sits in a flat, uninformative region.
  std::vector<float> init = init_blog(sizes, seed);
  for (float& v : init) v *= 3.0f;
  ReferenceEngine ref(spec, init);
  std::vector<double> analytic = ref.mean_gradient(d, batch, nullptr);

  std::vector<double> numeric(analytic.size());
  std::vector<double> w = ref.state().params;
  const double h = 1e-5;
  for (std::size_t i = 0; i < w.size(); ++i) {
    const double saved = w[i];
    w[i] = saved + h;
    double up = batch_loss(ref, w, d, batch);
    w[i] = saved - h;
    double down = batch_loss(ref, w, d, batch);
    w[i] = saved;
    numeric[i] = (up - down) / (2 * h);
  }
  EXPECT_TRUE(test::tensors_close(sizes, analytic, numeric, 1e-6, 1e-5))
      << "net " << NetSpec{sizes}.describe() << ", " << name_of(hidden) << ", " << name_of(loss) << ", "
      << name_of(task);
}

TEST(GradCheck, OracleMatchesCentralDifferencesOnSmallNets) {
  expect_gradient_matches_finite_differences({6, 4}, 1);
  expect_gradient_matches_finite_differences({5, 7, 3}, 2);
  expect_gradient_matches_finite_differences({9, 5, 4, 3}, 3);
  expect_gradient_matches_finite_differences({17, 1, 2}, 4);
}

TEST(GradCheck, OracleMatchesCentralDifferencesForEveryActivationAndLoss) {
  for (Activation a : {Activation::sigmoid, Activation::tanh, Activation::relu})
    for (Loss l : {Loss::mse, Loss::xent}) {
      expect_gradient_matches_finite_differences({5, 7, 3}, 5, a, l);
      expect_gradient_matches_finite_differences({9, 6, 4, 3}, 6, a, l);
    }
}

// Linear outputs and ½‖a − t‖² against real-valued targets, one or several.
TEST(GradCheck, OracleMatchesCentralDifferencesForRegressionWithEveryActivation) {
  for (Activation a : {Activation::sigmoid, Activation::tanh, Activation::relu}) {
    expect_gradient_matches_finite_differences({5, 7, 1}, 7, a, Loss::mse, Task::regression);
    expect_gradient_matches_finite_differences({9, 6, 4, 3}, 8, a, Loss::mse, Task::regression);
  }
  expect_gradient_matches_finite_differences({6, 2}, 9, Activation::relu, Loss::mse, Task::regression);
}

TEST(GradCheck, CrossEntropyLossIsMinusLogSoftmaxEvenForHugeLogits) {
  // One layer, raw pixels and big weights: logits in the thousands, where a naive softmax
  // overflows. Hand-computed: loss = logsumexp(z) − z_label.
  NetSpec spec;
  spec.sizes = {2, 3};
  spec.loss = Loss::xent;
  spec.input_scale = 1.0;
  Dataset d;
  d.image_size = 2;
  d.pixels = {200, 100};
  d.labels = {1};
  const std::vector<float> w{10, 0, 0, 10, 5, 5, 0, 0, 0};  // W 3×2, then b
  ReferenceEngine ref(spec, w);
  const double z[3] = {2000, 1000, 1500};
  const double m = 2000, lse = m + std::log(std::exp(z[0] - m) + std::exp(z[1] - m) + std::exp(z[2] - m));
  EXPECT_NEAR(ref.example_loss(ref.state().params, d.image(0), 1), lse - z[1], 1e-9);
  std::vector<double> g = ref.mean_gradient(d, test::iota_indices(1), nullptr);
  for (double v : g) EXPECT_TRUE(std::isfinite(v));
  EXPECT_NEAR(g[6], 1.0, 1e-12);   // ∂/∂b_0 = softmax_0 − 0 ≈ 1
  EXPECT_NEAR(g[7], -1.0, 1e-12);  // ∂/∂b_1 = softmax_1 − 1 ≈ −1
}

// One layer, one example: a = σ(w·x + b), loss ½Σ(a − t)², so ∂/∂w_ji = (a_j − t_j)·g(a_j)·x_i
// with g(a) = a(1 − a), or σ(a)(1 − σ(a)) in the blog's preset.
void expect_one_layer_gradient(bool blog) {
  NetSpec spec;
  spec.sizes = {3, 2};
  spec.blog_derivative = blog;
  spec.input_scale = 1.0 / 255.0;
  Dataset d;
  d.image_size = 3;
  d.pixels = {51, 102, 255};  // x = 0.2, 0.4, 1.0
  d.labels = {1};
  const std::vector<float> w{0.5f, -0.25f, 0.125f, -1.0f, 0.75f, 0.0f, 0.25f, -0.5f};  // W 2×3, then b
  ReferenceEngine ref(spec, w);
  std::vector<double> got = ref.mean_gradient(d, test::iota_indices(1), nullptr);

  const double x[3] = {0.2, 0.4, 1.0};
  auto sigma = [](double z) { return 1 / (1 + std::exp(-z)); };
  std::vector<double> want(8);
  for (int j = 0; j < 2; ++j) {
    double z = w[6 + j];
    for (int i = 0; i < 3; ++i) z += double{w[j * 3 + i]} * x[i];
    double a = sigma(z), t = j == 1 ? 1.0 : 0.0;
    double slope = blog ? sigma(a) * (1 - sigma(a)) : a * (1 - a);
    for (int i = 0; i < 3; ++i) want[j * 3 + i] = (a - t) * slope * x[i];
    want[6 + j] = (a - t) * slope;
  }
  EXPECT_TRUE(test::tensors_close(spec.sizes, got, want, 1e-12, 1e-12)) << (blog ? "blog preset" : "default");
}

TEST(GradCheck, OneLayerGradientEqualsHandDerivedFormula) {
  expect_one_layer_gradient(false);
  expect_one_layer_gradient(true);
}

TEST(GradCheck, SgdStepMovesAgainstTheMeanGradient) {
  NetSpec spec;
  spec.sizes = {4, 3, 2};
  Dataset d = test::synthetic_dataset(6, 4, 2, 9);
  auto batch = test::iota_indices(6);
  ReferenceEngine ref(spec, init_blog(spec.sizes, 9));
  std::vector<double> before = ref.state().params;
  std::vector<double> grad = ref.mean_gradient(d, batch, nullptr);
  ref.train_step(d, batch, 0.5);
  for (std::size_t i = 0; i < before.size(); ++i) EXPECT_DOUBLE_EQ(ref.state().params[i], before[i] - 0.5 * grad[i]);
}

}  // namespace
}  // namespace ptrain
