#pragma once
// The epoch loop that the command line and the Python module share, and its pieces. Each epoch
// trains on its own seeded order at the schedule's rate, counting steps; a non-finite batch
// loss or weight stops it as diverged; it is validated (accuracy, and the loss when early
// stopping judges by it) and judged (the best so far, and whether to stop early). What a front
// end adds (progress, checkpoints, metrics, the ranks' agreement, callbacks) comes through hooks.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ptrain/cluster/cluster.hpp"
#include "ptrain/core/config.hpp"
#include "ptrain/core/threads.hpp"
#include "ptrain/engine/engine.hpp"
#include "ptrain/io/dataset.hpp"
#include "ptrain/run/checkpoint.hpp"
#include "ptrain/run/early_stopping.hpp"
#include "ptrain/run/regression_scores.hpp"

namespace ptrain {

// The training order of epoch `epoch` (1-based): `train` shuffled by a stream that depends only
// on the seed and the epoch, so any epoch can be replayed on its own.
std::vector<std::uint32_t> epoch_order(const std::vector<std::uint32_t>& train, std::uint64_t seed, int epoch);

struct EpochResult {
  double mean_loss = 0;      // mean over the epoch's examples of the loss optimised
  double seconds = 0;        // training only, evaluation excluded
  std::size_t examples = 0;  // trained in this call (fewer than the epoch's when resumed mid-epoch)
};

// One pass over `order` in consecutive batches (the last may be short), from batch
// `first_batch` on; `after_step(examples done, the batch's summed loss)` runs after each step
// when given, and may throw to stop the epoch.
using StepCallback = std::function<void(std::size_t, double)>;
EpochResult train_epoch(Engine& engine, const Dataset& data, const std::vector<std::uint32_t>& order, int batch_size,
                        double lr, std::size_t first_batch = 0, const StepCallback& after_step = nullptr);

// Percentage of `examples` classified correctly; nullopt for an empty set. With a cluster each
// rank classifies its share and the counts are added.
std::optional<double> accuracy_percent(Engine& engine, const Dataset& data, const std::vector<std::uint32_t>& examples,
                                       Cluster* cluster = nullptr);

// The loss the net optimises (½‖a − t‖², or cross-entropy; a regression's against its targets as
// trained, standardised or not), averaged over `examples`; nullopt
// for an empty set. Every rank computes it whole, in one order, so every rank decides alike.
std::optional<double> mean_loss(Engine& engine, const NetSpec& spec, const Dataset& data,
                                const std::vector<std::uint32_t>& examples);

// What one epoch produced.
struct EpochReport {
  int epoch = 0;
  double lr = 0;  // the rate the epoch trained at
  EpochResult training;
  std::optional<double> val_accuracy;
  std::optional<double> val_loss;  // when early stopping or --save-best judge by the loss; always for regression
  std::optional<RegressionScores> val_scores;  // regression
  bool best = false;                           // the best validation value so far
  bool stop_early = false;                     // early stopping ends the run after this epoch
  bool lr_cut = false;                         // adaptive: the next epoch trains at a fifth of this rate
  double shuffle_seconds = 0, eval_seconds = 0, seconds = 0;
};

struct EpochHooks {
  // Before an epoch's first step: its number, the examples already trained in it (a resume
  // mid-epoch), and its size.
  std::function<void(int epoch, std::size_t done, std::size_t size)> before_epoch;
  // After each step, once it is counted: the examples of the epoch done. May throw to stop.
  std::function<void(std::size_t done)> after_step;
  // After the epoch's training, before its validation.
  std::function<void(int epoch)> after_training;
  // Once the epoch is judged; false stops the run after it.
  std::function<bool(const EpochReport&)> after_epoch;
  // The error a divergence is reported with: the epoch, and what was not finite.
  std::function<DataError(int epoch, const std::string& what)> diverged;
};

// Where the loop trains and validates: rows of a data set each (the same one from files).
struct EpochData {
  const Dataset& train_set;
  const std::vector<std::uint32_t>& train;
  const Dataset& val_set;
  const std::vector<std::uint32_t>& val;
};

class EpochLoop {
 public:
  // `best` judges epochs (early stopping, --save-best) when given; `cluster` shares the
  // validation among ranks.
  EpochLoop(const TrainConfig& cfg, Engine& engine, ThreadLimit& threads, EpochData data, RunPosition& position,
            EarlyStopping* best = nullptr, Cluster* cluster = nullptr)
      : cfg_(cfg),
        engine_(engine),
        threads_(threads),
        data_(data),
        position_(position),
        best_(best),
        cluster_(cluster) {}

  // Epochs from the one after position.epochs_done (resuming its batches) up to cfg.epochs, or
  // until early stopping or a hook stops them. Returns the epoch early stopping ended the run
  // after, or 0.
  int run(const EpochHooks& hooks);

 private:
  EpochReport run_epoch(int epoch, const EpochHooks& hooks);
  void validate_and_judge(EpochReport& report) const;

  const TrainConfig& cfg_;
  Engine& engine_;
  ThreadLimit& threads_;
  EpochData data_;
  RunPosition& position_;
  EarlyStopping* best_;
  Cluster* cluster_;
};

}  // namespace ptrain
