#include "ptrain/run/early_stopping.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "ptrain/core/errors.hpp"
#include "ptrain/core/text_parsers.hpp"
#include "ptrain/run/schedule.hpp"

namespace ptrain {
namespace {

double finite_number(const std::string& key, const std::string& text) {
  double v = NAN;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v))
    throw UsageError(key + " '" + text + "' is not a finite number");
  return v;
}

}  // namespace

bool EarlyStopping::observe(int epoch, double value) {
  const bool higher_is_better = on_ == StopOn::accuracy || on_ == StopOn::r2;
  const bool sklearn = rule_ == StopRule::sklearn;
  bool counts = true, better = true;  // a gain; a better value than the best
  if (best_ && higher_is_better) {
    counts = sklearn ? value >= *best_ + min_delta_ : value > *best_ + min_delta_;
    better = value > *best_;
  } else if (best_) {
    counts = sklearn ? value <= *best_ - min_delta_ : value < *best_ - min_delta_;
    better = value < *best_;
  }
  waited_ = counts ? 0 : waited_ + 1;
  if (should_stop() && adaptive_lr_ > 0 && adaptive_lr(adaptive_lr_, cuts_) > kAdaptiveFloor) {
    ++cuts_;
    waited_ = 0;
  }
  const bool becomes_best = sklearn ? better : counts;
  if (becomes_best) {
    best_ = value;
    best_epoch_ = epoch;
  }
  return becomes_best;
}

std::string EarlyStopping::best_text() const {
  if (!best_) return "";
  char value[32];
  if (on_ == StopOn::accuracy)
    std::snprintf(value, sizeof value, "val accuracy %.2f%%", *best_);
  else if (on_ == StopOn::r2)
    std::snprintf(value, sizeof value, "val R² %.4f", *best_);
  else if (on_ == StopOn::train_loss)
    std::snprintf(value, sizeof value, "train loss %.4f", *best_);
  else
    std::snprintf(value, sizeof value, "val loss %.4f", *best_);
  return "best epoch " + std::to_string(best_epoch_) + " (" + value + ")";
}

std::string EarlyStopping::stop_text(int epoch) const {
  const std::string floor = adaptive_lr_ > 0 ? ", the rate cut " + std::to_string(cuts_) + " times to its floor" : "";
  return "stopped early after epoch " + std::to_string(epoch) + ": " + std::to_string(waited_) + " epoch" +
         (waited_ == 1 ? "" : "s") + " without a gain" + floor;
}

void EarlyStopping::save(std::map<std::string, std::string>& metadata) const {
  if (!best_) return;
  metadata["best_epoch"] = std::to_string(best_epoch_);
  metadata["best_value"] = round_trip_text(*best_);
  metadata["epochs_without_gain"] = std::to_string(waited_);
  if (cuts_ > 0) metadata["lr_cuts"] = std::to_string(cuts_);
}

void EarlyStopping::restore(const std::map<std::string, std::string>& metadata, const std::string& path) {
  auto it = metadata.find("best_value");
  if (it == metadata.end()) return;
  try {
    best_ = finite_number("best_value", it->second);
    best_epoch_ = static_cast<int>(parse_integer("best_epoch", metadata.at("best_epoch"), 1, 1'000'000));
    waited_ = static_cast<int>(parse_integer("epochs_without_gain", metadata.at("epochs_without_gain"), 0, 1'000'000));
    auto cuts = metadata.find("lr_cuts");
    cuts_ = cuts == metadata.end() ? 0 : static_cast<int>(parse_integer("lr_cuts", cuts->second, 0, 1'000));
  } catch (const std::exception& e) {
    throw DataError(path + ": metadata best_value, best_epoch, epochs_without_gain and lr_cuts: " + e.what());
  }
}

}  // namespace ptrain
