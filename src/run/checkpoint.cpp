#include "ptrain/run/checkpoint.hpp"

#include "ptrain/io/input_transform.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <random>
#include <regex>

#include "ptrain/core/errors.hpp"
#include "ptrain/core/recipe.hpp"
#include "ptrain/core/text_parsers.hpp"
#include "ptrain/run/schedule.hpp"
#include "ptrain/run/loaded_model.hpp"

namespace ptrain {
namespace {

namespace fs = std::filesystem;

// A number the checkpoint must hold.
template <class T>
T required_number(const ModelFile& m, const std::string& key, const std::string& path) {
  if (auto v = metadata_number<T>(m, key, path)) return *v;
  throw DataError(path + ": checkpoint metadata lacks '" + key + "'");
}

std::string required_text(const ModelFile& m, const std::string& key, const std::string& path) {
  auto it = m.metadata.find(key);
  if (it == m.metadata.end()) throw DataError(path + ": checkpoint metadata lacks '" + key + "'");
  return it->second;
}

// Makes cfg continue the checkpoint's run.
StartPoint resume_from(FoundCheckpoint found, TrainConfig& cfg) {
  const std::string& path = found.path;
  ModelFile& m = found.model;
  if (!is_ptrain_file(m.metadata)) throw DataError(path + ": not a ptrain checkpoint (no format in its metadata)");
  if (required_text(m, "kind", path) != "checkpoint")
    throw UsageError(path + " is a model file without training state; use --init-from to start from its weights");
  adopt_recipe(cfg, m.metadata, path, true);
  check_schedule(cfg);
  if (m.sizes != cfg.spec.sizes) throw DataError(path + ": metadata layers disagree with the tensors' shapes");
  if (cfg.momentum > 0 && m.velocity.empty())
    throw DataError(path + ": checkpoint of a run with momentum lacks its velocity");
  if (cfg.optimizer != Optimizer::sgd && m.second_moment.empty())
    throw DataError(path + ": checkpoint of a run with " + name_of(cfg.optimizer) + " lacks its moments");

  StartPoint start;
  start.position.epochs_done = required_number<int>(m, "epoch", path);
  start.position.batches_in_epoch = required_number<std::uint64_t>(m, "batches_in_epoch", path);
  start.position.steps = required_number<std::uint64_t>(m, "step", path);
  start.position.epoch_loss_sum = metadata_number<double>(m, "epoch_loss_sum", path).value_or(NAN);
  if (start.position.batches_in_epoch == 0) start.position.epoch_loss_sum = 0;
  start.state = {std::move(m.params), std::move(m.velocity), std::move(m.second_moment), start.position.steps};
  const RunPosition& at = start.position;
  start.note = "resumed from " + path + " after epoch " + std::to_string(at.epochs_done) +
               (at.batches_in_epoch ? " and " + std::to_string(at.batches_in_epoch) + " batches" : "");
  for (const std::string& why : found.skipped) start.note += "\nwarning: skipped " + why;
  cfg.run_id = m.metadata.count("run_id") ? m.metadata.at("run_id") : "";  // "": from before run ids
  start.metadata = std::move(m.metadata);
  return start;
}

}  // namespace

StartPoint start_point(TrainConfig& cfg, FoundCheckpoint resume) {
  if (!cfg.resume.empty()) return resume_from(std::move(resume), cfg);
  cfg.run_id = new_run_id();
  StartPoint start;
  if (!cfg.init_from.empty()) {
    ModelFile m = load_model_file(cfg.init_from);
    if (cfg.explicit_options.count("layers"))
      require_same_net(m, cfg.spec.sizes, cfg.init_from);
    else
      cfg.spec.sizes = m.sizes;  // the model's net: the data must fit it
    adopt_net_arithmetic(cfg, m.metadata, cfg.init_from);
    apply_task_defaults(cfg);  // a regression's model brings a regression's defaults
    check_task_options(cfg);
    start.state.params = std::move(m.params);
    start.init_metadata = std::move(m.metadata);
    start.note = "weights from " + cfg.init_from;
  }
  return start;
}

ModelFile make_model_file(const TrainConfig& cfg, const Engine& engine, const RunPosition& position, bool checkpoint) {
  ModelFile m;
  m.sizes = cfg.spec.sizes;
  m.dtype = checkpoint && engine.precision() == Precision::float64 ? TensorType::f64 : TensorType::f32;
  EngineState state = engine.state();
  m.params = std::move(state.params);
  if (checkpoint) {
    m.velocity = std::move(state.velocity);
    m.second_moment = std::move(state.second_moment);
  }
  m.metadata = recipe_metadata(cfg);
  m.metadata.insert({{"format", "ptrain"},
                     {"format_version", kModelFormatVersion},
                     {"kind", checkpoint ? "checkpoint" : "model"},
                     {"input_scale", round_trip_text(cfg.spec.input_scale)},
                     {"derivative", cfg.spec.blog_derivative ? "blog" : "exact"},
                     {"epoch", std::to_string(position.epochs_done)},
                     {"batches_in_epoch", std::to_string(position.batches_in_epoch)},
                     {"step", std::to_string(position.steps)},
                     {"weights_hash", hash_hex(weights_hash(engine.parameters()))},
                     {"run_id", cfg.run_id}});
  if (checkpoint && position.batches_in_epoch > 0 && std::isfinite(position.epoch_loss_sum))
    m.metadata["epoch_loss_sum"] = round_trip_text(position.epoch_loss_sum);
  InputTransform{cfg.input_shift, cfg.input_factor}.add_to(m.metadata);
  TargetTransform{cfg.target_shift, cfg.target_factor}.add_to(m.metadata);
  m.metadata.insert(cfg.data_record.begin(), cfg.data_record.end());
  return m;
}

std::string checkpoint_path(const std::string& dir, std::uint64_t steps) {
  char name[48];
  std::snprintf(name, sizeof name, "checkpoint-%012llu.safetensors", static_cast<unsigned long long>(steps));
  return (fs::path(dir) / name).string();
}

namespace {

// The step a checkpoint-<digits>.safetensors name carries, or nullopt for any other name.
std::optional<std::uint64_t> step_in_name(const std::string& name) {
  static const std::regex pattern("checkpoint-([0-9]{1,19})\\.safetensors");
  std::smatch m;
  if (!std::regex_match(name, m, pattern)) return std::nullopt;
  return std::stoull(m[1].str());
}

std::vector<fs::path> checkpoints_in(const std::string& dir) {
  std::vector<fs::path> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (step_in_name(entry.path().filename().string())) found.push_back(entry.path());
  return found;
}

constexpr const char* kLockName = ".ptrain.lock";

}  // namespace

bool is_checkpoint_folder_name(const std::string& name) { return name == kLockName || step_in_name(name); }

FoundCheckpoint find_checkpoint(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return {path, load_model_file(path), {}};
  FoundCheckpoint best;
  std::uint64_t best_step = 0;
  for (const fs::path& file : checkpoints_in(path)) {
    try {
      ModelFile m = load_model_file(file.string());
      const std::uint64_t step = required_number<std::uint64_t>(m, "step", file.string());
      if (best.path.empty() || step > best_step) {
        best.path = file.string();
        best.model = std::move(m);
        best_step = step;
      }
    } catch (const DataError& e) {
      best.skipped.push_back(e.what());
    }
  }
  if (best.path.empty())
    throw DataError(path + ": no readable checkpoint-<step>.safetensors in this folder" +
                    (best.skipped.empty() ? "" : " (" + best.skipped.front() + ")"));
  return best;
}

std::optional<ModelFile> checkpoint_at_epoch(const std::string& resume, const std::string& run_id, int epoch) {
  std::error_code ec;
  const fs::path folder = fs::is_directory(resume, ec) ? fs::path(resume) : fs::path(resume).parent_path();
  for (const fs::path& file : checkpoints_in(folder.empty() ? "." : folder.string())) {
    try {
      ModelFile m = load_model_file(file.string());
      const auto& meta = m.metadata;
      if (meta.count("run_id") && meta.at("run_id") == run_id && meta.count("epoch") &&
          meta.at("epoch") == std::to_string(epoch) && meta.count("batches_in_epoch") &&
          meta.at("batches_in_epoch") == "0") {
        m.metadata["kind"] = "model";  // its weights, as --save-best would have written them
        m.velocity.clear();
        m.second_moment.clear();
        m.dtype = TensorType::f32;
        return m;
      }
    } catch (const DataError&) {
      continue;  // unreadable: not evidence of anything
    }
  }
  return std::nullopt;
}

namespace {

std::string shell_quoted(const std::string& word) {
  const bool plain = !word.empty() && std::all_of(word.begin(), word.end(), [](unsigned char c) {
    return std::isalnum(c) || std::strchr("_./,:=+-@%", c) != nullptr;
  });
  if (plain) return word;
  std::string quoted = "'";
  for (char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

}  // namespace

std::string resume_command(const TrainConfig& cfg) {
  std::string command =
      "ptrain --resume " + shell_quoted(cfg.checkpoint_dir) + " --epochs " + std::to_string(cfg.epochs);
  auto add = [&](const char* option, const std::string& value) {
    if (!cfg.explicit_options.count(option)) return;
    command.append(" --").append(option);
    if (!value.empty()) command.append(" ").append(shell_quoted(value));
  };
  add("checkpoint-dir", cfg.checkpoint_dir);
  add("checkpoint-every", std::to_string(cfg.checkpoint_every));
  add("keep-last", std::to_string(cfg.keep_last));
  add("save", cfg.save_path);
  add("save-best", cfg.save_best_path);
  add("metrics", cfg.metrics_path);
  add("threads", std::to_string(cfg.threads));
  add("chunk-size", std::to_string(cfg.chunk_size));
  add("rank-timeout", round_trip_text(cfg.rank_timeout));
  for (auto [option, on] :
       {std::pair{"profile", cfg.profile}, {"quiet", cfg.quiet}, {"exact-reduce", cfg.exact_reduce}})
    if (on) add(option, "");
  return command;
}

std::string new_run_id() {
  std::random_device entropy;
  return hash_hex(std::uint64_t{entropy()} << 32 | entropy());
}

CheckpointFolder::CheckpointFolder(const std::string& dir, const std::string& run_id, int keep_last)
    : dir_(dir), keep_last_(keep_last) {
  const std::string named = "--checkpoint-dir " + dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw DataError(named + ": cannot create: " + ec.message());
  lock_fd_ = ::open((fs::path(dir) / kLockName).c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) throw DataError(named + ": cannot create its lock file: " + std::strerror(errno));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(lock_fd_);
    throw DataError(named + (err == EWOULDBLOCK ? std::string(": another ptrain run is using this folder")
                                                : std::string(": cannot lock it: ") + std::strerror(err)));
  }
  for (const auto& entry : fs::directory_iterator(dir, ec)) {  // a killed write's leftovers
    const std::string name = entry.path().filename().string();
    if (name.starts_with(".checkpoint-") && name.find(".safetensors.tmp-") != std::string::npos)
      fs::remove(entry.path(), ec);
  }
  for (const fs::path& file : checkpoints_in(dir)) {
    std::string owner;
    std::uint64_t step = 0;
    try {
      const ModelFile m = load_model_file(file.string());
      owner = m.metadata.count("run_id") ? m.metadata.at("run_id") : "";
      step = required_number<std::uint64_t>(m, "step", file.string());
    } catch (const DataError&) {
      continue;  // unreadable: not this run's to prune (find_checkpoint names it when resuming)
    }
    if (owner != run_id) {
      ::close(lock_fd_);
      throw DataError(named + ": holds checkpoints of another run (" + file.filename().string() +
                      "); continue that run with --resume " + dir + ", or choose another folder");
    }
    kept_.emplace_back(step, file.string());
  }
}

CheckpointFolder::~CheckpointFolder() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

std::string CheckpointFolder::save(const ModelFile& checkpoint, std::uint64_t steps) {
  const std::string path = checkpoint_path(dir_, steps);
  save_loadable_model(path, checkpoint, "checkpoint " + path);
  std::erase_if(kept_, [&](const auto& k) { return k.second == path; });
  kept_.emplace_back(steps, path);
  // Only this run's own checkpoints are pruned, the oldest first; anything else stays.
  std::sort(kept_.begin(), kept_.end(), std::greater<>());
  std::error_code ec;
  while (keep_last_ > 0 && kept_.size() > static_cast<std::size_t>(keep_last_)) {
    fs::remove(kept_.back().second, ec);
    kept_.pop_back();
  }
  return path;
}

void require_same_net(const ModelFile& model, const std::vector<int>& sizes, const std::string& path) {
  if (model.sizes != sizes)
    throw UsageError(path + " holds a " + format_sizes(model.sizes, ',') + " net but --layers is " +
                     format_sizes(sizes, ','));
}

}  // namespace ptrain
