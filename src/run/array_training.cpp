#include "ptrain/run/array_training.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <nlohmann/json.hpp>

#include "ptrain/core/errors.hpp"
#include "ptrain/core/profile.hpp"
#include "ptrain/core/recipe.hpp"
#include "ptrain/core/text_parsers.hpp"
#include "ptrain/core/threads.hpp"
#include "ptrain/io/atomic_file.hpp"
#include "ptrain/io/file_checks.hpp"
#include "ptrain/io/model_file.hpp"
#include "ptrain/run/checkpoint.hpp"
#include "ptrain/run/early_stopping.hpp"
#include "ptrain/run/engine_factory.hpp"
#include "ptrain/run/epoch_loop.hpp"
#include "ptrain/run/loaded_model.hpp"
#include "ptrain/run/onnx_export.hpp"
#include "ptrain/run/regression_scores.hpp"
#include "ptrain/run/schedule.hpp"

namespace ptrain {
namespace {

std::vector<std::uint32_t> all_of(const Dataset& d) {
  std::vector<std::uint32_t> v(d.size());
  std::iota(v.begin(), v.end(), 0u);
  return v;
}

// The number of classes: --classes, else the largest label + 1; every label below it.
int classes_of(const TrainConfig& cfg, const Dataset& train) {
  const int largest = train.labels.empty() ? 0 : *std::max_element(train.labels.begin(), train.labels.end());
  if (cfg.classes != 0 && largest >= cfg.classes)
    throw UsageError("label " + std::to_string(largest) + " is outside 0-" + std::to_string(cfg.classes - 1) +
                     ", the classes of classes=" + std::to_string(cfg.classes));
  const int classes = cfg.classes != 0 ? cfg.classes : largest + 1;
  if (classes < 2)
    throw DataError("every label is 0; a classifier needs two classes or more (classes=C fixes how many)");
  return classes;
}

constexpr long long kMaxCount = std::numeric_limits<long long>::max();

// The history as model-file metadata: a JSON array of the records, absent values null.
std::string history_json(const std::vector<EpochRecord>& history) {
  nlohmann::json all = nlohmann::json::array();
  const auto optional = [](const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); };
  for (const EpochRecord& r : history)
    all.push_back({{"epoch", r.epoch},
                   {"lr", r.lr},
                   {"train_loss", r.train_loss},
                   {"val_accuracy", optional(r.val_accuracy)},
                   {"val_loss", optional(r.val_loss)},
                   {"val_r2", optional(r.val_r2)},
                   {"val_rmse", optional(r.val_rmse)},
                   {"examples_per_sec", r.examples_per_sec},
                   {"seconds", r.seconds}});
  return all.dump();
}

std::vector<EpochRecord> history_from_json(const std::string& text, const std::string& path) {
  std::vector<EpochRecord> history;
  try {
    const auto optional = [](const nlohmann::json& v) {
      return v.is_null() ? std::nullopt : std::optional<double>(v.get<double>());
    };
    for (const nlohmann::json& r : nlohmann::json::parse(text)) {
      EpochRecord rec;
      rec.epoch = r.at("epoch").get<int>();
      rec.lr = r.value("lr", 0.0);  // absent from files written before the rate was recorded
      rec.train_loss = r.at("train_loss").get<double>();
      rec.val_accuracy = optional(r.at("val_accuracy"));
      rec.val_loss = optional(r.at("val_loss"));
      rec.val_r2 = optional(r.at("val_r2"));
      rec.val_rmse = optional(r.at("val_rmse"));
      rec.examples_per_sec = r.at("examples_per_sec").get<double>();
      rec.seconds = r.at("seconds").get<double>();
      history.push_back(rec);
    }
  } catch (const nlohmann::json::exception& e) {
    throw DataError(path + ": metadata 'history' is not a list of epoch records (" + e.what() + ")");
  }
  return history;
}

}  // namespace

