#pragma once
// Training on examples already in memory — the Python module's way in. The same engines, epoch
// order, schedules, optimizers and model files as a run from files: the same examples, recipe
// and seed give the same weights_hash as `ptrain --train FILE --val-size 0` (or with a
// validation file). A model saved here is read by `ptrain eval` and `predict`, and back.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ptrain/core/config.hpp"
#include "ptrain/engine/engine.hpp"
#include "ptrain/io/dataset.hpp"
#include "ptrain/io/input_transform.hpp"
#include "ptrain/io/model_file.hpp"
#include "ptrain/run/checkpoint.hpp"
#include "ptrain/run/early_stopping.hpp"

namespace ptrain {

struct EpochRecord {
  int epoch = 0;
  double lr = 0;  // the rate the epoch trained at
  double train_loss = 0;
  std::optional<double> val_accuracy;
  std::optional<double> val_loss;          // when early stopping judges by the loss; always for regression
  std::optional<double> val_r2, val_rmse;  // regression, in the targets' units
  double examples_per_sec = 0, seconds = 0;
};

class ArrayModel {
 public:
  // Shapes the net from the data as the command line does (cfg.hidden, cfg.classes or the
  // largest label + 1, or for a regression the targets' count), applies --standardize/--scale's transform from the
  // training rows, and draws the initial weights. A UsageError or DataError, with the command line's words, when the
  // recipe or the data is wrong.
  ArrayModel(TrainConfig cfg, Dataset train, std::optional<Dataset> val);

  // Trains cfg.epochs epochs. `after_step` runs between steps (it may throw to stop: the model
  // keeps the weights of the last whole step); `after_epoch` gets each epoch's record and returns
  // false to stop early. Early stopping (cfg.early_stop, judged by cfg.early_stop_on) needs a
  // validation set. The epoch loop is the command line's (epoch_loop.hpp).
  // With cfg.restore_best the model ends with the weights of the best epoch early stopping judged
  // (the optimizer's state stays the last epoch's).
  void fit(const std::function<void()>& after_step, const std::function<bool(const EpochRecord&)>& after_epoch);

  // Makes the next fit train `more_epochs` epochs on these examples (the same features, classes
  // or targets; the model's transforms applied), after the epochs done: with the same examples
  // the same weights as one fit of all the epochs (the epoch orders and the optimizer's state
  // carry on). Early stopping's judgement carries on too, unless `judge` is false: then those
  // epochs are not judged, and nothing stops them (scikit-learn's partial_fit).
  void continue_with(Dataset train, std::optional<Dataset> val, int more_epochs, bool judge = true);

  // Lets go of the training and validation examples (after fit: they may live in the caller's
  // memory, which need not outlive the call).
  void release_data() {
    train_ = Dataset{};
    val_.reset();
  }

  // The output layer's activations (softmax probabilities with the xent loss) for data.size()
  // examples (its labels are not read), rows × classes; a regression's predictions in the
  // targets' units (mapped back through the targets' transform), rows × targets.
  std::vector<float> outputs(Dataset data) const;
  int classes() const { return cfg_.spec.classes(); }
  int inputs() const { return cfg_.spec.inputs(); }
  bool float_inputs() const { return float_inputs_; }
  const TrainConfig& config() const { return cfg_; }
  const std::vector<EpochRecord>& history() const { return history_; }
  std::vector<float> parameters() const { return engine_->parameters(); }
  std::string weights_hash() const;

  // A model file, atomically, with the history; `with_state` adds the optimizer's state and
  // early stopping's (with adaptive's cuts), as a checkpoint keeps them, so that a model loaded
  // from it trains on exactly as this one would.
  void save(const std::string& path, bool with_state = false) const;
  static ArrayModel load(const std::string& path);  // any ptrain model file or checkpoint
  // The model as an ONNX file (onnx_export.hpp), atomically.
  void export_onnx(const std::string& path) const;

 private:
  ArrayModel() = default;
  // The model file save writes: weights, recipe, transforms, history (and with_state, save's).
  ModelFile model_file(bool with_state) const;
  // What a model file records of the inputs (their kind and shape, the transform), from these.
  void record_inputs();
  // Whether examples fit the model's net: its inputs, and its classes or targets.
  void check_examples(const Dataset& d, const char* what) const;
  // Checks examples, then applies the model's transforms to them.
  void adopt_examples(Dataset& d, const char* what) const;
  TrainConfig cfg_;
  Dataset train_;
  std::optional<Dataset> val_;
  bool float_inputs_ = false;
  InputTransform transform_;
  TargetTransform target_transform_;  // regression with standardize
  std::shared_ptr<Engine> engine_;
  std::vector<EpochRecord> history_;
  RunPosition position_;
  std::optional<EarlyStopping> stopping_;  // while cfg.early_stop, across fits
  std::vector<double> best_params_;        // cfg.restore_best: the best epoch's weights
  bool judge_ = true;                      // whether the next fit's epochs are judged
};

}  // namespace ptrain
