// The learning rate epoch by epoch against its definitions (PyTorch's CosineAnnealingLR and
// StepLR, scikit-learn's invscaling and adaptive, a linear warm-up in front), and the schedule
// options that do not go together.
#include <gtest/gtest.h>

#include <cmath>

#include "ptrain/core/errors.hpp"
#include "ptrain/core/recipe.hpp"
#include "ptrain/run/early_stopping.hpp"
#include "ptrain/run/schedule.hpp"

namespace ptrain {
namespace {

TEST(Schedule, CosineDecayRunsFromLrTowardsZero) {
  TrainConfig cfg;
  cfg.lr = 2.0;
  cfg.epochs = 4;
  EXPECT_EQ(epoch_lr(cfg, 3, {}), 2.0);
  cfg.lr_decay = LrDecay::cosine;
  EXPECT_DOUBLE_EQ(epoch_lr(cfg, 1, {}), 2.0);
  EXPECT_NEAR(epoch_lr(cfg, 3, {}), 1.0, 1e-15);  // ½(1 + cos(π/2))
  EXPECT_NEAR(epoch_lr(cfg, 4, {}), 2.0 * 0.5 * (1 + std::cos(3.14159265358979323846 * 3 / 4)), 1e-15);
}

TEST(Schedule, StepDecayAndWarmUpFollowTheirDefinitions) {
  TrainConfig cfg;
  cfg.lr = 0.8;
  cfg.epochs = 9;
  cfg.lr_decay = LrDecay::step;  // PyTorch's StepLR(step_size=3, gamma=0.5): 0.8 ×3, 0.4 ×3, 0.2 ×3
  cfg.step_size = 3;
  cfg.gamma = 0.5;
  const double want[] = {0.8, 0.8, 0.8, 0.4, 0.4, 0.4, 0.2, 0.2, 0.2};
  for (int e = 1; e <= 9; ++e) EXPECT_DOUBLE_EQ(epoch_lr(cfg, e, {}), want[e - 1]) << "epoch " << e;
  cfg.warmup_epochs = 3;  // 0.2, 0.4, 0.6, then the schedule from its start: 0.8 ×3, 0.4 ×3
  const double warmed[] = {0.2, 0.4, 0.6, 0.8, 0.8, 0.8, 0.4, 0.4, 0.4};
  for (int e = 1; e <= 9; ++e) EXPECT_DOUBLE_EQ(epoch_lr(cfg, e, {}), warmed[e - 1]) << "warm-up, epoch " << e;
  cfg.lr_decay = LrDecay::cosine;  // the cosine then spans the 6 epochs after the warm-up
  EXPECT_DOUBLE_EQ(epoch_lr(cfg, 2, {}), 0.4);
  EXPECT_DOUBLE_EQ(epoch_lr(cfg, 4, {}), 0.8);
  EXPECT_NEAR(epoch_lr(cfg, 7, {}), 0.8 * 0.5 * (1 + std::cos(3.14159265358979323846 * 3 / 6)), 1e-15);
  cfg.lr_decay = LrDecay::none;
  EXPECT_DOUBLE_EQ(epoch_lr(cfg, 1, {}), 0.2);
  EXPECT_DOUBLE_EQ(epoch_lr(cfg, 9, {}), 0.8);
}

TEST(Schedule, InvscalingDividesByTheExamplesSeenToThePowerT) {
  TrainConfig cfg;
  cfg.lr = 0.1;
  cfg.epochs = 5;
  cfg.lr_decay = LrDecay::invscaling;
  const RateState thousand{1000, 0};
  EXPECT_DOUBLE_EQ(epoch_lr(cfg, 1, thousand), 0.1);                    // no example seen: lr/1
  EXPECT_DOUBLE_EQ(epoch_lr(cfg, 2, thousand), 0.0031606977062050698);  // 0.1/1001^½
  EXPECT_DOUBLE_EQ(epoch_lr(cfg, 3, thousand), 0.00223550917004948);    // 0.1/2001^½
  cfg.power_t = 0.25;
  EXPECT_DOUBLE_EQ(epoch_lr(cfg, 5, {60000, 0}), 0.0045180053118010445);  // 0.1/240001^¼
  cfg.power_t = 9;  // 0.1/60001^9/32 ≈ 3e-46, below float32's normals: refused, naming the epoch
  try {
    check_float32_range(cfg, 60000);
    ADD_FAILURE() << "an invscaling rate that underflows float32 was accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("epoch 2"), std::string::npos) << e.what();
  }
}

TEST(Schedule, AdaptiveCutsByFiveWhenPatienceRunsOutUntilTheFloor) {
  TrainConfig cfg;
  cfg.lr = 0.01;
  cfg.epochs = 100;
  cfg.lr_decay = LrDecay::adaptive;
  cfg.early_stop = 2;
  cfg.early_stop_on = StopOn::train_loss;
  cfg.early_stop_rule = StopRule::sklearn;
  cfg.min_delta = 0.1;
  EarlyStopping judge(cfg);
  // A loss that never falls: patience runs out every second epoch after the first. 0.01/5^5 =
  // 3.2e-6 is above the floor 1e-6 and is cut once more, to 6.4e-7, where the run stops.
  int epoch = 0;
  std::vector<int> cut_after;
  while (!judge.should_stop() && epoch < 100) {
    const int before = judge.lr_cuts();
    judge.observe(++epoch, 1.0);
    if (judge.lr_cuts() > before) cut_after.push_back(epoch);
  }
  EXPECT_EQ(cut_after, (std::vector<int>{3, 5, 7, 9, 11, 13}));
  EXPECT_EQ(epoch, 15);
  EXPECT_DOUBLE_EQ(epoch_lr(cfg, 16, {0, judge.lr_cuts()}), 6.4e-7);
  std::map<std::string, std::string> saved;  // the cuts travel in checkpoints
  judge.save(saved);
  EarlyStopping resumed(cfg);
  resumed.restore(saved, "ckpt");
  EXPECT_EQ(resumed.lr_cuts(), 6);
  EXPECT_TRUE(resumed.should_stop());
}

TEST(Schedule, OptionsThatDoNotGoTogetherAreRefused) {
  TrainConfig cfg;
  cfg.epochs = 5;
  cfg.explicit_options = {"step-size"};
  EXPECT_THROW(check_schedule(cfg), UsageError) << "--step-size without --lr-decay step";
  cfg.lr_decay = LrDecay::step;
  EXPECT_NO_THROW(check_schedule(cfg));
  cfg.explicit_options = {"gamma"};
  cfg.lr_decay = LrDecay::cosine;
  EXPECT_THROW(check_schedule(cfg), UsageError) << "--gamma without --lr-decay step";
  cfg.explicit_options = {"power-t"};
  EXPECT_THROW(check_schedule(cfg), UsageError) << "--power-t without --lr-decay invscaling";
  cfg.lr_decay = LrDecay::invscaling;
  EXPECT_NO_THROW(check_schedule(cfg));
  cfg.explicit_options.clear();
  cfg.lr_decay = LrDecay::adaptive;
  EXPECT_THROW(check_schedule(cfg), UsageError) << "adaptive without --early-stop";
  cfg.early_stop = 3;
  EXPECT_NO_THROW(check_schedule(cfg));
  cfg.lr_decay = LrDecay::cosine;
  cfg.warmup_epochs = 5;
  EXPECT_THROW(check_schedule(cfg), UsageError) << "a warm-up that leaves no epochs";
  cfg.warmup_epochs = 4;
  EXPECT_NO_THROW(check_schedule(cfg));
  cfg.epochs = 0;  // only evaluates: no schedule to check
  cfg.warmup_epochs = 3;
  EXPECT_NO_THROW(check_schedule(cfg));
}

}  // namespace
}  // namespace ptrain
