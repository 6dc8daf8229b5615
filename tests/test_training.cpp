// A short training run on a small learnable set: the loss falls and the accuracy rises, for
// both engines, and they end at nearly the same place.
#include <gtest/gtest.h>

#include <cmath>

#include "ptrain/run/engine_factory.hpp"
#include "ptrain/core/threads.hpp"
#include "ptrain/run/early_stopping.hpp"
#include "ptrain/run/epoch_loop.hpp"
#include "ptrain/run/schedule.hpp"
#include "ptrain/run/trainer.hpp"
#include "support.hpp"

namespace ptrain {
namespace {

struct Progress {
  std::vector<double> losses;
  double accuracy_before = 0, accuracy_after = 0;
};

Progress train(EngineKind kind) {
  NetSpec spec;
  spec.sizes = {64, 24, 16, 10};
  Dataset d = test::synthetic_dataset(600, 64, 10, 31);
  Split split = seed_split(d.size(), 4);
  EngineSetup setup;
  setup.kind = kind;
  setup.chunk_size = 8;
  auto engine = make_engine(spec, init_blog(spec.sizes, 4), setup);
  ThreadLimit threads(2);
  Progress p;
  p.accuracy_before = *accuracy_percent(*engine, d, split.test);
  for (int epoch = 1; epoch <= 20; ++epoch) {
    auto order = epoch_order(split.train, 4, epoch);
    p.losses.push_back(threads.run([&] { return train_epoch(*engine, d, order, 16, 3.0).mean_loss; }));
  }
  p.accuracy_after = *threads.run([&] { return accuracy_percent(*engine, d, split.test); });
  return p;
}

TEST(Training, LossFallsAndAccuracyRises) {
  for (EngineKind kind : {EngineKind::parallel, EngineKind::scalar}) {
    Progress p = train(kind);
    EXPECT_LT(p.losses.back(), 0.5 * p.losses.front()) << "engine " << int(kind);
    EXPECT_LT(p.accuracy_before, 30.0);
    EXPECT_GT(p.accuracy_after, 90.0) << "engine " << int(kind);
  }
}

TEST(Training, EnginesAgreeOnAShortRun) {
  Progress parallel = train(EngineKind::parallel), scalar = train(EngineKind::scalar);
  EXPECT_NEAR(parallel.accuracy_after, scalar.accuracy_after, 2.0);
  EXPECT_NEAR(parallel.losses.back(), scalar.losses.back(), 1e-3 + 0.01 * scalar.losses.back());
}

TEST(Training, EpochOrderIsAPermutationThatDependsOnSeedAndEpoch) {
  auto base = test::iota_indices(100);
  auto a = epoch_order(base, 1, 1), b = epoch_order(base, 1, 1), c = epoch_order(base, 1, 2),
       e = epoch_order(base, 2, 1);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a, e);
  std::sort(a.begin(), a.end());
  EXPECT_EQ(a, base);
}

TEST(Training, InitialWeightsFollowTheBlogRecipe) {
  std::vector<int> sizes{5, 4, 3};
  std::vector<float> w = init_blog(sizes, 1);
  ASSERT_EQ(w.size(), 5u * 4 + 4 + 4 * 3 + 3);
  ParamLayout layout(sizes, 1);
  for (const LayerSlot& s : layout.layers) {
    for (int i = 0; i < s.in * s.out; ++i) {
      EXPECT_GE(w[s.weight + i], -0.5f);
      EXPECT_LT(w[s.weight + i], 0.5f);
    }
    for (int j = 0; j < s.out; ++j) EXPECT_EQ(w[s.bias + j], 1.0f);
  }
  EXPECT_EQ(init_blog(sizes, 1), w);
  EXPECT_NE(init_blog(sizes, 2), w);
}

TEST(Training, XavierAndHeDrawWithinTheirLimitsWithZeroBiases) {
  std::vector<int> sizes{50, 30, 10};
  ParamLayout layout(sizes, 1);
  for (Init init : {Init::xavier, Init::he}) {
    std::vector<float> w = init_params(sizes, init, 4);
    for (const LayerSlot& s : layout.layers) {
      const double limit = init == Init::xavier ? std::sqrt(6.0 / (s.in + s.out)) : std::sqrt(6.0 / s.in);
      double sum_sq = 0;
      for (int i = 0; i < s.in * s.out; ++i) {
        ASSERT_LE(std::fabs(w[s.weight + i]), limit) << name_of(init);
        sum_sq += double{w[s.weight + i]} * w[s.weight + i];
      }
      // A uniform ±limit draw has variance limit²/3.
      EXPECT_NEAR(sum_sq / (s.in * s.out), limit * limit / 3, 0.1 * limit * limit / 3) << name_of(init);
      for (int j = 0; j < s.out; ++j) EXPECT_EQ(w[s.bias + j], 0.0f);
    }
  }
}

TEST(EarlyStopping, CountsEpochsWithoutAGainBeyondMinDelta) {
  TrainConfig cfg;
  cfg.early_stop = 2;
  cfg.min_delta = 0.5;
  EarlyStopping acc(cfg);
  EXPECT_TRUE(acc.observe(1, 90.0));
  EXPECT_FALSE(acc.observe(2, 90.4));  // not more than 0.5 above the best
  EXPECT_TRUE(acc.observe(3, 90.6));
  EXPECT_FALSE(acc.observe(4, 90.6));  // a tie is no gain
  EXPECT_FALSE(acc.should_stop());
  EXPECT_FALSE(acc.observe(5, 80.0));
  EXPECT_TRUE(acc.should_stop());
  EXPECT_EQ(acc.best_epoch(), 3);
  EXPECT_EQ(acc.best_text(), "best epoch 3 (val accuracy 90.60%)");
  EXPECT_EQ(acc.stop_text(5), "stopped early after epoch 5: 2 epochs without a gain");
  cfg.early_stop_on = StopOn::loss;  // lower is better
  cfg.min_delta = 0;
  EarlyStopping loss(cfg);
  EXPECT_TRUE(loss.observe(1, 0.5));
  EXPECT_TRUE(loss.observe(2, 0.4));
  EXPECT_FALSE(loss.observe(3, 0.45));
  // The state through a checkpoint's metadata and back.
  std::map<std::string, std::string> metadata;
  loss.save(metadata);
  EarlyStopping resumed(cfg);
  resumed.restore(metadata, "ck");
  EXPECT_EQ(resumed.best(), loss.best());
  EXPECT_EQ(resumed.best_epoch(), 2);
  EXPECT_EQ(resumed.waited(), 1);
  EXPECT_FALSE(resumed.observe(4, 0.41));
  EXPECT_TRUE(resumed.should_stop());
  metadata["best_value"] = "nan";
  EXPECT_THROW(resumed.restore(metadata, "ck"), DataError);
  metadata.erase("best_epoch");
  metadata["best_value"] = "0.5";
  EXPECT_THROW(resumed.restore(metadata, "ck"), DataError);
}

// scikit-learn's MLP rule (_update_no_improvement_count), worked by hand: an epoch counts against
// patience unless it beats the best so far by at least tol; any better epoch becomes the best.
TEST(EarlyStopping, SklearnRuleComparesWithTheBestEpochAndCreeps) {
  TrainConfig cfg;
  cfg.early_stop = 3;  // n_iter_no_change 2: stop when the count exceeds it
  cfg.early_stop_on = StopOn::train_loss;
  cfg.early_stop_rule = StopRule::sklearn;
  cfg.min_delta = 0.1;
  EarlyStopping sk(cfg);
  EXPECT_TRUE(sk.observe(1, 1.0));
  EXPECT_TRUE(sk.observe(2, 0.8));   // below 1.0 − 0.1: a gain, count 0
  EXPECT_TRUE(sk.observe(3, 0.75));  // better, not by tol: the best creeps to 0.75, count 1
  EXPECT_TRUE(sk.observe(4, 0.69));  // above 0.75 − 0.1: count 2, best 0.69
  EXPECT_EQ(sk.waited(), 2);
  EXPECT_FALSE(sk.should_stop());
  EXPECT_TRUE(sk.observe(5, 0.68));  // count 3: stop, with the best at epoch 5
  EXPECT_TRUE(sk.should_stop());
  EXPECT_EQ(sk.best_epoch(), 5);
  EXPECT_EQ(sk.best_text(), "best epoch 5 (train loss 0.6800)");
  // Keras's rule on the same losses: 0.69 is more than 0.1 below the last gain (0.8), so a gain;
  // 0.68 is not, and only gains become the best.
  cfg.early_stop_rule = StopRule::keras;
  EarlyStopping keras(cfg);
  for (auto [epoch, loss] : {std::pair{1, 1.0}, {2, 0.8}, {3, 0.75}, {4, 0.69}}) keras.observe(epoch, loss);
  EXPECT_EQ(keras.best_epoch(), 4);
  EXPECT_FALSE(keras.observe(5, 0.68));
  EXPECT_EQ(keras.waited(), 1);
  EXPECT_EQ(keras.best_epoch(), 4);
  // Higher is better for accuracy: a tie with best + tol counts as a gain under sklearn's rule.
  cfg.early_stop_rule = StopRule::sklearn;
  cfg.early_stop_on = StopOn::accuracy;
  cfg.min_delta = 0.5;
  EarlyStopping acc(cfg);
  acc.observe(1, 90.0);
  acc.observe(2, 90.5);
  EXPECT_EQ(acc.waited(), 0);
}

TEST(Training, WeightsHashIsFnv1a64OfTheFloatBytes) {
  // FNV-1a 64 of no bytes is its offset basis; of 1.0f (bytes 00 00 80 3f) computed by hand.
  EXPECT_EQ(hash_hex(weights_hash({})), "cbf29ce484222325");
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char b : {0x00, 0x00, 0x80, 0x3f}) h = (h ^ b) * 0x100000001b3ULL;
  char want[17];
  std::snprintf(want, sizeof want, "%016llx", static_cast<unsigned long long>(h));
  float one = 1.0f;
  EXPECT_EQ(hash_hex(weights_hash(std::span<const float>(&one, 1))), want);
}

}  // namespace
}  // namespace ptrain