ArrayModel::ArrayModel(TrainConfig cfg, Dataset train, std::optional<Dataset> val)
    : cfg_(std::move(cfg)), train_(std::move(train)), val_(std::move(val)), float_inputs_(train_.float_inputs) {
  if (train_.size() == 0 || train_.image_size <= 0) throw UsageError("no training examples");
  check_task_options(cfg_);
  if (cfg_.spec.regression() != (train_.target_count > 0))
    throw std::logic_error("ArrayModel: the data's targets and the task disagree");
  cfg_.spec.sizes = {train_.image_size};
  cfg_.spec.sizes.insert(cfg_.spec.sizes.end(), cfg_.hidden.begin(), cfg_.hidden.end());
  cfg_.spec.sizes.push_back(cfg_.spec.regression() ? train_.target_count : classes_of(cfg_, train_));
  if (val_) check_examples(*val_, "the validation examples");
  check_optimizer_options(cfg_);
  check_early_stop_options(cfg_);
  check_schedule(cfg_);
  check_float32_range(cfg_, train_.size());
  if (cfg_.early_stop > 0 && cfg_.early_stop_on != StopOn::train_loss && (!val_ || val_->size() == 0))
    throw UsageError("early stopping judges epochs on validation examples; pass X_val and y_val");
  if (train_.sparse() && (cfg_.standardize || cfg_.feature_scale > 0))
    throw UsageError(
        "standardize and scale apply to dense features: they would fill a sparse X's zeros in; scale "
        "it before (scikit-learn's MaxAbsScaler keeps it sparse)");
  if (float_inputs_ && cfg_.standardize) transform_ = InputTransform::standardize(train_, all_of(train_));
  if (float_inputs_ && cfg_.feature_scale > 0)
    transform_ = InputTransform::scale(train_.image_size, cfg_.feature_scale);
  if (!float_inputs_ && (cfg_.standardize || cfg_.feature_scale > 0))
    throw UsageError("standardize and scale apply to float features; bytes are scaled by 1/255");
  transform_.apply(train_);
  check_feature_range(train_, "the training examples");
  if (val_) transform_.apply(*val_);
  if (cfg_.spec.regression() && cfg_.standardize)
    target_transform_ = TargetTransform::standardize(train_, all_of(train_));
  target_transform_.apply(train_);
  check_target_range(train_, "the training targets");
  if (val_) target_transform_.apply(*val_);
  record_inputs();
  EngineSetup setup;
  setup.kind = cfg_.engine;
  setup.chunk_size = cfg_.chunk_size;
  setup.rule = UpdateRule::of(cfg_);
  engine_ = make_engine(cfg_.spec, init_params(cfg_.spec.sizes, cfg_.init, cfg_.seed), setup);
}

void ArrayModel::fit(const std::function<void()>& after_step,
                     const std::function<bool(const EpochRecord&)>& after_epoch) {
  ThreadLimit threads(cfg_.threads);
  const std::vector<std::uint32_t> train_rows = all_of(train_);
  const std::vector<std::uint32_t> val_rows = val_ ? all_of(*val_) : std::vector<std::uint32_t>{};
  if (cfg_.early_stop > 0 && !stopping_) stopping_.emplace(cfg_);
  EarlyStopping* judging = judge_ && stopping_ ? &*stopping_ : nullptr;
  EpochHooks hooks;
  if (after_step) hooks.after_step = [&](std::size_t) { after_step(); };
  hooks.after_epoch = [&](const EpochReport& report) {
    EpochRecord rec;
    rec.epoch = report.epoch;
    rec.lr = report.lr;
    rec.train_loss = report.training.mean_loss;
    rec.val_accuracy = report.val_accuracy;
    rec.val_loss = report.val_loss;
    if (report.val_scores) rec.val_r2 = report.val_scores->mean_r2, rec.val_rmse = report.val_scores->mean_rmse;
    rec.seconds = report.seconds;
    rec.examples_per_sec =
        report.training.seconds > 0 ? static_cast<double>(report.training.examples) / report.training.seconds : 0.0;
    history_.push_back(rec);
    if (report.best && judging && cfg_.restore_best) best_params_ = engine_->state().params;
    return !after_epoch || after_epoch(rec);
  };
  hooks.diverged = [&](int epoch, const std::string& what) {
    return DataError("training diverged in epoch " + std::to_string(epoch) + " at step " +
                     std::to_string(position_.steps) + " (" + what + "); try a smaller lr");
  };
  EpochLoop loop(cfg_, *engine_, threads, {train_, train_rows, val_ ? *val_ : train_, val_rows}, position_, judging);
  loop.run(hooks);
  if (cfg_.restore_best && judging && !best_params_.empty() && stopping_->best_epoch() != position_.epochs_done) {
    EngineState state = engine_->state();
    state.params = best_params_;
    engine_->restore(state);
  }
}

void ArrayModel::check_examples(const Dataset& d, const char* what) const {
  if (d.image_size != inputs() || d.float_inputs != float_inputs_)
    throw UsageError(std::string(what) + " have " + std::to_string(d.image_size) + " features of " +
                     (d.float_inputs ? "float32" : "bytes") + "; the model takes " + std::to_string(inputs()) + " of " +
                     (float_inputs_ ? "float32" : "bytes"));
  if (cfg_.spec.regression() && d.target_count != classes())
    throw UsageError(std::string(what) + " have " + std::to_string(d.target_count) + " targets each; the model has " +
                     std::to_string(classes()));
  for (std::size_t i = 0; !cfg_.spec.regression() && i < d.labels.size(); ++i)
    if (d.labels[i] >= classes())
      throw UsageError(std::string(what) + ": label " + std::to_string(d.labels[i]) + " at index " + std::to_string(i) +
                       " is outside the model's classes 0-" + std::to_string(classes() - 1));
}

void ArrayModel::adopt_examples(Dataset& d, const char* what) const {
  check_examples(d, what);
  transform_.apply(d);
  check_feature_range(d, what);
  target_transform_.apply(d);
  if (cfg_.spec.regression()) check_target_range(d, what);
}

