#pragma once
// Epochs, batches, evaluation and reporting: everything between the options and an engine.
#include <cstdint>
#include <iosfwd>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ptrain/engine.hpp"

namespace ptrain {

struct TrainConfig {
  NetSpec spec;
  int epochs = 10;
  int batch_size = 32;
  double lr = 3.0;
  std::uint64_t seed = 42;
  std::string split = "seed";  // "seed" (70/10/20 of all images) or "standard"
  std::size_t val_size = 5000;  // --split standard only
  std::string data_dir;
  EngineKind engine = EngineKind::parallel;
  int threads = 1;
  int chunk_size = 4;
  std::string metrics_path;  // JSON Lines; empty: none
  bool profile = false;      // per-epoch phase times (parallel engine)
  std::string preset = "none";
  Init init = Init::blog;
  double momentum = 0;       // classical momentum μ, 0 ≤ μ < 1
  std::string lr_decay = "none";  // "none" or "cosine"

  std::string save_path;       // final model (F32 safetensors); empty: none
  std::string init_from;       // start from this model file's weights
  int checkpoint_every = 0;    // epochs; 0: no checkpoints
  std::string checkpoint_dir;  // where checkpoints go
  std::string resume;          // checkpoint file, or a folder whose newest checkpoint is taken
  bool exact_reduce = false;   // MPI: Reduce::exact instead of Reduce::fast
  double rank_timeout = 120;   // MPI: seconds a rank waits for the others before giving up
  bool quiet = false;          // only errors and the final result
  bool progress_bar = false;   // redraw a progress line (stdout is a terminal)
  std::set<std::string> explicit_options;  // given on the command line or in --config
};

// The learning rate of epoch `epoch` (1-based): lr itself, or with "cosine" decay
// lr · ½(1 + cos(π (epoch − 1) / epochs)), from lr down towards 0, constant within an epoch.
double epoch_lr(const TrainConfig& cfg, int epoch);

// Sets the recipe of a preset ("none" or "blog") on cfg.spec; throws UsageError for others.
void set_preset(TrainConfig& cfg, const std::string& preset);

// The training order of epoch `epoch` (1-based): `train` shuffled by a stream that depends only
// on the seed and the epoch, so any epoch can be replayed on its own.
std::vector<std::uint32_t> epoch_order(const std::vector<std::uint32_t>& train, std::uint64_t seed, int epoch);

struct EpochResult {
  double mean_loss = 0;  // mean over the epoch's examples of ½‖a − t‖²
  double seconds = 0;    // training only, evaluation excluded
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

// The whole command: load, train, report to `out` and the metrics file. Throws DataError or
// UsageError; returns normally on success. Spread over `cluster`'s ranks, every rank runs it and
// rank 0 alone prints and writes files; failures follow all_or_none / fail_together.
void run_training(const TrainConfig& config, std::ostream& out);
void run_training(const TrainConfig& config, std::ostream& out, Cluster& cluster);

}  // namespace ptrain
