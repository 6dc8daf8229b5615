// The parallel engine's batch gradient and SGD step against the float64 oracle, tensor by
// tensor, on nets whose sizes are not multiples of the SIMD width, with batches that are not
// multiples of the chunk size and batches smaller than one chunk.
#include <gtest/gtest.h>

#include "ptrain/engine/parallel_engine.hpp"
#include "ptrain/engine/reference.hpp"
#include "ptrain/core/threads.hpp"
#include "support.hpp"

namespace ptrain {
namespace {

// float32 against float64: sums of up to ~800 products, each rounded to float.
constexpr double kAtol = 2e-5;  // times the tensor's largest |element|
constexpr double kRtol = 1e-4;

struct Case {
  std::vector<int> sizes;
  int batch, chunk;
  bool blog = false;
  Activation hidden = Activation::sigmoid;
  Loss loss = Loss::mse;
  double momentum = 0;
  bool floats = false;  // float feature rows instead of byte images
  Optimizer optimizer = Optimizer::sgd;
  double weight_decay = 0;
  Task task = Task::classification;  // regression: float features, real-valued targets, linear outputs
  bool nesterov = false;
  UpdateRule rule() const {
    UpdateRule r;
    r.optimizer = optimizer;
    r.momentum = momentum;
    r.nesterov = nesterov;
    r.weight_decay = weight_decay;
    return r;
  }
};

Dataset dataset_for(const Case& c, std::size_t count, std::uint64_t seed) {
  Dataset d = test::synthetic_dataset(count, c.sizes.front(), c.sizes.back(), seed);
  if (c.task == Task::regression) return test::as_regression(std::move(d), c.sizes.back(), seed);
  return c.floats ? test::as_float_features(std::move(d)) : d;
}

Case nesterov(Case c) {
  c.nesterov = true;
  return c;
}

void PrintTo(const Case& c, std::ostream* os) {
  *os << NetSpec{c.sizes}.describe() << " batch " << c.batch << " chunk " << c.chunk << (c.blog ? " blog" : "") << " "
      << name_of(c.hidden) << " " << name_of(c.loss) << " momentum " << c.momentum << (c.floats ? " floats" : "") << " "
      << name_of(c.optimizer) << (c.nesterov ? " nesterov" : "") << " decay " << c.weight_decay << " "
      << name_of(c.task);
}

class EngineVsOracle : public ::testing::TestWithParam<Case> {};

NetSpec spec_for(const Case& c) {
  NetSpec spec;
  spec.sizes = c.sizes;
  spec.hidden = c.hidden;
  spec.loss = c.loss;
  spec.task = c.task;
  if (c.blog) {
    spec.input_scale = 1.0;
    spec.blog_derivative = true;
  }
  return spec;
}

TEST_P(EngineVsOracle, BatchGradientMatchesOracle) {
  const Case& c = GetParam();
  NetSpec spec = spec_for(c);
  Dataset d = dataset_for(c, c.batch + 5, 11);
  std::vector<std::uint32_t> batch = test::iota_indices(d.size());
  batch.erase(batch.begin(), batch.begin() + 5);  // not starting at example 0
  std::vector<float> init = init_params(c.sizes, c.hidden == Activation::relu ? Init::he : Init::blog, 5);
  ReferenceEngine oracle(spec, init);
  ParallelEngine engine(spec, init, c.chunk);
  ThreadLimit threads(2);

  double loss_oracle = 0, loss_engine = 0;
  std::vector<double> want = oracle.mean_gradient(d, batch, &loss_oracle);
  std::vector<double> got = threads.run([&] { return test::parallel_mean_gradient(engine, d, batch, &loss_engine); });
  EXPECT_TRUE(test::tensors_close(c.sizes, got, want, kAtol, kRtol));
  EXPECT_NEAR(loss_engine, loss_oracle, 1e-5 * loss_oracle + 1e-6);
}

TEST_P(EngineVsOracle, SeveralStepsTrackTheOracle) {
  const Case& c = GetParam();
  NetSpec spec = spec_for(c);
  Dataset d = dataset_for(c, 3 * c.batch, 12);
  std::vector<std::uint32_t> all = test::iota_indices(d.size());
  std::vector<float> init = init_params(c.sizes, c.hidden == Activation::relu ? Init::he : Init::blog, 6);
  ReferenceEngine oracle(spec, init, c.rule());
  ParallelEngine engine(spec, init, c.chunk, c.rule());
  ThreadLimit threads(2);
  // Adam moves every weight by about lr a step, whatever its gradient's size.
  const double lr = c.optimizer != Optimizer::sgd          ? 0.001
                    : c.blog || c.task == Task::regression ? 0.1
                    : c.loss == Loss::xent                 ? 0.2
                                                           : 1.0;
  for (int step = 0; step < 3; ++step) {
    Indices batch = Indices(all).subspan(std::size_t(step) * c.batch, c.batch);
    oracle.train_step(d, batch, lr);
    threads.run([&] { engine.train_step(d, batch, lr); });
  }
  std::vector<float> got_f = engine.parameters(), want_f = oracle.parameters();
  std::vector<double> got(got_f.begin(), got_f.end()), want(oracle.state().params);
  EXPECT_TRUE(test::tensors_close(c.sizes, got, want, 1e-5, 1e-4));
}

INSTANTIATE_TEST_SUITE_P(
    Nets, EngineVsOracle,
    ::testing::Values(
        Case{{784, 112, 16, 10}, 32, 8},                                              // the blog's net
        Case{{784, 112, 16, 10}, 32, 8, true},                                        // its preset
        Case{{13, 7, 5}, 37, 8},                                                      // 37 = 4 chunks + 5
        Case{{13, 7, 5}, 3, 8},                                                       // smaller than a chunk
        Case{{31, 17, 9, 3}, 20, 3}, Case{{9, 1, 4}, 11, 4}, Case{{100, 10}, 17, 5},  // no hidden layer
        Case{{33, 65, 15, 2}, 16, 16}, Case{{12, 16, 400, 370, 3}, 21, 4},            // a layer past the cache
        Case{{784, 112, 16, 10}, 32, 4, false, Activation::relu, Loss::xent, 0.9},
        Case{{31, 17, 9, 3}, 20, 3, false, Activation::sigmoid, Loss::xent},
        Case{{31, 17, 9, 3}, 20, 3, false, Activation::tanh, Loss::mse},
        Case{{31, 17, 9, 3}, 20, 3, false, Activation::tanh, Loss::xent, 0.5},
        Case{{31, 17, 9, 3}, 20, 3, false, Activation::relu, Loss::mse, 0.9},
        Case{{13, 7, 5}, 37, 8, false, Activation::relu, Loss::xent},
        // float feature rows, read where they lie
        Case{{784, 112, 16, 10}, 32, 8, false, Activation::sigmoid, Loss::mse, 0, true},
        Case{{31, 17, 9, 3}, 20, 3, false, Activation::tanh, Loss::xent, 0.5, true},
        Case{{12, 16, 400, 370, 3}, 21, 4, false, Activation::relu, Loss::mse, 0.9, true},
        // weight decay, Adam and AdamW
        Case{{13, 7, 5}, 37, 8, false, Activation::relu, Loss::xent, 0, false, Optimizer::sgd, 0.01},
        Case{{31, 17, 9, 3}, 20, 3, false, Activation::relu, Loss::mse, 0.9, false, Optimizer::sgd, 0.01},
        // Nesterov's momentum: bytes through the wide and narrow layers, float rows with decay, past the
        // cache (at μ 0.5: at lr 1, μ 0.9 steps 3.4 gradients by the third step, and float32 parts from
        // float64 by more than the tolerance; adam_vs_pytorch.py checks μ 0.9 against PyTorch).
        nesterov(Case{{784, 112, 16, 10}, 32, 4, false, Activation::relu, Loss::xent, 0.9}),
        nesterov(Case{{31, 17, 9, 3}, 20, 3, false, Activation::tanh, Loss::xent, 0.5, true, Optimizer::sgd, 0.01}),
        nesterov(Case{{12, 16, 400, 370, 3}, 21, 4, false, Activation::relu, Loss::mse, 0.5, true}),
        Case{{784, 112, 16, 10}, 32, 4, false, Activation::relu, Loss::xent, 0, false, Optimizer::adam},
        Case{{31, 17, 9, 3}, 20, 3, false, Activation::tanh, Loss::xent, 0, true, Optimizer::adamw, 0.01},
        Case{{12, 16, 400, 370, 3}, 21, 4, false, Activation::relu, Loss::mse, 0, false, Optimizer::adam, 0.001},
        Case{{784, 112, 16, 10}, 32, 8, false, Activation::sigmoid, Loss::mse, 0, true, Optimizer::adamw, 0.1},
        // regression: linear outputs, one or several real-valued targets
        Case{{13, 7, 5}, 37, 8, false, Activation::relu, Loss::mse, 0, true, Optimizer::sgd, 0, Task::regression},
        Case{{31, 17, 9, 1},
             20,
             3,
             false,
             Activation::tanh,
             Loss::mse,
             0.9,
             true,
             Optimizer::sgd,
             0.01,
             Task::regression},
        Case{{31, 17, 9, 3},
             20,
             3,
             false,
             Activation::sigmoid,
             Loss::mse,
             0,
             true,
             Optimizer::adam,
             0,
             Task::regression},
        Case{{784, 112, 16, 1},
             32,
             8,
             false,
             Activation::relu,
             Loss::mse,
             0,
             true,
             Optimizer::adamw,
             0.1,
             Task::regression},
        Case{{12, 16, 400, 370, 3},
             21,
             4,
             false,
             Activation::relu,
             Loss::mse,
             0,
             true,
             Optimizer::adam,
             0.001,
             Task::regression},
        Case{{100, 2}, 17, 5, false, Activation::relu, Loss::mse, 0, true, Optimizer::sgd, 0, Task::regression}));

}  // namespace
}  // namespace ptrain
