#pragma once
// Model files and checkpoints as a training run sees them: what goes into __metadata__, and how
// a resumed run is reconciled with the checkpoint it continues.
//
// The training state is small because every source of randomness is a stream derived from the
// seed: the initial weights, the split, and epoch e's shuffle (its own stream, seeded by seed
// and e). So "where the run is" — epochs done and batches done in the current epoch — fixes
// the random-number position exactly; nothing is replayed or skipped on resume. The learning
// rate's state is the lr, its decay schedule and the epoch; momentum's is the velocity, saved
// as tensors beside the parameters.
#include <cstdint>
#include <string>
#include <vector>

#include "ptrain/engine.hpp"
#include "ptrain/model_file.hpp"
#include "ptrain/trainer.hpp"

namespace ptrain {

struct TrainState {
  int epochs_done = 0;              // completed epochs
  std::uint64_t batches_in_epoch = 0;  // batches done in epoch epochs_done + 1
  std::uint64_t steps = 0;          // SGD steps since the start
};

// A model file of the engine's parameters with the run's metadata. A checkpoint also holds
// the training state, at the engine's own precision (F64 for the float64 oracle, so its
// resume is exact); a final model is always F32.
ModelFile make_model_file(const TrainConfig& cfg, const Engine& engine, const TrainState& state, bool checkpoint);

// DIR/checkpoint-<steps>.safetensors: names sort in training order.
std::string checkpoint_path(const std::string& dir, std::uint64_t steps);

// `path` itself, or the newest checkpoint in it when it is a folder.
std::string find_checkpoint(const std::string& path);

struct Resumed {
  TrainState state;
  std::vector<double> params, velocity;
};

// Loads the checkpoint and makes `cfg` continue its run: options that decide the arithmetic
// (layers, engine, seed, preset, batch size, lr, split, validation size) come from the
// checkpoint, and one given explicitly with another value is a UsageError naming both.
Resumed resume_from(const std::string& path, TrainConfig& cfg);

// Checks that a model file's net matches `sizes`; throws UsageError naming both.
void require_same_net(const ModelFile& model, const std::vector<int>& sizes, const std::string& path);

}  // namespace ptrain
