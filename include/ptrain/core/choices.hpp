#pragma once
// Every choice of a run is an enum with one name table, used alike by the command line, the
// model files' metadata, resume and eval: name_of writes a value, parse_choice reads it back.
#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "ptrain/core/errors.hpp"
#include "ptrain/core/float_mode.hpp"

namespace ptrain {

// Hidden-layer units.
enum class Activation { sigmoid, tanh, relu };
// mse: sigmoid outputs, loss ½‖a − t‖² (the blog's). xent: softmax outputs, cross-entropy
// −log softmax(z)_label, whose output delta is softmax − target.
enum class Loss { mse, xent };
// blog: uniform [−0.5, 0.5), biases 1. xavier: uniform ±√(6/(in+out)), he: uniform ±√(6/in),
// biases 0 for both.
enum class Init { blog, xavier, he };
// scalar: the float64 reference oracle. parallel: float32, oneTBB chunks, SIMD kernels.
enum class EngineKind { scalar, parallel };
// seed: all images shuffled, 70% train, 10% validation, 20% test. standard: the training file
// trains (its last val_size validate), the test file tests.
enum class SplitKind { seed, standard };
// After any warm-up (epoch e ≤ W trains at lr·e/(W+1)), epoch e is the schedule's epoch
// s = e − W of S = epochs − W. cosine: lr·½(1 + cos(π(s−1)/S)). step: lr·γ^⌊(s−1)/step_size⌋
// (PyTorch's StepLR). invscaling: lr/((s−1)·N + 1)^power_t for N training examples an epoch
// (scikit-learn's, which counts the examples seen). adaptive: lr/5^k after k cuts, one each time
// early stopping's patience runs out while the rate is above 1e-6 (scikit-learn's).
enum class LrDecay { none, cosine, step, invscaling, adaptive };
// blog: the post's arithmetic (raw 0–255 pixels, sigmoid's derivative taken twice, lr 0.1).
enum class Preset { none, blog };
// What "best" means for early stopping and --save-best: the highest validation accuracy, the
// lowest validation loss (the loss optimised, averaged over the validation examples), or
// (regression) the highest validation R², or the lowest mean training loss of the epoch (no
// validation needed: scikit-learn's MLP rule without early_stopping).
enum class StopOn { accuracy, loss, r2, train_loss };
// When an epoch is a gain. keras: it beats the value of the last gain by more than min_delta
// (Keras's EarlyStopping). sklearn: it beats the best epoch so far by at least min_delta, and
// any better epoch becomes the best (scikit-learn's MLP _no_improvement_count).
enum class StopRule { keras, sklearn };
// SGD's momentum: classical (v = μv + g, w −= lr·v) or Nesterov's (the same v, w −= lr·(μv + g)),
// PyTorch's definitions of both.
enum class MomentumKind { classical, nesterov };
// The order each epoch trains in: epoch: its own seeded shuffle; none: the data's order.
enum class Shuffle { epoch, none };
// classification: an output a class (sigmoid or softmax units, one-hot targets). regression: an
// output a real-valued target (linear units, loss ½‖a − t‖²).
enum class Task { classification, regression };

// PyTorch's definitions. sgd: g + λw, with momentum v = μv + g + λw, w −= lr·v. adam: bias-
// corrected moments m, v of g + λw; w −= lr/(1−β₁ᵗ)·m/(√v/√(1−β₂ᵗ) + ε). adamw: the same moments
// of g alone, and w −= lr·λ·w (decoupled) before the step.
enum class Optimizer { sgd, adam, adamw };

// A CSV's first row: a header when some field of it is not a number where the second row's is
// (auto), or as told.
enum class CsvHeader { detect, yes, no };

// The spelling of each value of E, and the option that takes it.
template <class E>
struct Names;
template <class E, std::size_t N>
struct NameTable {
  std::string_view option;
  std::array<std::pair<E, std::string_view>, N> names;
};
template <>
struct Names<Activation> {
  static constexpr NameTable<Activation, 3> table{
      "activation", {{{Activation::sigmoid, "sigmoid"}, {Activation::tanh, "tanh"}, {Activation::relu, "relu"}}}};
};
template <>
struct Names<Loss> {
  static constexpr NameTable<Loss, 2> table{"loss", {{{Loss::mse, "mse"}, {Loss::xent, "xent"}}}};
};
template <>
struct Names<Init> {
  static constexpr NameTable<Init, 3> table{"init",
                                            {{{Init::blog, "blog"}, {Init::xavier, "xavier"}, {Init::he, "he"}}}};
};
template <>
struct Names<EngineKind> {
  static constexpr NameTable<EngineKind, 2> table{
      "engine", {{{EngineKind::parallel, "parallel"}, {EngineKind::scalar, "scalar"}}}};
};
template <>
struct Names<SplitKind> {
  static constexpr NameTable<SplitKind, 2> table{"split",
                                                 {{{SplitKind::seed, "seed"}, {SplitKind::standard, "standard"}}}};
};
template <>
struct Names<LrDecay> {
  static constexpr NameTable<LrDecay, 5> table{"lr-decay",
                                               {{{LrDecay::none, "none"},
                                                 {LrDecay::cosine, "cosine"},
                                                 {LrDecay::step, "step"},
                                                 {LrDecay::invscaling, "invscaling"},
                                                 {LrDecay::adaptive, "adaptive"}}}};
};
template <>
struct Names<Preset> {
  static constexpr NameTable<Preset, 2> table{"preset", {{{Preset::none, "none"}, {Preset::blog, "blog"}}}};
};

template <>
struct Names<CsvHeader> {
  static constexpr NameTable<CsvHeader, 3> table{
      "header", {{{CsvHeader::detect, "auto"}, {CsvHeader::yes, "yes"}, {CsvHeader::no, "no"}}}};
};

template <>
struct Names<StopOn> {
  static constexpr NameTable<StopOn, 4> table{"early-stop-on",
                                              {{{StopOn::accuracy, "accuracy"},
                                                {StopOn::loss, "loss"},
                                                {StopOn::r2, "r2"},
                                                {StopOn::train_loss, "train-loss"}}}};
};
template <>
struct Names<StopRule> {
  static constexpr NameTable<StopRule, 2> table{"early-stop-rule",
                                                {{{StopRule::keras, "keras"}, {StopRule::sklearn, "sklearn"}}}};
};
template <>
struct Names<MomentumKind> {
  static constexpr NameTable<MomentumKind, 2> table{
      "momentum-kind", {{{MomentumKind::classical, "classical"}, {MomentumKind::nesterov, "nesterov"}}}};
};
template <>
struct Names<Shuffle> {
  static constexpr NameTable<Shuffle, 2> table{"shuffle", {{{Shuffle::epoch, "epoch"}, {Shuffle::none, "none"}}}};
};
template <>
struct Names<Task> {
  static constexpr NameTable<Task, 2> table{
      "task", {{{Task::classification, "classification"}, {Task::regression, "regression"}}}};
};
template <>
struct Names<Optimizer> {
  static constexpr NameTable<Optimizer, 3> table{
      "optimizer", {{{Optimizer::sgd, "sgd"}, {Optimizer::adam, "adam"}, {Optimizer::adamw, "adamw"}}}};
};

template <>
struct Names<Subnormals> {
  static constexpr NameTable<Subnormals, 2> table{"subnormals",
                                                  {{{Subnormals::flush, "flush"}, {Subnormals::keep, "keep"}}}};
};

template <class E>
std::string name_of(E value) {
  for (const auto& [v, name] : Names<E>::table.names)
    if (v == value) return std::string(name);
  return "?";
}

// The value spelled `text`; otherwise a UsageError such as "--loss 'hinge': expected mse or xent".
template <class E>
E parse_choice(std::string_view text) {
  const auto& t = Names<E>::table;
  std::string expected;
  for (std::size_t i = 0; i < t.names.size(); ++i) {
    if (t.names[i].second == text) return t.names[i].first;
    expected += (i == 0 ? "" : i + 1 == t.names.size() ? " or " : ", ") + std::string(t.names[i].second);
  }
  throw UsageError("--" + std::string(t.option) + " '" + std::string(text) + "': expected " + expected);
}

}  // namespace ptrain
