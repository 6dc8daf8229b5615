#include "ptrain/run/options.hpp"

#include <boost/program_options.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include "ptrain/core/errors.hpp"
#include "ptrain/core/recipe.hpp"
#include "ptrain/core/text_parsers.hpp"
#include "ptrain/io/dataset.hpp"
#include "ptrain/run/schedule.hpp"
#include "ptrain/io/file_checks.hpp"

namespace ptrain {
namespace {

namespace po = boost::program_options;

bool given(const po::variables_map& vm, const char* name) { return vm.count(name) && !vm[name].defaulted(); }

std::string text(const po::variables_map& vm, const char* name) { return vm[name].as<std::string>(); }

std::string text(const po::variables_map& vm, std::string_view name) { return text(vm, std::string(name).c_str()); }

void add_option(po::options_description& d, std::string_view name, const std::string& default_text,
                std::string_view help) {
  d.add_options()(std::string(name).c_str(), po::value<std::string>()->default_value(default_text),
                  std::string(help).c_str());
}

// Options shared by every command that reads MNIST.
void add_data_options(po::options_description& d) {
  // clang-format off
  d.add_options()
    ("data-dir", po::value<std::string>()->default_value(default_data_dir()), "folder with the four MNIST IDX files")
    ("threads", po::value<std::string>()->default_value(std::to_string(hardware_threads())),
     "threads in total (default: all hardware threads; more than the cores is allowed)");
  // clang-format on
}

// The split options of a command that does not train: as the recipe describes them.
void add_split_options(po::options_description& d) {
  const TrainConfig defaults;
  for (std::string_view option : {"split", "val-size"}) {
    const RecipeField& f = recipe_field(option);
    add_option(d, f.option, f.text(defaults), f.help);
  }
}

// --config's file: a regular file of at most this size (a config is a few lines; /dev/zero or
// a folder is a mistake to name, not to read).
constexpr std::uintmax_t kMaxConfigBytes = 1 << 20;

void read_config_file(const std::string& path, const po::options_description& desc, po::variables_map& vm) {
  try {
    check_input_file({"--config", path});
  } catch (const DataError& e) {
    throw UsageError(e.what());
  }
  std::error_code ec;
  if (std::filesystem::file_size(path, ec) > kMaxConfigBytes)
    throw UsageError("--config " + path + ": larger than 1 MiB; not a config file");
  std::ifstream file(path);
  if (!file) throw UsageError("--config " + path + ": cannot open");
  try {
    const po::parsed_options parsed = po::parse_config_file(file, desc);
    for (const po::option& o : parsed.options)
      if (o.string_key == "config")
        throw UsageError("--config " + path + ": a config file cannot name another (config = ...)");
    po::store(parsed, vm);  // stored second: the command line wins
  } catch (const po::error& e) {
    throw UsageError("--config " + path + ": " + e.what());
  }
}

po::variables_map parse(const po::options_description& desc, int argc, const char* const* argv,
                        const po::positional_options_description* positional = nullptr) {
  // Words that are not options: an IMAGE for predict, and beyond it none (refused, named).
  po::options_description all;
  all.add(desc).add_options()("stray-word", po::value<std::vector<std::string>>());
  po::positional_options_description words = positional ? *positional : po::positional_options_description();
  words.add("stray-word", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(words).run(), vm);
    if (vm.count("stray-word"))
      throw UsageError("unexpected word '" + vm["stray-word"].as<std::vector<std::string>>().front() +
                       "' on the command line (see --help)");
    if (vm.count("config")) read_config_file(vm["config"].as<std::string>(), desc, vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(std::string(e.what()) + " (see --help)");
  }
  return vm;
}

// A command line of `kind` whose help text is `desc`; --help turns it into a help request.
CommandLine command(CommandKind kind, const po::options_description& desc, const po::variables_map& vm) {
  CommandLine cl;
  std::ostringstream help;
  help << desc;
  cl.help_text = help.str();
  cl.kind = vm.count("help") ? CommandKind::help : kind;
  return cl;
}

// How CSV and .npz files are read, for every command.
void add_format_options(po::options_description& desc, bool train) {
  const std::string model = train ? "" : " (default: as the model's own files were read)";
  // clang-format off
  desc.add_options()
    ("header", po::value<std::string>(), ("CSV: auto, yes or no: whether the first row names the columns (auto: "
     "when some field of it is not a number where the second row's is)" + model).c_str())
    ("label-column", po::value<std::string>(), ("CSV: the labels' column: last (the default), first, its number "
     "counted from 1, or its name in the header; labels are whole numbers 0-255, or names (the classes then in "
     "sorted order, kept in the model)" + model).c_str())
    ("npz-keys", po::value<std::string>(), (".npz: the FEATURES,LABELS arrays to read, '{role}' standing for train, "
     "test or val (default: x_{role},y_{role}, else x,y)" + model).c_str())
    ("target-columns", po::value<std::string>(), ("CSV, --task regression: the real-valued targets' columns, "
     "comma-separated, each as --label-column names one (default: last)" + model).c_str());
  // clang-format on
}

// --train-targets, --test-targets, --val-targets: a regression's targets in files of their own.
void add_target_file_options(po::options_description& desc, bool train) {
  if (train)
    desc.add_options()("train-targets", po::value<std::string>(),
                       "--task regression: the targets of --train's examples in a FILE of their own (CSV, every "
                       "column a target; .npy, N or N×T; IDX float32), row for row");
  desc.add_options()("test-targets", po::value<std::string>(),
                     "--task regression: the targets of --test's examples in a FILE of their own");
  if (train)
    desc.add_options()("val-targets", po::value<std::string>(),
                       "--task regression: the targets of --val's examples in a FILE of their own");
}

// The target options' words, each refused alone (an empty name, a file without its role).
void read_target_options(const po::variables_map& vm, std::string* target_columns, RoleTargets& targets) {
  if (target_columns && vm.count("target-columns")) {
    *target_columns = text(vm, "target-columns");
    if (vm.count("label-column"))
      throw UsageError(
          "--label-column and --target-columns contradict each other: a classification's labels are "
          "one column, a regression's targets are --target-columns");
    for (const std::string& column : split_words(*target_columns))
      if (column.empty()) throw UsageError("--target-columns '" + *target_columns + "': an empty column name");
  }
  for (auto [option, path, role] :
       {std::tuple{"train-targets", &targets.train, "train"}, std::tuple{"test-targets", &targets.test, "test"},
        std::tuple{"val-targets", &targets.val, "val"}}) {
    if (!vm.count(option)) continue;
    *path = text(vm, option);
    if (path->empty()) throw UsageError(std::string("--") + option + ": an empty path");
    if (!vm.count(role)) throw UsageError(std::string("--") + option + " goes with --" + role + " FILE");
  }
}

// --header, --label-column and --npz-keys, checked as they are read.
void read_format_options(const po::variables_map& vm, CsvHeader& header, std::string& label_column,
                         std::string& npz_keys) {
  if (vm.count("header")) header = parse_choice<CsvHeader>(text(vm, "header"));
  if (vm.count("label-column")) label_column = text(vm, "label-column");
  if (vm.count("label-column") && label_column.empty()) throw UsageError("--label-column: an empty name");
  if (vm.count("npz-keys")) npz_keys = text(vm, "npz-keys");
  if (vm.count("npz-keys")) parse_npz_keys(npz_keys);
}

po::options_description train_options() {
  po::options_description desc(
      "ptrain: trains the blog's MNIST network (784-112-16-10, sigmoid, squared error, SGD) on every core\n"
      "Usage: ptrain [train] [options]      train (the default command)\n"
      "       ptrain eval --model FILE      accuracy, per-class accuracy, confusion matrix\n"
      "       ptrain predict --model FILE (IMAGE.pgm | --index N | --input IMAGES)\n"
      "       ptrain export --model FILE --output FILE.onnx   the model for other runtimes (ONNX)\n"
      "Options");
  const TrainConfig defaults;
  desc.add_options()("help,h", "show this help and exit")("version", "show the version and exit");
  add_option(desc, "epochs", std::to_string(defaults.epochs), "passes over the training set (0 only evaluates)");
  for (const RecipeField& f : recipe_fields())
    if (f.option == "layers")  // its default comes from the data
      desc.add_options()("layers", po::value<std::string>(), f.help.data());
    else if (!f.help.empty())
      add_option(desc, f.option, f.text(defaults), f.help);
  add_option(desc, "hidden", format_sizes(defaults.hidden, ','),
             "hidden layer sizes (or none) when --layers is not given: the input and output sizes then come "
             "from the data");
  desc.add_options()("classes", po::value<std::string>(),
                     "number of classes C (2-256; default: the largest label + 1); labels must be below C");
  add_option(desc, "chunk-size", std::to_string(defaults.chunk_size),
             "examples per parallel task (a tuning knob: the results depend on neither it nor --threads)");
  add_option(desc, "subnormals", name_of(defaults.subnormals),
             "flush (to zero) or keep float values below 1.2e-38; keep, IEEE's gradual underflow, runs several times "
             "slower on Intel once Adam's moments decay that far: it is there to measure what flushing saves");
  add_option(desc, "rank-timeout", std::to_string(static_cast<int>(defaults.rank_timeout)),
             "under mpirun: seconds a rank waits for the others before it stops the run");
  // clang-format off
  desc.add_options()
    ("metrics", po::value<std::string>(), "write JSON Lines: one object per epoch and a final one with weights_hash")
    ("profile", po::bool_switch(), "print each epoch's time per phase: data, forward, backward, sync (fork/join and "
     "imbalance), exchange (MPI), reduce+update, evaluation (parallel engine)")
    ("save", po::value<std::string>(), "write the final model to FILE (safetensors, F32)")
    ("save-best", po::value<std::string>(), "keep the model of the best validation epoch in FILE (replaced, "
     "atomically, at each new best; --early-stop-on says what best is)")
    ("init-from", po::value<std::string>(), "start from the weights of a model FILE (its net must match --layers)")
    ("checkpoint-every", po::value<std::string>(), "write a checkpoint every N epochs (needs --checkpoint-dir)")
    ("checkpoint-dir", po::value<std::string>(), "folder for checkpoints (checkpoint-<step>.safetensors), one run's "
     "at a time")
    ("keep-last", po::value<std::string>(), "checkpoints kept in --checkpoint-dir, newest first (default 3: the "
     "newest and two to fall back on; 0 keeps all)")
    ("resume", po::value<std::string>(), "continue from a checkpoint FILE, or the newest in a folder, up to --epochs")
    ("exact-reduce", po::bool_switch(), "under mpirun: combine the ranks' gradients in one process's order, so the "
     "weights equal a one-process run's (default: MPI_Allreduce of each rank's sum, faster)")
    ("quiet,q", po::bool_switch(), "print only errors and the final result")
    ("config", po::value<std::string>(), "read options from an INI-style FILE (name = value); the command line wins")
    ("train", po::value<std::string>(), "a FILE to train on, instead of --data-dir: CSV (.csv, .tsv, either "
     "gzipped), .npz, or IDX or .npy features with their labels file beside them ('images' → 'labels', "
     "'idx3' → 'idx1', or a leading x → y in the name); alone, it is split 70/10/20 by --seed")
    ("test", po::value<std::string>(), "a features FILE to test on (with --train): the training file then "
     "trains, less its last --val-size examples (default 10%) that validate")
    ("val", po::value<std::string>(), "a features FILE to validate on (with --train and --test)")
    ("standardize", po::bool_switch(), "float features: subtract each feature's mean and divide by its standard "
     "deviation, both from the training rows; kept in the model, which eval and predict apply")
    ("scale", po::value<std::string>(), "float features: multiply every feature by X (kept in the model likewise)");
  // clang-format on
  add_format_options(desc, true);
  add_target_file_options(desc, true);
  add_data_options(desc);
  return desc;
}

// --train, --test and --val: files by role instead of a folder, and what they contradict.
void read_role_files(const po::variables_map& vm, TrainConfig& c) {
  if (vm.count("train")) c.train_file = text(vm, "train");
  if (vm.count("test")) c.test_file = text(vm, "test");
  if (vm.count("val")) c.val_file = text(vm, "val");
  for (const char* role : {"train", "test", "val"})
    if (vm.count(role) && text(vm, role).empty()) throw UsageError(std::string("--") + role + ": an empty path");
  if (c.train_file.empty() && (!c.test_file.empty() || !c.val_file.empty()))
    throw UsageError(std::string(c.test_file.empty() ? "--val" : "--test") + " needs --train FILE");
  if (!c.val_file.empty() && c.test_file.empty())
    throw UsageError(
        "--val needs --test too (with --train alone, the seed split carves validation and test sets "
        "from it)");
  if (c.train_file.empty()) return;
  if (given(vm, "data-dir")) throw UsageError("--train and --data-dir contradict each other: give one source of data");
  if (given(vm, "split"))
    throw UsageError("--split applies to --data-dir; with --train the files say which set is which");
  if (!c.val_file.empty() && given(vm, "val-size"))
    throw UsageError("--val-size and --val contradict each other: --val names the validation file");
  if (c.test_file.empty() && given(vm, "val-size"))
    throw UsageError("--val-size needs --test (with --train alone, the seed split validates on 10%)");
  // With --resume they name the run's data after it moved: the trainer checks them against the
  // checkpoint's record of it.
}

// Options that decide what a new run makes of its data; a resume's checkpoint fixed all of it.
// (--hidden, --standardize, --scale and --init-from are refused with their own reasons, recipe
// options are checked against the checkpoint, run options apply to any run.)
constexpr const char* kNewRunOnly[] = {"classes",        "header",        "label-column", "npz-keys",
                                       "target-columns", "train-targets", "test-targets", "val-targets"};

void refuse_new_run_options_on_resume(const po::variables_map& vm) {
  for (const char* option : kNewRunOnly)
    if (vm.count(option))
      throw UsageError(std::string("--") + option + " decides how a new run reads its data; --resume continues " +
                       "its checkpoint's run, which fixed it");
}

void refuse_val_size_without_standard_split(const po::variables_map& vm, SplitKind split) {
  if (given(vm, "val-size") && split != SplitKind::standard)
    throw UsageError("--val-size applies only to --split standard (the seed split is always 70/10/20)");
}

// --hidden and --classes, which shape the net from the data, and what they contradict.
void read_net_shape(const po::variables_map& vm, TrainConfig& c) {
  c.hidden = parse_hidden(text(vm, "hidden"));
  if (vm.count("classes")) c.classes = static_cast<int>(parse_integer("classes", text(vm, "classes"), 2, kMaxClasses));
  if (given(vm, "layers") && given(vm, "hidden"))
    throw UsageError(
        "--layers and --hidden contradict each other: --layers gives every size, --hidden only the "
        "hidden ones");
  if (given(vm, "layers") && c.classes != 0 && c.classes != c.spec.classes())
    throw UsageError("--layers ends in " + std::to_string(c.spec.classes()) + " outputs but --classes is " +
                     std::to_string(c.classes));
}

// The recipe: every field from its option, then the checks that span several.
void read_recipe(const po::variables_map& vm, TrainConfig& c) {
  for (const RecipeField& f : recipe_fields())
    if (!f.help.empty() && vm.count(std::string(f.option))) f.adopt(c, text(vm, f.option));
  apply_preset_lr(c);
  if (!c.train_file.empty()) c.split = c.test_file.empty() ? SplitKind::seed : SplitKind::standard;
  read_net_shape(vm, c);
  refuse_val_size_without_standard_split(vm, c.split);
  if (c.resume.empty()) {  // a resume's come from its checkpoint, and are checked there
    check_optimizer_options(c);
    check_schedule(c);
  }
  if (given(vm, "early-stop") && c.early_stop == 0)
    throw UsageError("--early-stop 0: the patience must be at least 1 epoch (without --early-stop every epoch runs)");
  check_early_stop_options(c);
}

// A regression's defaults and what it cannot have; a classification has no targets.
void read_task_options(const po::variables_map& vm, TrainConfig& c) {
  if (!c.resume.empty()) return;  // the checkpoint's task decides, and its checks run there
  apply_task_defaults(c);
  check_task_options(c);
  if (c.spec.regression() && vm.count("classes"))
    throw UsageError("--classes counts a classification's classes; a regression has one output per target");
  if (c.spec.regression() && c.train_file.empty())
    throw UsageError("--task regression needs --train FILE: --data-dir's MNIST folder holds classes, not targets");
  if (!c.spec.regression())
    for (const char* option : {"target-columns", "train-targets", "test-targets", "val-targets"})
      if (vm.count(option)) throw UsageError(std::string("--") + option + " applies to --task regression");
}

void read_files(const po::variables_map& vm, TrainConfig& c) {
  if (vm.count("metrics")) c.metrics_path = text(vm, "metrics");
  if (vm.count("save")) c.save_path = text(vm, "save");
  if (vm.count("save-best")) c.save_best_path = text(vm, "save-best");
  if (vm.count("save-best") && c.save_best_path.empty()) throw UsageError("--save-best: an empty path");
  if (vm.count("init-from")) c.init_from = text(vm, "init-from");
  if (vm.count("resume")) c.resume = text(vm, "resume");
  if (vm.count("config")) c.config_path = text(vm, "config");
  if (!c.resume.empty() && !c.init_from.empty())
    throw UsageError("--resume and --init-from contradict each other: a checkpoint already holds the weights");
  if (vm.count("checkpoint-dir")) {
    c.checkpoint_dir = text(vm, "checkpoint-dir");
    c.checkpoint_every = 1;
  }
  if (vm.count("keep-last")) {
    c.keep_last = static_cast<int>(parse_integer("keep-last", text(vm, "keep-last"), 0, 1'000'000));
    if (c.checkpoint_dir.empty()) throw UsageError("--keep-last needs --checkpoint-dir");
  }
  if (vm.count("checkpoint-every")) {
    c.checkpoint_every =
        static_cast<int>(parse_integer("checkpoint-every", text(vm, "checkpoint-every"), 1, 1'000'000));
    if (c.checkpoint_dir.empty()) throw UsageError("--checkpoint-every needs --checkpoint-dir");
  }
}

CommandLine parse_train(int argc, const char* const* argv) {
  const po::options_description desc = train_options();
  const po::variables_map vm = parse(desc, argc, argv);
  CommandLine cl = command(vm.count("version") ? CommandKind::version : CommandKind::train, desc, vm);
  if (cl.kind != CommandKind::train) return cl;

  TrainConfig& c = cl.train;
  for (const auto& [name, value] : vm)
    if (!value.defaulted()) c.explicit_options.insert(name);
  c.threads = static_cast<int>(parse_integer("threads", text(vm, "threads"), 1, 4096));
  c.epochs = static_cast<int>(parse_integer("epochs", text(vm, "epochs"), 0, 1'000'000));
  c.chunk_size = static_cast<int>(parse_integer("chunk-size", text(vm, "chunk-size"), 1, 4096));
  c.subnormals = parse_choice<Subnormals>(text(vm, "subnormals"));
  c.data_dir = text(vm, "data-dir");
  c.profile = vm["profile"].as<bool>();
  c.quiet = vm["quiet"].as<bool>();
  c.exact_reduce = vm["exact-reduce"].as<bool>();
  c.rank_timeout = parse_positive_real("rank-timeout", text(vm, "rank-timeout"));
  read_files(vm, c);
  if (!c.resume.empty()) refuse_new_run_options_on_resume(vm);
  read_role_files(vm, c);
  read_format_options(vm, c.csv_header, c.label_column, c.npz_keys);
  c.standardize = vm["standardize"].as<bool>();
  if (vm.count("scale")) c.feature_scale = parse_positive_real("scale", text(vm, "scale"));
  if (c.standardize && c.feature_scale > 0)
    throw UsageError("--standardize and --scale contradict each other: give one transform of the features");
  if ((c.standardize || c.feature_scale > 0) && (!c.resume.empty() || !c.init_from.empty()))
    throw UsageError(std::string(c.resume.empty() ? "--init-from applies the transform its model keeps"
                                                  : "--resume applies the transform its checkpoint keeps") +
                     "; --standardize and --scale are not needed");
  RoleTargets targets;
  read_target_options(vm, &c.target_columns, targets);
  c.train_targets = targets.train, c.test_targets = targets.test, c.val_targets = targets.val;
  read_recipe(vm, c);
  read_task_options(vm, c);
  if (given(vm, "hidden") && (!c.resume.empty() || !c.init_from.empty()))
    throw UsageError(std::string("--hidden shapes a new net, but ") + (c.resume.empty() ? "--init-from" : "--resume") +
                     " brings its own");
  if (c.profile && c.engine == EngineKind::scalar)  // before any data is read
    throw UsageError("--profile measures the parallel engine's phases; the scalar oracle is not instrumented");
  return cl;
}

po::options_description inference_options(bool predict) {
  po::options_description desc(
      predict ? "Usage: ptrain predict --model FILE (IMAGE.pgm | --index N | --input IMAGES [--output CSV]) [options]\n"
                "Options"
              : "Usage: ptrain eval --model FILE [options]\nOptions");
  // clang-format off
  desc.add_options()
    ("help,h", "show this help and exit")
    ("model", po::value<std::string>(), "the model file (safetensors, as --save writes it)")
    ("seed", po::value<std::string>(), "seed of the split (default: the model's own, so its test set is the training run's)")
    ("config", po::value<std::string>(), "read options from an INI-style FILE; the command line wins");
  if (predict)
    desc.add_options()
      ("image", po::value<std::string>(), "a PGM image (P2 or P5) of the model's input size, e.g. 28x28")
      ("index", po::value<std::string>(), "the N-th image of the test set instead")
      ("input", po::value<std::string>(), "a features FILE instead (CSV, .npz, IDX or .npy; a CSV's label column "
       "is skipped when there is one): every example predicted, one CSV row each (index, predicted class, every "
       "class's score)")
      ("output", po::value<std::string>(), "with --input: write the CSV to FILE (replaced whole, atomically) "
       "instead of standard output");
  else
    desc.add_options()("metrics", po::value<std::string>(), "write a JSON object: test_accuracy, per-class accuracy, "
                                                           "confusion matrix");
  // clang-format on
  add_data_options(desc);
  add_split_options(desc);
  desc.add_options()("test", po::value<std::string>(),
                     "a FILE to test on whole (CSV, .npz, or IDX or .npy with its labels file beside it), instead "
                     "of the model's test set");
  add_format_options(desc, false);
  if (!predict) add_target_file_options(desc, false);
  return desc;
}

CommandLine parse_inference(CommandKind kind, int argc, const char* const* argv) {
  const bool predict = kind == CommandKind::predict;
  const po::options_description desc = inference_options(predict);
  po::positional_options_description positional;
  if (predict) positional.add("image", 1);
  const po::variables_map vm = parse(desc, argc, argv, predict ? &positional : nullptr);

  CommandLine cl = command(kind, desc, vm);
  if (cl.kind == CommandKind::help) return cl;
  InferenceConfig& u = cl.inference;
  if (!vm.count("model")) throw UsageError(std::string(predict ? "predict" : "eval") + " needs --model FILE");
  u.model = text(vm, "model");
  u.data_dir = text(vm, "data-dir");
  u.data_dir_given = given(vm, "data-dir");
  if (vm.count("test")) u.test_file = text(vm, "test");
  if (!u.test_file.empty() && (u.data_dir_given || given(vm, "split") || given(vm, "val-size") || vm.count("seed")))
    throw UsageError(
        "--test evaluates a whole file: --data-dir, --split, --val-size and --seed choose a test set "
        "from a folder instead");
  if (vm.count("test") && u.test_file.empty()) throw UsageError("--test: an empty path");
  u.threads = static_cast<int>(parse_integer("threads", text(vm, "threads"), 1, 4096));
  TrainConfig split;  // read by the recipe's own fields
  recipe_field("split").adopt(split, text(vm, "split"));
  recipe_field("val-size").adopt(split, text(vm, "val-size"));
  if (given(vm, "split")) {
    refuse_val_size_without_standard_split(vm, split.split);
    u.split = split.split;
  }
  if (given(vm, "val-size")) u.val_size = split.val_size;
  if (vm.count("config")) u.config_path = text(vm, "config");
  if (vm.count("seed")) {
    recipe_field("seed").adopt(split, text(vm, "seed"));
    u.seed = split.seed;
  }
  CsvHeader header = CsvHeader::detect;
  std::string label_column, npz_keys;
  read_format_options(vm, header, label_column, npz_keys);
  if (vm.count("header")) u.csv_header = header;
  if (vm.count("label-column")) u.label_column = label_column;
  if (vm.count("npz-keys")) u.npz_keys = npz_keys;
  std::string target_columns;
  RoleTargets targets;
  read_target_options(vm, &target_columns, targets);
  if (vm.count("target-columns")) u.target_columns = target_columns;
  u.test_targets = targets.test;
  if (vm.count("metrics")) u.metrics_path = text(vm, "metrics");
  if (vm.count("metrics") && u.metrics_path.empty()) throw UsageError("--metrics: an empty path");
  if (predict) {
    if (vm.count("image")) u.image = text(vm, "image");
    if (vm.count("index"))
      u.index = static_cast<std::uint64_t>(parse_integer("index", text(vm, "index"), 0, 1'000'000'000));
    if (vm.count("input")) u.input = text(vm, "input");
    if (vm.count("output")) u.output = text(vm, "output");
    if (vm.count("input") && u.input.empty()) throw UsageError("--input: an empty path");
    if (vm.count("output") && u.output.empty()) throw UsageError("--output: an empty path");
    if (int(!u.image.empty()) + int(u.index.has_value()) + int(vm.count("input") > 0) != 1)
      throw UsageError("predict needs exactly one of an IMAGE.pgm, --index N and --input FILE");
    if (vm.count("output") && !vm.count("input")) throw UsageError("--output goes with --input FILE");
  }
  return cl;
}

// `ptrain export --model FILE --output FILE.onnx`: both paths, nothing else.
CommandLine parse_export(int argc, const char* const* argv) {
  po::options_description desc("Usage: ptrain export --model FILE --output FILE.onnx\nOptions");
  // clang-format off
  desc.add_options()
    ("help,h", "show this help and exit")
    ("model", po::value<std::string>(), "the model file or checkpoint (safetensors)")
    ("output", po::value<std::string>(), "the ONNX file to write (replaced whole, atomically): a float32 input "
     "[N, features] taking the features as ptrain reads them (an image model's raw pixels 0-255), every transform "
     "inside the graph; outputs probabilities and label, or a regression's predictions");
  // clang-format on
  const po::variables_map vm = parse(desc, argc, argv, nullptr);
  CommandLine cl = command(CommandKind::export_onnx, desc, vm);
  if (cl.kind == CommandKind::help) return cl;
  if (!vm.count("model")) throw UsageError("export needs --model FILE");
  if (!vm.count("output")) throw UsageError("export needs --output FILE.onnx");
  cl.inference.model = text(vm, "model");
  cl.inference.output = text(vm, "output");
  if (cl.inference.model.empty()) throw UsageError("--model: an empty path");
  if (cl.inference.output.empty()) throw UsageError("--output: an empty path");
  return cl;
}

}  // namespace

CommandLine parse_command_line(int argc, const char* const* argv) {
  const std::string first = argc > 1 ? argv[1] : "";
  // The command word is dropped; Boost sees argv[0] and the options.
  auto shifted = [&](CommandKind kind) {
    std::vector<const char*> rest{argv[0]};
    rest.insert(rest.end(), argv + 2, argv + argc);
    const int count = static_cast<int>(rest.size());
    if (kind == CommandKind::export_onnx) return parse_export(count, rest.data());
    return kind == CommandKind::train ? parse_train(count, rest.data()) : parse_inference(kind, count, rest.data());
  };
  if (first == "train") return shifted(CommandKind::train);
  if (first == "eval") return shifted(CommandKind::eval);
  if (first == "predict") return shifted(CommandKind::predict);
  if (first == "export") return shifted(CommandKind::export_onnx);
  if (!first.empty() && first[0] != '-')
    throw UsageError("unknown command '" + first + "'; expected train, eval, predict or export");
  return parse_train(argc, argv);
}

}  // namespace ptrain
