#include "ptrain/run/checkpoint.hpp"

#include <cstdio>
#include <filesystem>

#include "ptrain/core/errors.hpp"

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

// Loads the checkpoint and makes cfg continue its run.
StartPoint resume_from(const std::string& given, TrainConfig& cfg) {
  const std::string path = find_checkpoint(given);
  ModelFile m = load_model_file(path);
  if (!is_ptrain_file(m.metadata)) throw DataError(path + ": not a ptrain checkpoint (no format in its metadata)");
  if (required_text(m, "kind", path) != "checkpoint")
    throw UsageError(path + " is a model file without training state; use --init-from to start from its weights");
  adopt_recipe(cfg, m.metadata, path, true);
  if (m.sizes != cfg.spec.sizes) throw DataError(path + ": metadata layers disagree with the tensors' shapes");
  if (cfg.momentum > 0 && m.velocity.empty()) throw DataError(path + ": checkpoint of a run with momentum lacks its velocity");

  StartPoint start;
  start.position.epochs_done = required_number<int>(m, "epoch", path);
  start.position.batches_in_epoch = required_number<std::uint64_t>(m, "batches_in_epoch", path);
  start.position.steps = required_number<std::uint64_t>(m, "step", path);
  start.state = {std::move(m.params), std::move(m.velocity)};
  const RunPosition& at = start.position;
  start.note = "resumed from " + path + " after epoch " + std::to_string(at.epochs_done) +
               (at.batches_in_epoch ? " and " + std::to_string(at.batches_in_epoch) + " batches" : "");
  return start;
}

}  // namespace

StartPoint start_point(TrainConfig& cfg) {
  if (!cfg.resume.empty()) return resume_from(cfg.resume, cfg);
  StartPoint start;
  if (!cfg.init_from.empty()) {
    ModelFile m = load_model_file(cfg.init_from);
    require_same_net(m, cfg.spec.sizes, cfg.init_from);
    start.state.params = std::move(m.params);
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
  if (checkpoint) m.velocity = std::move(state.velocity);
  m.metadata = recipe_metadata(cfg);
  m.metadata.insert({{"format", "ptrain"},
                     {"format_version", kModelFormatVersion},
                     {"kind", checkpoint ? "checkpoint" : "model"},
                     {"input_scale", round_trip_text(cfg.spec.input_scale)},
                     {"derivative", cfg.spec.blog_derivative ? "blog" : "exact"},
                     {"epoch", std::to_string(position.epochs_done)},
                     {"batches_in_epoch", std::to_string(position.batches_in_epoch)},
                     {"step", std::to_string(position.steps)},
                     {"weights_hash", hash_hex(weights_hash(engine.parameters()))}});
  return m;
}

std::string checkpoint_path(const std::string& dir, std::uint64_t steps) {
  char name[48];
  std::snprintf(name, sizeof name, "checkpoint-%012llu.safetensors", static_cast<unsigned long long>(steps));
  return (fs::path(dir) / name).string();
}

std::string find_checkpoint(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return path;
  std::string newest;
  for (const auto& entry : fs::directory_iterator(path, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("checkpoint-") && name.ends_with(".safetensors") && entry.path().string() > newest)
      newest = entry.path().string();
  }
  if (newest.empty()) throw DataError(path + ": no checkpoint-*.safetensors in this folder");
  return newest;
}

void require_same_net(const ModelFile& model, const std::vector<int>& sizes, const std::string& path) {
  if (model.sizes != sizes)
    throw UsageError(path + " holds a " + format_sizes(model.sizes, ',') + " net but --layers is " + format_sizes(sizes, ','));
}

}  // namespace ptrain
