#include "ptrain/run/schedule.hpp"

#include <cmath>
#include <utility>

#include "ptrain/core/errors.hpp"
#include "ptrain/core/float32_range.hpp"
#include "ptrain/core/text_parsers.hpp"

namespace ptrain {
namespace {

// Epoch s (1-based) of a schedule S epochs long.
double scheduled_lr(const TrainConfig& cfg, int s, int S, const RateState& state) {
  constexpr double kPi = 3.14159265358979323846;
  switch (cfg.lr_decay) {
    case LrDecay::cosine:
      return cfg.lr * 0.5 * (1.0 + std::cos(kPi * (s - 1) / S));
    case LrDecay::step:
      return cfg.lr * std::pow(cfg.gamma, (s - 1) / cfg.step_size);
    case LrDecay::invscaling:  // examples seen before the epoch, + 1
      return cfg.lr / std::pow(static_cast<double>(s - 1) * static_cast<double>(state.train_examples) + 1, cfg.power_t);
    case LrDecay::adaptive:
      return adaptive_lr(cfg.lr, state.cuts);
    case LrDecay::none:
      break;
  }
  return cfg.lr;
}

}  // namespace

double epoch_lr(const TrainConfig& cfg, int epoch, const RateState& state) {
  const int warm = cfg.warmup_epochs, span = std::max(1, cfg.epochs - warm);
  if (epoch <= warm)
    return scheduled_lr(cfg, 1, span, state) * epoch / (warm + 1);  // rising to the schedule's first rate
  return scheduled_lr(cfg, epoch - warm, span, state);
}

void check_float32_range(const TrainConfig& cfg, std::size_t train_examples) {
  for (auto [option, value] : {std::pair{"momentum", cfg.momentum},
                               {"beta1", cfg.beta1},
                               {"beta2", cfg.beta2},
                               {"eps", cfg.eps},
                               {"weight-decay", cfg.weight_decay}})
    if (const std::string why = float32_range_problem(value); !why.empty())
      throw UsageError("--" + std::string(option) + " " + round_trip_text(value) + ": is " + why);
  const RateState state{train_examples, 0};
  for (int epoch = 1; epoch <= cfg.epochs; ++epoch) {
    const double step = epoch_lr(cfg, epoch, state) / cfg.batch_size;
    const std::string why = step == 0 ? "zero, so the epoch would not train" : float32_range_problem(step);
    if (why.empty()) continue;
    const bool decayed = epoch_lr(cfg, epoch, state) != cfg.lr;
    throw UsageError("--lr " + round_trip_text(cfg.lr) + (decayed ? " with its schedule" + schedule_text(cfg) : "") +
                     ": the step epoch " + std::to_string(epoch) + " takes, lr/batch = " + round_trip_text(step) +
                     ", is " + why);
  }
}

std::string schedule_text(const TrainConfig& cfg) {
  std::string s;
  if (cfg.lr_decay == LrDecay::cosine) s = "cosine decay";
  if (cfg.lr_decay == LrDecay::invscaling) s = "invscaling, power_t " + round_trip_text(cfg.power_t);
  if (cfg.lr_decay == LrDecay::adaptive) s = "adaptive: ÷5 when early stopping's patience runs out";
  if (cfg.lr_decay == LrDecay::step) {
    s = "×" + round_trip_text(cfg.gamma) + " every " + std::to_string(cfg.step_size) + " epoch";
    s += cfg.step_size == 1 ? "" : "s";
  }
  if (cfg.warmup_epochs > 0) {
    s += s.empty() ? "" : ", after ";
    s += std::to_string(cfg.warmup_epochs) + " warm-up epoch";
    s += cfg.warmup_epochs == 1 ? "" : "s";
  }
  return s.empty() ? "" : " (" + s + ")";
}

}  // namespace ptrain
