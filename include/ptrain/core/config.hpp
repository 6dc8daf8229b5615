#pragma once
// A run's configuration, typed: the network, the training run and the inference commands, every
// default a member initialiser. The recipe — the fields that decide a run's arithmetic — is
// described once, in recipe.hpp; the choices' names are in choices.hpp.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ptrain/core/choices.hpp"

namespace ptrain {

// Pixels are bytes; the blog's fix feeds them scaled to [0, 1].
inline constexpr double kPixelScale = 1.0 / 255.0;
// Examples per parallel task: 8 fill a tile of the forward kernel on AVX-512 (4 on AVX2) and
// give two threads two chunks each at batch 32.
inline constexpr int kDefaultChunkSize = 8;
// The learning rate --preset blog uses when --lr is not given (the post names none).
inline constexpr double kBlogLr = 0.1;
// A regression's default learning rate (Adam's, as scikit-learn's MLPRegressor's).
inline constexpr double kRegressionLr = 0.001;

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
  Task task = Task::classification;  // regression: linear outputs, one per target

  bool regression() const { return task == Task::regression; }
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
  double momentum = 0;  // momentum μ, 0 ≤ μ < 1 (sgd)
  MomentumKind momentum_kind = MomentumKind::classical;
  Optimizer optimizer = Optimizer::sgd;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // adam, adamw
  double weight_decay = 0;                        // λ ≥ 0
  LrDecay lr_decay = LrDecay::none;
  int step_size = 10;     // --lr-decay step: epochs between decays
  double gamma = 0.1;     // --lr-decay step: the factor each time
  double power_t = 0.5;   // --lr-decay invscaling: the exponent
  int warmup_epochs = 0;  // linear warm-up in front of the schedule
  int early_stop = 0;     // patience in epochs without a gain; 0: run every epoch
  StopOn early_stop_on = StopOn::accuracy;
  StopRule early_stop_rule = StopRule::keras;
  Shuffle shuffle = Shuffle::epoch;
  double min_delta = 0;  // a gain must exceed this (percentage points of accuracy, or loss)
  int epochs = 10;       // part of the recipe only under a cosine decay, which spans them

  // The net's shape when the data decides it (no --layers): the input layer is the image size,
  // the output layer `classes` (0: the largest label + 1), these hidden sizes between.
  std::vector<int> hidden{112, 16};
  int classes = 0;
  // Float features only: --standardize (from the training rows) or --scale X (0: neither).
  bool standardize = false;
  double feature_scale = 0;
  std::vector<float> input_shift, input_factor;    // the transform applied, for the model file
  std::vector<float> target_shift, target_factor;  // regression with --standardize: the targets' transform
  // Regression: the CSV target columns (--target-columns, label_column's words, comma
  // separated), and files of targets by role when they are not in the features' files.
  std::string target_columns = "last";
  std::string train_targets, test_targets, val_targets;

  // How the run is carried out: none of these changes the weights.
  std::string data_dir = default_data_dir();
  std::string train_file, test_file, val_file;  // features files by role, instead of data_dir
  CsvHeader csv_header = CsvHeader::detect;     // how CSV files are read (--header, --label-column)
  std::string label_column = "last";
  std::string npz_keys;  // --npz-keys FEATURES,LABELS; empty: by role
  int threads = hardware_threads();
  int chunk_size = kDefaultChunkSize;         // examples per parallel task
  Subnormals subnormals = Subnormals::flush;  // keep: IEEE gradual underflow, for measuring flushing
  std::string metrics_path;                   // JSON Lines; empty: none
  bool profile = false;                       // per-epoch phase times (parallel engine)
  std::string save_path;                      // final model (F32 safetensors); empty: none
  std::string save_best_path;  // the model of the best validation epoch, kept as the run goes; empty: none
  std::string init_from;       // start from this model file's weights
  int checkpoint_every = 0;    // epochs; 0: no checkpoints
  std::string checkpoint_dir;  // where checkpoints go
  std::string resume;          // checkpoint file, or a folder whose newest checkpoint is taken
  std::string config_path;     // --config, read before the run (so never one of its outputs)
  int keep_last = 3;           // checkpoints kept: the newest and two to fall back on; 0: all
  std::string run_id;          // set by start_point: new, or the resumed run's
  std::map<std::string, std::string> data_record;  // what the data was (data_metadata()), for model files
  bool exact_reduce = false;                       // MPI: the ranks combine gradients in one process's order
  double rank_timeout = 120;                       // MPI: seconds a rank waits for the others before giving up
  bool restore_best = false;                       // Python: the model ends with the best judged epoch's weights
  bool quiet = false;                              // only errors and the final result
  bool progress_bar = false;                       // redraw a progress line (stdout is a terminal)
  std::set<std::string> explicit_options;          // given on the command line or in --config
};

// `ptrain eval` and `ptrain predict`: a saved model used on data.
struct InferenceConfig {
  std::string model;
  std::string data_dir = default_data_dir();
  std::string test_file;                // a features file to evaluate whole, instead of the model's test set
  std::optional<CsvHeader> csv_header;  // default: how the model's own files were read
  std::optional<std::string> label_column;
  std::optional<std::string> npz_keys;
  std::optional<std::string> target_columns;  // default: the model's own
  std::string test_targets;                   // eval --test: its targets in a file of their own
  bool data_dir_given = false;                // else the model's own data files, when it records them
  std::optional<SplitKind> split;             // default: the model's own
  std::optional<std::size_t> val_size;        // default: the model's own
  std::optional<std::uint64_t> seed;          // default: the model's own, so its split is the training run's
  int threads = hardware_threads();
  std::string metrics_path;            // eval: a JSON object
  std::string image;                   // predict: a PGM file
  std::string input;                   // predict: a features file, every example predicted
  std::string output;                  // predict --input: the CSV's path (empty: standard output)
  std::string config_path;             // --config
  std::optional<std::uint64_t> index;  // predict: an index into the test set
  bool terminal = false;               // predict: standard output is a terminal (names are escaped there)
};

// Whether the data decides the net's input and output sizes: no --layers, and no checkpoint or
// model (--resume, --init-from) that brings its own net.
bool net_from_data(const TrainConfig& c);
// Labels are bytes: at most 256 classes.
inline constexpr int kMaxClasses = 256;

}  // namespace ptrain
