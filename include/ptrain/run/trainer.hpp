#pragma once
// A training run from files: data, the epoch loop (epoch_loop.hpp), evaluation, reporting,
// checkpoints and the final model — everything between the options and an engine.
#include <iosfwd>

#include "ptrain/cluster/cluster.hpp"
#include "ptrain/core/config.hpp"

namespace ptrain {

// The whole command: load, train, report to `out` and the metrics file, save. Returns normally
// on success; throws DataError (data, files, divergence, ranks that drifted apart), UsageError
// (options, or a checkpoint they contradict), Interrupted (SIGINT or SIGTERM, after keeping a
// checkpoint when there is a folder for one), and under several ranks AgreedFailure or
// SilentFailure (cluster.hpp). Spread over `cluster`'s ranks, every rank runs it and rank 0
// alone prints and writes files.
void run_training(const TrainConfig& config, std::ostream& out);
void run_training(const TrainConfig& config, std::ostream& out, Cluster& cluster);

}  // namespace ptrain
