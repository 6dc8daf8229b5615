#pragma once
// The best epoch so far, and whether to stop. By Keras's rule (EarlyStopping) an epoch is a gain
// when its validation accuracy (or a regression's R²) beats the best by more than --min-delta,
// or its loss falls below the best by more, and only a gain becomes the best; by scikit-learn's
// (MLP's _no_improvement_count) a gain beats the best by at least --min-delta, and any better
// epoch becomes the best. After --early-stop epochs in a row without a gain the run stops; under
// --lr-decay adaptive the rate is cut by 5 instead and the count starts again, until the rate is
// at most 1e-6 (scikit-learn's "adaptive"). The state travels in checkpoints, so a resumed run
// judges epochs, and sets its rate, as the whole run would.
#include <map>
#include <optional>
#include <string>

#include "ptrain/core/config.hpp"

namespace ptrain {

class EarlyStopping {
 public:
  explicit EarlyStopping(const TrainConfig& cfg)
      : patience_(cfg.early_stop),
        on_(cfg.early_stop_on),
        rule_(cfg.early_stop_rule),
        min_delta_(cfg.min_delta),
        adaptive_lr_(cfg.lr_decay == LrDecay::adaptive ? cfg.lr : 0) {}

  // Records epoch `epoch`'s validation value; true when it is the best so far. Under adaptive,
  // patience running out cuts the rate instead while it is above the floor.
  bool observe(int epoch, double value);
  bool should_stop() const { return patience_ > 0 && waited_ >= patience_; }
  int lr_cuts() const { return cuts_; }

  std::optional<double> best() const { return best_; }
  int best_epoch() const { return best_epoch_; }
  int waited() const { return waited_; }
  // "best epoch 7 (val accuracy 97.80%)"; "stopped early after epoch 10: 3 epochs without a gain".
  std::string best_text() const;
  std::string stop_text(int epoch) const;

  // The state as checkpoint metadata ("best_epoch", "best_value", "epochs_without_gain",
  // "lr_cuts"), and back (a DataError naming `path` when malformed; absent keys: no epoch seen
  // yet, or no cut).
  void save(std::map<std::string, std::string>& metadata) const;
  void restore(const std::map<std::string, std::string>& metadata, const std::string& path);

 private:
  int patience_;
  StopOn on_;
  StopRule rule_;
  double min_delta_;
  double adaptive_lr_;  // the rate adaptive cuts; 0: another schedule
  std::optional<double> best_;
  int best_epoch_ = 0, waited_ = 0, cuts_ = 0;
};

}  // namespace ptrain