void ArrayModel::continue_with(Dataset train, std::optional<Dataset> val, int more_epochs, bool judge) {
  if (train.size() == 0) throw UsageError("no training examples");
  if (cfg_.lr_decay == LrDecay::cosine)
    throw UsageError("a cosine schedule spans the epochs fixed when training starts; it cannot train on");
  adopt_examples(train, "the training examples");
  if (val) adopt_examples(*val, "the validation examples");
  if (judge && cfg_.early_stop > 0 && cfg_.early_stop_on != StopOn::train_loss && (!val || val->size() == 0))
    throw UsageError("early stopping judges epochs on validation examples; pass X_val and y_val");
  judge_ = judge;
  TrainConfig next = cfg_;
  next.epochs = position_.epochs_done + more_epochs;
  check_schedule(next);
  check_float32_range(next, train.size());
  cfg_.epochs = next.epochs;
  train_ = std::move(train);
  val_ = std::move(val);
}

std::vector<float> ArrayModel::outputs(Dataset data) const {
  if (data.image_size != inputs() || data.float_inputs != float_inputs_)
    throw UsageError("the model takes " + std::to_string(inputs()) + " features of " +
                     (float_inputs_ ? "float32" : "bytes") + "; these examples have " +
                     std::to_string(data.image_size) + " of " + (data.float_inputs ? "float32" : "bytes"));
  transform_.apply(data);
  ThreadLimit threads(cfg_.threads);
  const std::vector<std::uint32_t> rows = all_of(data);
  std::vector<float> out = threads.run([&] { return engine_->outputs(data, rows); });
  if (target_transform_.empty()) return out;
  const std::vector<double> in_units = outputs_in_units(out, classes(), target_transform_);
  return std::vector<float>(in_units.begin(), in_units.end());
}

void ArrayModel::record_inputs() {
  cfg_.input_shift = transform_.shift;
  cfg_.input_factor = transform_.factor;
  cfg_.target_shift = target_transform_.shift;
  cfg_.target_factor = target_transform_.factor;
  cfg_.data_record = {{"input_kind", float_inputs_ ? "float32" : "bytes"},
                      {"image_shape", std::to_string(inputs()) + "x1"}};
}

std::string ArrayModel::weights_hash() const { return hash_hex(ptrain::weights_hash(engine_->parameters())); }

ModelFile ArrayModel::model_file(bool with_state) const {
  ModelFile file = make_model_file(cfg_, *engine_, RunPosition{position_.epochs_done, 0, position_.steps}, false);
  if (with_state) {
    EngineState state = engine_->state();
    file.velocity = std::move(state.velocity);
    file.second_moment = std::move(state.second_moment);
    if (stopping_) stopping_->save(file.metadata);
  }
  file.metadata["history"] = history_json(history_);
  return file;
}

void ArrayModel::save(const std::string& path, bool with_state) const {
  check_output_file({"save", path});
  save_loadable_model(path, model_file(with_state), "save " + path);
}

void ArrayModel::export_onnx(const std::string& path) const {
  check_output_file({"export_onnx", path});
  ptrain::export_onnx(describe_model(model_file(false), path), path, "export_onnx " + path);
}

ArrayModel ArrayModel::load(const std::string& path) {
  LoadedModel loaded = load_model(path);
  ArrayModel m;
  m.cfg_ = loaded.recipe;
  const auto& metadata = loaded.file.metadata;
  m.float_inputs_ = loaded.float_inputs;
  m.transform_ = loaded.transform;
  m.target_transform_ = loaded.target_transform;
  m.record_inputs();
  // An engine that trains on as the saved one would: its update rule, and its state when kept.
  EngineSetup setup;
  setup.kind = m.cfg_.engine;
  setup.chunk_size = m.cfg_.chunk_size;
  setup.rule = UpdateRule::of(m.cfg_);
  m.engine_ = make_engine(m.cfg_.spec, loaded.engine->parameters(), setup);
  const auto counted = [&](const char* key) -> std::uint64_t {
    auto it = metadata.find(key);
    return it == metadata.end() ? 0 : static_cast<std::uint64_t>(parse_integer(key, it->second, 0, kMaxCount));
  };
  m.position_.epochs_done = static_cast<int>(counted("epoch"));
  m.position_.steps = counted("step");
  // Adam's bias correction counts the steps its moments have seen: none when none were kept.
  const std::uint64_t state_steps = loaded.file.velocity.empty() ? 0 : m.position_.steps;
  m.engine_->restore({loaded.file.params, loaded.file.velocity, loaded.file.second_moment, state_steps});
  if (auto it = metadata.find("history"); it != metadata.end()) m.history_ = history_from_json(it->second, path);
  if (m.cfg_.early_stop > 0 && metadata.count("best_value")) {
    m.stopping_.emplace(m.cfg_);
    m.stopping_->restore(metadata, path);
  }
  return m;
}

}  // namespace ptrain
