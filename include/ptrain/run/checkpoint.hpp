#pragma once
// Model files and checkpoints as a training run sees them: what goes into __metadata__, and
// where a run starts — a checkpoint it continues, a model's weights, or the initialisation.
//
// The training state is small because every source of randomness is a stream derived from the
// seed: the initial weights, the split, and epoch e's shuffle (its own stream, seeded by seed
// and e). So "where the run is" — epochs done and batches done in the current epoch — fixes
// the random-number position exactly; nothing is replayed or skipped on resume. The learning
// rate's state is the recipe and the epoch; momentum's is the velocity, saved as tensors
// beside the parameters.
#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "ptrain/core/config.hpp"
#include "ptrain/engine/engine.hpp"
#include "ptrain/io/model_file.hpp"

namespace ptrain {

// Where a run is.
struct RunPosition {
  int epochs_done = 0;                 // completed epochs
  std::uint64_t batches_in_epoch = 0;  // batches done in epoch epochs_done + 1
  std::uint64_t steps = 0;             // SGD steps since the start
  // The batch losses of epoch epochs_done + 1 so far, summed in order, so that a resumed epoch
  // reports the whole epoch's loss; NaN when a checkpoint from before it did not record it.
  double epoch_loss_sum = 0;
};

// Where a run starts: empty engine state means the engine's own initial weights.
struct StartPoint {
  RunPosition position;
  EngineState state;
  std::string note;                                  // "resumed from …", "weights from …", or empty
  std::map<std::string, std::string> metadata;       // the checkpoint's, when resuming
  std::map<std::string, std::string> init_metadata;  // the --init-from model's
};

// `path` itself, or in a folder the checkpoint-<digits>.safetensors whose metadata holds the
// highest step, among those that load (the others are listed in `skipped`, with the reason);
// loaded, so that it is read once for the path checks and the start.
struct FoundCheckpoint {
  std::string path;
  ModelFile model;
  std::vector<std::string> skipped;
};
FoundCheckpoint find_checkpoint(const std::string& path);

// From --resume, the checkpoint find_checkpoint(cfg.resume) found (which also makes cfg
// continue its recipe: an option given explicitly with another value is a UsageError naming
// both), from --init-from, or nothing.
StartPoint start_point(TrainConfig& cfg, FoundCheckpoint resume);

// A model file of the engine's parameters with the run's metadata. A checkpoint also holds
// the position and the velocity, at the engine's own precision (F64 for the float64 oracle, so
// its resume is exact); a final model is always F32.
ModelFile make_model_file(const TrainConfig& cfg, const Engine& engine, const RunPosition& position, bool checkpoint);

// DIR/checkpoint-<steps>.safetensors: names sort in training order.
std::string checkpoint_path(const std::string& dir, std::uint64_t steps);

// A run's checkpoint folder, made if need be and held for the run: an advisory lock keeps a
// second run out (released on any exit, even SIGKILL); a folder holding another run's
// checkpoints is refused; ptrain's own temporary files left by a killed write are removed;
// after each save only the run's newest `keep_last` checkpoints stay (0: all); files it cannot
// read as its own are never removed.
class CheckpointFolder {
 public:
  CheckpointFolder(const std::string& dir, const std::string& run_id, int keep_last);
  ~CheckpointFolder();
  CheckpointFolder(const CheckpointFolder&) = delete;
  CheckpointFolder& operator=(const CheckpointFolder&) = delete;
  // Writes the checkpoint of `steps` atomically, then prunes; returns its path.
  std::string save(const ModelFile& checkpoint, std::uint64_t steps);

 private:
  std::string dir_;
  int keep_last_;
  int lock_fd_ = -1;
  std::vector<std::pair<std::uint64_t, std::string>> kept_;  // this run's checkpoints: (step, path)
};

// The command that continues this run from its checkpoint folder: --resume, --epochs and every
// option the user gave that a checkpoint does not record (--save, --metrics, --threads...),
// each shell-quoted where it needs to be.
std::string resume_command(const TrainConfig& cfg);

// A name the checkpoint folder writes and prunes (checkpoint-<digits>.safetensors) or locks.
bool is_checkpoint_folder_name(const std::string& name);

// The model of run `run_id` at the end of epoch `epoch`, from its checkpoint beside `resume` (in
// that folder, or the file's own); nullopt when none is kept.
std::optional<ModelFile> checkpoint_at_epoch(const std::string& resume, const std::string& run_id, int epoch);

// A new run's identity, kept in its checkpoints and carried on by --resume.
std::string new_run_id();

// Checks that a model file's net matches `sizes`; throws UsageError naming both.
void require_same_net(const ModelFile& model, const std::vector<int>& sizes, const std::string& path);

}  // namespace ptrain
