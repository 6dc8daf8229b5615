#include "ptrain/checkpoint.hpp"

#include <cstdio>
#include <filesystem>
#include <map>

#include "ptrain/errors.hpp"

namespace ptrain {
namespace {

namespace fs = std::filesystem;

std::string exact(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);  // round-trips every double
  return buf;
}

// The options that decide a run's arithmetic, as (option, metadata key).
const std::vector<std::pair<std::string, std::string>> kRunOptions{
    {"layers", "layers"}, {"engine", "engine"},   {"seed", "seed"},   {"preset", "preset"},
    {"batch-size", "batch_size"}, {"lr", "lr"}, {"split", "split"}, {"val-size", "val_size"},
    {"activation", "activation"}, {"loss", "loss"}, {"init", "init"}, {"momentum", "momentum"},
    {"lr-decay", "lr_decay"}};

std::map<std::string, std::string> run_metadata(const TrainConfig& cfg) {
  return {{"layers", format_sizes(cfg.spec.sizes, ',')},
          {"engine", cfg.engine == EngineKind::scalar ? "scalar" : "parallel"},
          {"seed", std::to_string(cfg.seed)},
          {"preset", cfg.preset},
          {"batch_size", std::to_string(cfg.batch_size)},
          {"lr", exact(cfg.lr)},
          {"split", cfg.split},
          {"val_size", std::to_string(cfg.val_size)},
          {"activation", name_of(cfg.spec.hidden)},
          {"loss", name_of(cfg.spec.loss)},
          {"init", name_of(cfg.init)},
          {"momentum", exact(cfg.momentum)},
          {"lr_decay", cfg.lr_decay},
          {"decay_epochs", cfg.lr_decay == "cosine" ? std::to_string(cfg.epochs) : "none"}};
}

// A number the checkpoint must hold.
template <class T>
T required_number(const ModelFile& m, const std::string& key, const std::string& path) {
  if (auto v = metadata_number<T>(m, key, path)) return *v;
  throw DataError(path + ": checkpoint metadata lacks '" + key + "'");
}

}  // namespace

ModelFile make_model_file(const TrainConfig& cfg, const Engine& engine, const TrainState& state, bool checkpoint) {
  ModelFile m;
  m.sizes = cfg.spec.sizes;
  m.dtype = checkpoint && engine.float64() ? TensorType::f64 : TensorType::f32;
  m.params = engine.exact_parameters();
  if (checkpoint) m.velocity = engine.velocity();
  m.metadata = run_metadata(cfg);
  m.metadata.insert({{"format", "ptrain"},
                     {"format_version", kModelFormatVersion},
                     {"kind", checkpoint ? "checkpoint" : "model"},
                     {"input_scale", exact(cfg.spec.input_scale)},
                     {"derivative", cfg.spec.blog_derivative ? "blog" : "exact"},
                     {"epoch", std::to_string(state.epochs_done)},
                     {"batches_in_epoch", std::to_string(state.batches_in_epoch)},
                     {"step", std::to_string(state.steps)},
                     {"weights_hash", weights_hash(engine.parameters())}});
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

Resumed resume_from(const std::string& given, TrainConfig& cfg) {
  const std::string path = find_checkpoint(given);
  ModelFile m = load_model_file(path);
  const auto& meta = m.metadata;
  auto get = [&](const std::string& key) {
    auto it = meta.find(key);
    if (it == meta.end()) throw DataError(path + ": checkpoint metadata lacks '" + key + "'");
    return it->second;
  };
  if (get("format") != "ptrain" || get("format_version") != kModelFormatVersion)
    throw DataError(path + ": not a ptrain checkpoint of format version " + kModelFormatVersion);
  if (get("kind") != "checkpoint")
    throw UsageError(path + " is a model file without training state; use --init-from to start from its weights");

  const auto current = run_metadata(cfg);
  for (const auto& [option, key] : kRunOptions)
    if (cfg.explicit_options.count(option) && current.at(key) != get(key))
      throw UsageError("--" + option + " " + current.at(key) + " contradicts the checkpoint " + path + ", which has " +
                       get(key));

  cfg.spec.sizes = parse_layers(get("layers"));
  if (m.sizes != cfg.spec.sizes) throw DataError(path + ": metadata layers disagree with the tensors' shapes");
  const std::string engine = get("engine");
  if (engine != "parallel" && engine != "scalar") throw DataError(path + ": unknown engine '" + engine + "'");
  cfg.engine = engine == "scalar" ? EngineKind::scalar : EngineKind::parallel;
  cfg.seed = required_number<std::uint64_t>(m, "seed", path);
  set_preset(cfg, get("preset"));
  cfg.batch_size = required_number<int>(m, "batch_size", path);
  cfg.lr = required_number<double>(m, "lr", path);
  cfg.split = get("split");
  cfg.val_size = required_number<std::size_t>(m, "val_size", path);
  cfg.momentum = required_number<double>(m, "momentum", path);
  if (!(cfg.momentum >= 0 && cfg.momentum < 1)) throw DataError(path + ": checkpoint metadata holds an invalid momentum");
  try {
    cfg.spec.hidden = parse_activation(get("activation"));
    cfg.spec.loss = parse_loss(get("loss"));
    cfg.init = parse_init(get("init"));
    cfg.lr_decay = get("lr_decay");
    if (cfg.lr_decay != "none" && cfg.lr_decay != "cosine") throw UsageError("unknown lr_decay '" + cfg.lr_decay + "'");
  } catch (const UsageError& e) {
    throw DataError(path + ": checkpoint metadata: " + e.what());
  }
  if (cfg.batch_size < 1 || !(cfg.lr > 0) || (cfg.split != "seed" && cfg.split != "standard"))
    throw DataError(path + ": checkpoint metadata holds an invalid batch size, lr or split");

  Resumed r;
  r.state.epochs_done = required_number<int>(m, "epoch", path);
  r.state.batches_in_epoch = required_number<std::uint64_t>(m, "batches_in_epoch", path);
  r.state.steps = required_number<std::uint64_t>(m, "step", path);
  if (cfg.lr_decay == "cosine") {
    // A cosine schedule is spread over the run's epochs: they are part of its arithmetic.
    const int epochs = required_number<int>(m, "decay_epochs", path);
    if (cfg.explicit_options.count("epochs") && cfg.epochs != epochs)
      throw UsageError("--epochs " + std::to_string(cfg.epochs) + " contradicts the checkpoint " + path +
                       ", whose cosine lr decay runs over " + std::to_string(epochs) + " epochs");
    cfg.epochs = epochs;
  }
  if (cfg.momentum > 0 && m.velocity.empty()) throw DataError(path + ": checkpoint of a run with momentum lacks its velocity");
  r.params = std::move(m.params);
  r.velocity = std::move(m.velocity);
  return r;
}

}  // namespace ptrain
