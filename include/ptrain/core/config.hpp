#pragma once
// A run's configuration, typed. Every choice is an enum with one name table, used alike by the
// command line, the model files' metadata, resume and eval. Every default is a member
// initialiser below. The recipe — the fields that decide a run's arithmetic — is described once
// (recipe_fields): that table drives the options' help, what a checkpoint stores, what a resume
// adopts and what counts as a contradiction. A new recipe option is a member here, a row in the
// table (config.cpp), the engines that implement it, and its tests.
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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
// (PyTorch's StepLR).
enum class LrDecay { none, cosine, step };
// blog: the post's arithmetic (raw 0–255 pixels, sigmoid's derivative taken twice, lr 0.1).
enum class Preset { none, blog };
// What "best" means for early stopping and --save-best: the highest validation accuracy, or the
// lowest validation loss (the loss optimised, averaged over the validation examples).
enum class StopOn { accuracy, loss };

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
  static constexpr NameTable<Init, 3> table{"init", {{{Init::blog, "blog"}, {Init::xavier, "xavier"}, {Init::he, "he"}}}};
};
template <>
struct Names<EngineKind> {
  static constexpr NameTable<EngineKind, 2> table{
      "engine", {{{EngineKind::parallel, "parallel"}, {EngineKind::scalar, "scalar"}}}};
};
template <>
struct Names<SplitKind> {
  static constexpr NameTable<SplitKind, 2> table{"split", {{{SplitKind::seed, "seed"}, {SplitKind::standard, "standard"}}}};
};
template <>
struct Names<LrDecay> {
  static constexpr NameTable<LrDecay, 3> table{
      "lr-decay", {{{LrDecay::none, "none"}, {LrDecay::cosine, "cosine"}, {LrDecay::step, "step"}}}};
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
  static constexpr NameTable<StopOn, 2> table{"early-stop-on", {{{StopOn::accuracy, "accuracy"}, {StopOn::loss, "loss"}}}};
};
template <>
struct Names<Optimizer> {
  static constexpr NameTable<Optimizer, 3> table{
      "optimizer", {{{Optimizer::sgd, "sgd"}, {Optimizer::adam, "adam"}, {Optimizer::adamw, "adamw"}}}};
};

template <>
struct Names<Subnormals> {
  static constexpr NameTable<Subnormals, 2> table{
      "subnormals", {{{Subnormals::flush, "flush"}, {Subnormals::keep, "keep"}}}};
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

// Pixels are bytes; the blog's fix feeds them scaled to [0, 1].
inline constexpr double kPixelScale = 1.0 / 255.0;
// Examples per parallel task: 8 fill a tile of the forward kernel on AVX-512 (4 on AVX2) and
// give two threads two chunks each at batch 32.
inline constexpr int kDefaultChunkSize = 8;
// The learning rate --preset blog uses when --lr is not given (the post names none).
inline constexpr double kBlogLr = 0.1;

// All hardware threads (at least 1), and the MNIST folder of this checkout: the defaults of
// --threads and --data-dir.
int hardware_threads();
std::string default_data_dir();

// The network and the arithmetic of its units. `blog_derivative` reproduces the post's defect
// of taking sigmoid's derivative of the activation again, σ(a)(1−σ(a)) instead of a(1−a).
struct NetSpec {
  std::vector<int> sizes{784, 112, 16, 10};
  double input_scale = kPixelScale;  // 1.0 feeds raw 0–255 pixels, as the post does
  bool blog_derivative = false;
  Activation hidden = Activation::sigmoid;
  Loss loss = Loss::mse;

  int num_layers() const { return static_cast<int>(sizes.size()) - 1; }
  int inputs() const { return sizes.front(); }
  int classes() const { return sizes.back(); }
  std::string describe() const;  // "784-112-16-10"
};

struct TrainConfig {
  // The recipe (recipe_fields below).
  NetSpec spec;
  EngineKind engine = EngineKind::parallel;
  std::uint64_t seed = 42;
  Preset preset = Preset::none;
  int batch_size = 32;
  double lr = 3.0;
  SplitKind split = SplitKind::seed;
  std::size_t val_size = 5000;  // --split standard only
  Init init = Init::blog;
  double momentum = 0;  // classical momentum μ, 0 ≤ μ < 1 (sgd)
  Optimizer optimizer = Optimizer::sgd;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // adam, adamw
  double weight_decay = 0;                        // λ ≥ 0
  LrDecay lr_decay = LrDecay::none;
  int step_size = 10;      // --lr-decay step: epochs between decays
  double gamma = 0.1;      // --lr-decay step: the factor each time
  int warmup_epochs = 0;   // linear warm-up in front of the schedule
  int early_stop = 0;      // patience in epochs without a gain; 0: run every epoch
  StopOn early_stop_on = StopOn::accuracy;
  double min_delta = 0;    // a gain must exceed this (percentage points of accuracy, or loss)
  int epochs = 10;  // part of the recipe only under a cosine decay, which spans them

  // The net's shape when the data decides it (no --layers): the input layer is the image size,
  // the output layer `classes` (0: the largest label + 1), these hidden sizes between.
  std::vector<int> hidden{112, 16};
  int classes = 0;
  // Float features only: --standardize (from the training rows) or --scale X (0: neither).
  bool standardize = false;
  double feature_scale = 0;
  std::vector<float> input_shift, input_factor;  // the transform applied, for the model file

