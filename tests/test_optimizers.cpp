// The oracle's optimizers against PyTorch's definitions written out here, step by step from the
// oracle's own mean gradient (which test_gradcheck checks by finite differences): SGD with
// momentum and weight decay, Adam (L2 in the gradient) and AdamW (decoupled decay).
#include <gtest/gtest.h>

#include <cmath>

#include "ptrain/engine/reference.hpp"
#include "support.hpp"

namespace ptrain {
namespace {

struct Optim {
  Optimizer optimizer;
  double momentum, weight_decay;
};

// torch.optim.SGD / Adam / AdamW, one step on parameters w with state m, v at step t.
void pytorch_step(const Optim& o, double lr, int t, const std::vector<double>& g, std::vector<double>& w,
                  std::vector<double>& m, std::vector<double>& v) {
  const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (o.optimizer == Optimizer::sgd) {
      const double d = g[i] + o.weight_decay * w[i];
      m[i] = t == 1 ? d : o.momentum * m[i] + d;  // PyTorch's buffer starts as the first d_p
      w[i] -= lr * m[i];
      continue;
    }
    double d = g[i];
    if (o.optimizer == Optimizer::adamw) w[i] *= 1 - lr * o.weight_decay;
    if (o.optimizer == Optimizer::adam) d += o.weight_decay * w[i];
    m[i] = b1 * m[i] + (1 - b1) * d;
    v[i] = b2 * v[i] + (1 - b2) * d * d;
    const double m_hat = m[i] / (1 - std::pow(b1, t)), v_hat = v[i] / (1 - std::pow(b2, t));
    w[i] -= lr * m_hat / (std::sqrt(v_hat) + eps);
  }
}

TEST(Optimizers, TheOraclesStepsArePyTorchsDefinitions) {
  NetSpec spec;
  spec.sizes = {20, 9, 4};
  spec.hidden = Activation::relu;
  spec.loss = Loss::xent;
  const Dataset d = test::as_float_features(test::synthetic_dataset(48, 20, 4, 3));
  const std::vector<float> init = init_params(spec.sizes, Init::he, 8);
  for (const Optim& o : {Optim{Optimizer::sgd, 0.9, 0.01}, Optim{Optimizer::adam, 0, 0},
                         Optim{Optimizer::adam, 0, 0.05}, Optim{Optimizer::adamw, 0, 0.05}}) {
    UpdateRule rule;
    rule.optimizer = o.optimizer;
    rule.momentum = o.momentum;
    rule.weight_decay = o.weight_decay;
    ReferenceEngine oracle(spec, init, rule);
    std::vector<double> w(init.begin(), init.end()), m(w.size(), 0.0), v(w.size(), 0.0);
    const double lr = o.optimizer == Optimizer::sgd ? 0.1 : 0.01;
    for (int t = 1; t <= 3; ++t) {
      const std::vector<std::uint32_t> batch = test::iota_indices(16 * t);
      const Indices b = Indices(batch).subspan(16 * (t - 1), 16);
      const std::vector<double> g = oracle.mean_gradient(d, b, nullptr);
      pytorch_step(o, lr, t, g, w, m, v);
      oracle.train_step(d, b, lr);
      const std::vector<double>& got = oracle.state().params;
      for (std::size_t i = 0; i < w.size(); ++i)
        ASSERT_NEAR(got[i], w[i], 1e-12 * (std::fabs(w[i]) + 1)) << name_of(o.optimizer) << " step " << t << " " << i;
    }
    EXPECT_EQ(oracle.state().steps, 3u);
  }
}

}  // namespace
}  // namespace ptrain
