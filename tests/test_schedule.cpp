// The learning rate epoch by epoch against its definitions (PyTorch's CosineAnnealingLR and
// StepLR, a linear warm-up in front), and the schedule options that do not go together.
#include <gtest/gtest.h>

#include <cmath>

#include "ptrain/core/errors.hpp"
#include "ptrain/core/recipe.hpp"
#include "ptrain/run/schedule.hpp"

namespace ptrain {
namespace {

TEST(Schedule, CosineDecayRunsFromLrTowardsZero) {
  TrainConfig cfg;
  cfg.lr = 2.0;
  cfg.epochs = 4;
  EXPECT_EQ(epoch_lr(cfg, 3), 2.0);
  cfg.lr_decay = LrDecay::cosine;
  EXPECT_DOUBLE_EQ(epoch_lr(cfg, 1), 2.0);
  EXPECT_NEAR(epoch_lr(cfg, 3), 1.0, 1e-15);  // ½(1 + cos(π/2))
  EXPECT_NEAR(epoch_lr(cfg, 4), 2.0 * 0.5 * (1 + std::cos(3.14159265358979323846 * 3 / 4)), 1e-15);
}

TEST(Schedule, StepDecayAndWarmUpFollowTheirDefinitions) {
  TrainConfig cfg;
  cfg.lr = 0.8;
  cfg.epochs = 9;
  cfg.lr_decay = LrDecay::step;  // PyTorch's StepLR(step_size=3, gamma=0.5): 0.8 ×3, 0.4 ×3, 0.2 ×3
  cfg.step_size = 3;
  cfg.gamma = 0.5;
  const double want[] = {0.8, 0.8, 0.8, 0.4, 0.4, 0.4, 0.2, 0.2, 0.2};
  for (int e = 1; e <= 9; ++e) EXPECT_DOUBLE_EQ(epoch_lr(cfg, e), want[e - 1]) << "epoch " << e;
  cfg.warmup_epochs = 3;  // 0.2, 0.4, 0.6, then the schedule from its start: 0.8 ×3, 0.4 ×3
  const double warmed[] = {0.2, 0.4, 0.6, 0.8, 0.8, 0.8, 0.4, 0.4, 0.4};
  for (int e = 1; e <= 9; ++e) EXPECT_DOUBLE_EQ(epoch_lr(cfg, e), warmed[e - 1]) << "warm-up, epoch " << e;
  cfg.lr_decay = LrDecay::cosine;  // the cosine then spans the 6 epochs after the warm-up
  EXPECT_DOUBLE_EQ(epoch_lr(cfg, 2), 0.4);
  EXPECT_DOUBLE_EQ(epoch_lr(cfg, 4), 0.8);
  EXPECT_NEAR(epoch_lr(cfg, 7), 0.8 * 0.5 * (1 + std::cos(3.14159265358979323846 * 3 / 6)), 1e-15);
  cfg.lr_decay = LrDecay::none;
  EXPECT_DOUBLE_EQ(epoch_lr(cfg, 1), 0.2);
  EXPECT_DOUBLE_EQ(epoch_lr(cfg, 9), 0.8);
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
  cfg.explicit_options.clear();
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
