#pragma once
// A training run: epochs of batches, evaluation, reporting, checkpoints and the final model —
// everything between the options and an engine.
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <vector>

#include "ptrain/cluster/cluster.hpp"
#include "ptrain/core/config.hpp"
#include "ptrain/engine/engine.hpp"
#include "ptrain/run/schedule.hpp"

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

// The loss the net optimises (½‖a − t‖², or cross-entropy), averaged over `examples`; nullopt
// for an empty set. Every rank computes it whole, in one order, so every rank decides alike.
std::optional<double> mean_loss(Engine& engine, const NetSpec& spec, const Dataset& data,
                                const std::vector<std::uint32_t>& examples);

// The whole command: load, train, report to `out` and the metrics file, save. Returns normally
// on success; throws DataError (data, files, divergence, ranks that drifted apart), UsageError
// (options, or a checkpoint they contradict), Interrupted (SIGINT or SIGTERM, after keeping a
// checkpoint when there is a folder for one), and under several ranks AgreedFailure or
// SilentFailure (cluster.hpp). Spread over `cluster`'s ranks, every rank runs it and rank 0
// alone prints and writes files.
void run_training(const TrainConfig& config, std::ostream& out);
void run_training(const TrainConfig& config, std::ostream& out, Cluster& cluster);

}  // namespace ptrain