  // How the run is carried out: none of these changes the weights.
  std::string data_dir = default_data_dir();
  std::string train_file, test_file, val_file;  // features files by role, instead of data_dir
  CsvHeader csv_header = CsvHeader::detect;     // how CSV files are read (--header, --label-column)
  std::string label_column = "last";
  std::string npz_keys;                         // --npz-keys FEATURES,LABELS; empty: by role
  int threads = hardware_threads();
  int chunk_size = kDefaultChunkSize;  // examples per parallel task
  Subnormals subnormals = Subnormals::flush;  // keep: IEEE gradual underflow, for measuring flushing
  std::string metrics_path;    // JSON Lines; empty: none
  bool profile = false;        // per-epoch phase times (parallel engine)
  std::string save_path;       // final model (F32 safetensors); empty: none
  std::string save_best_path;  // the model of the best validation epoch, kept as the run goes; empty: none
  std::string init_from;       // start from this model file's weights
  int checkpoint_every = 0;    // epochs; 0: no checkpoints
  std::string checkpoint_dir;  // where checkpoints go
  std::string resume;          // checkpoint file, or a folder whose newest checkpoint is taken
  std::string config_path;     // --config, read before the run (so never one of its outputs)
  int keep_last = 3;           // checkpoints kept: the newest and two to fall back on; 0: all
  std::string run_id;          // set by start_point: new, or the resumed run's
  std::map<std::string, std::string> data_record;  // what the data was (data_metadata()), for model files
  bool exact_reduce = false;   // MPI: the ranks combine gradients in one process's order
  double rank_timeout = 120;   // MPI: seconds a rank waits for the others before giving up
  bool quiet = false;          // only errors and the final result
  bool progress_bar = false;   // redraw a progress line (stdout is a terminal)
  std::set<std::string> explicit_options;  // given on the command line or in --config
};

// `ptrain eval` and `ptrain predict`: a saved model used on data.
struct InferenceConfig {
  std::string model;
  std::string data_dir = default_data_dir();
  std::string test_file;  // a features file to evaluate whole, instead of the model's test set
  std::optional<CsvHeader> csv_header;      // default: how the model's own files were read
  std::optional<std::string> label_column;
  std::optional<std::string> npz_keys;
  bool data_dir_given = false;  // else the model's own data files, when it records them
  std::optional<SplitKind> split;       // default: the model's own
  std::optional<std::size_t> val_size;  // default: the model's own
  std::optional<std::uint64_t> seed;    // default: the model's own, so its split is the training run's
  int threads = hardware_threads();
  std::string metrics_path;             // eval: a JSON object
  std::string image;                    // predict: a PGM file
  std::string input;                    // predict: a features file, every example predicted
  std::string output;                   // predict --input: the CSV's path (empty: standard output)
  std::string config_path;              // --config
  std::optional<std::uint64_t> index;   // predict: an index into the test set
};

// One field of the recipe: its option, its model-file metadata key, its value as text (stored,
// compared and shown as the default) and how that text is read back (a UsageError naming the
// option when it is invalid). A field without help is set by another option (decay_epochs by
// --epochs) and is not an option of its own.
struct RecipeField {
  std::string_view option, key, help;
  std::string (*text)(const TrainConfig&);
  void (*adopt)(TrainConfig&, const std::string&);
  // The value a checkpoint written before this field existed had (empty: every one has it).
  std::string_view before = {};
};
std::span<const RecipeField> recipe_fields();
const RecipeField& recipe_field(std::string_view option);

// The recipe as metadata: one entry per field.
std::map<std::string, std::string> recipe_metadata(const TrainConfig& cfg);

// Makes cfg follow the recipe stored in `metadata` (of the file `path`). A field given
// explicitly with another value is a UsageError naming both; a missing key is a DataError when
// `all_required` (a checkpoint), else cfg keeps its value (a model from another tool); an
// invalid stored value is a DataError naming `path`.
void adopt_recipe(TrainConfig& cfg, const std::map<std::string, std::string>& metadata, const std::string& path,
                  bool all_required);

// --momentum is SGD's; --beta1, --beta2 and --eps are Adam's and AdamW's: one given explicitly
// (cfg.explicit_options) for another optimizer is a UsageError.
void check_optimizer_options(const TrainConfig& cfg);

// Sets a preset's arithmetic on cfg.spec.
void set_preset(TrainConfig& cfg, Preset preset);
// --preset blog's learning rate (kBlogLr) when --lr is not among cfg.explicit_options.
void apply_preset_lr(TrainConfig& cfg);

// Numbers in option text; each throws UsageError naming the option and the value.
long long parse_integer(std::string_view option, const std::string& text, long long min, long long max);
double parse_positive_real(std::string_view option, const std::string& text);

// The value of a double that reads back to the same bits ("%.17g").
std::string round_trip_text(double v);

// "784,112,16,10" with separator ','; "784-112-16-10" with '-'.
std::string format_sizes(const std::vector<int>& sizes, char separator);

// Parses "784,112,16,10"; throws UsageError naming the problem.
std::vector<int> parse_layers(const std::string& text);
// --hidden: sizes, or "none" for a net with no hidden layer.
std::vector<int> parse_hidden(const std::string& text);
// Whether the data decides the net's input and output sizes: no --layers, and no checkpoint or
// model (--resume, --init-from) that brings its own net.
bool net_from_data(const TrainConfig& c);
// Labels are bytes: at most 256 classes.
inline constexpr int kMaxClasses = 256;

}  // namespace ptrain
