#pragma once
// The learning rate epoch by epoch: a linear warm-up, then none, a cosine decay or PyTorch's
// StepLR (config.hpp's LrDecay says how each is defined). Constant within an epoch.
#include <string>

#include "ptrain/core/config.hpp"

namespace ptrain {

// The learning rate of epoch `epoch` (1-based).
double epoch_lr(const TrainConfig& cfg, int epoch);

// " (cosine decay)", " (×0.1 every 10 epochs, after 2 warm-up epochs)": for the run's header.
std::string schedule_text(const TrainConfig& cfg);

}  // namespace ptrain
