#pragma once
// The learning rate epoch by epoch: a linear warm-up, then none, a cosine decay, PyTorch's
// StepLR or scikit-learn's invscaling and adaptive (choices.hpp's LrDecay says how each is
// defined). Constant within an epoch.
#include <cmath>
#include <cstddef>
#include <string>

#include "ptrain/core/config.hpp"

namespace ptrain {

// What the rate depends on besides the recipe: the training examples of an epoch (invscaling
// counts the examples seen) and the cuts adaptive has made so far (early_stopping.hpp).
struct RateState {
  std::size_t train_examples = 0;
  int cuts = 0;
};

// Adaptive stops cutting, and the run stops, once the rate is at most this (scikit-learn's).
inline constexpr double kAdaptiveFloor = 1e-6;
inline constexpr double kAdaptiveCut = 5;
// Adaptive's rate after `cuts` cuts.
inline double adaptive_lr(double lr, int cuts) { return lr / std::pow(kAdaptiveCut, cuts); }

// The learning rate of epoch `epoch` (1-based).
double epoch_lr(const TrainConfig& cfg, int epoch, const RateState& state);

// A UsageError naming the option when a number the update computes in float32 is not a normal
// float32 there (0 or subnormal, which FTZ/DAZ read as 0, or infinite): the step lr/batch of
// every epoch's rate (before any adaptive cut, which stays above kAdaptiveFloor/5), ε, and a
// non-zero momentum, β or weight decay.
void check_float32_range(const TrainConfig& cfg, std::size_t train_examples);

// " (cosine decay)", " (×0.1 every 10 epochs, after 2 warm-up epochs)": for the run's header.
std::string schedule_text(const TrainConfig& cfg);

}  // namespace ptrain
