#pragma once
// The learning rate epoch by epoch: a linear warm-up, then none, a cosine decay or PyTorch's
// StepLR (config.hpp's LrDecay says how each is defined). Constant within an epoch.
#include <string>

#include "ptrain/core/config.hpp"

namespace ptrain {

// The learning rate of epoch `epoch` (1-based).
double epoch_lr(const TrainConfig& cfg, int epoch);

// A UsageError naming the option when a number the update computes in float32 is not a normal
// float32 there (0 or subnormal, which FTZ/DAZ read as 0, or infinite): the step lr/batch of
// every epoch's rate, ε, and a non-zero momentum, β or weight decay.
void check_float32_range(const TrainConfig& cfg);

// " (cosine decay)", " (×0.1 every 10 epochs, after 2 warm-up epochs)": for the run's header.
std::string schedule_text(const TrainConfig& cfg);

}  // namespace ptrain
