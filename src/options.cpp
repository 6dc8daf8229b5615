#include "ptrain/options.hpp"

#include <boost/program_options.hpp>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <thread>

#include "ptrain/errors.hpp"

namespace ptrain {
namespace {

namespace po = boost::program_options;

// Whole numbers are read as text and parsed here: Boost's unsigned conversion wraps "-1".
long long parse_integer(const std::string& option, const std::string& text, long long min, long long max) {
  long long v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc::result_out_of_range || (ec == std::errc() && end == text.data() + text.size() && (v < min || v > max)))
    throw UsageError("--" + option + " " + text + ": must be between " + std::to_string(min) + " and " +
                     std::to_string(max));
  if (ec != std::errc() || end != text.data() + text.size() || text.empty())
    throw UsageError("--" + option + " '" + text + "': not a whole number");
  return v;
}

double parse_positive_real(const std::string& option, const std::string& text) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty())
    throw UsageError("--" + option + " '" + text + "': not a number");
  if (!std::isfinite(v) || v <= 0) throw UsageError("--" + option + " " + text + ": must be a finite positive number");
  return v;
}

bool given(const po::variables_map& vm, const char* name) { return vm.count(name) && !vm[name].defaulted(); }

std::string hardware_threads() { return std::to_string(std::max(1u, std::thread::hardware_concurrency())); }

// Options shared by every command that reads MNIST.
void add_data_options(po::options_description& d) {
  // clang-format off
  d.add_options()
    ("data-dir", po::value<std::string>()->default_value(PTRAIN_DEFAULT_DATA_DIR), "folder with the four MNIST IDX files")
    ("split", po::value<std::string>()->default_value("seed"),
     "seed: all 70,000 images shuffled, 70% train / 10% validation / 20% test; "
     "standard: the 60,000-image file trains (its last --val-size validate), the 10,000-image file tests")
    ("val-size", po::value<std::string>()->default_value("5000"), "validation images for --split standard (0 allowed)")
    ("threads", po::value<std::string>()->default_value(hardware_threads()),
     "threads in total (default: all hardware threads; more than the cores is allowed)");
  // clang-format on
}

po::variables_map parse(const po::options_description& desc, int argc, const char* const* argv,
                        const po::positional_options_description* positional = nullptr) {
  po::variables_map vm;
  try {
    auto parser = po::command_line_parser(argc, argv).options(desc);
    if (positional) parser.positional(*positional);
    po::store(parser.run(), vm);
    if (vm.count("config")) {
      const std::string path = vm["config"].as<std::string>();
      std::ifstream file(path);
      if (!file) throw UsageError("--config " + path + ": cannot open");
      try {
        po::store(po::parse_config_file(file, desc), vm);  // stored second: the command line wins
      } catch (const po::error& e) {
        throw UsageError("--config " + path + ": " + e.what());
      }
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(std::string(e.what()) + " (see --help)");
  }
  return vm;
}

std::string text(const po::variables_map& vm, const char* name) { return vm[name].as<std::string>(); }

// A command line of `kind` whose help text is `desc`; --help turns it into a help request.
CommandLine command(CommandKind kind, const po::options_description& desc, const po::variables_map& vm) {
  CommandLine cl;
  std::ostringstream help;
  help << desc;
  cl.help_text = help.str();
  cl.kind = vm.count("help") ? CommandKind::help : kind;
  return cl;
}

void read_split(const po::variables_map& vm, std::string& split, std::size_t& val_size) {
  split = text(vm, "split");
  if (split != "seed" && split != "standard") throw UsageError("--split '" + split + "': expected seed or standard");
  val_size = static_cast<std::size_t>(parse_integer("val-size", text(vm, "val-size"), 0, 1'000'000'000));
  if (given(vm, "val-size") && split != "standard")
    throw UsageError("--val-size applies only to --split standard (the seed split is always 70/10/20)");
}

CommandLine parse_train(int argc, const char* const* argv) {
  po::options_description desc(
      "ptrain: trains the blog's MNIST network (784-112-16-10, sigmoid, squared error, SGD) on every core\n"
      "Usage: ptrain [train] [options]      train (the default command)\n"
      "       ptrain eval --model FILE      accuracy, per-class accuracy, confusion matrix\n"
      "       ptrain predict --model FILE (IMAGE.pgm | --index N)\n"
      "Options");
  // clang-format off
  desc.add_options()
    ("help,h", "show this help and exit")
    ("version", "show the version and exit")
    ("epochs", po::value<std::string>()->default_value("10"), "passes over the training set (0 only evaluates)")
    ("batch-size", po::value<std::string>()->default_value("32"), "examples per SGD step")
    ("lr", po::value<std::string>()->default_value("3.0"), "learning rate (default 3.0; 0.1 with --preset blog)")
    ("seed", po::value<std::string>()->default_value("42"), "seed for the initial weights, the split and the shuffles")
    ("layers", po::value<std::string>()->default_value("784,112,16,10"),
     "layer sizes, inputs first; the first must equal the image size and the last the 10 classes")
    ("engine", po::value<std::string>()->default_value("parallel"),
     "parallel: float32, oneTBB chunks, SIMD; scalar: the float64 reference oracle, one example at a time")
    ("chunk-size", po::value<std::string>()->default_value("4"),
     "examples per parallel task (a tuning knob: the results depend on neither it nor --threads)")
    ("activation", po::value<std::string>()->default_value("sigmoid"), "hidden units: sigmoid, tanh or relu")
    ("loss", po::value<std::string>()->default_value("mse"),
     "mse: sigmoid outputs, ½‖a−t‖² (the blog's); xent: softmax outputs, cross-entropy")
    ("init", po::value<std::string>()->default_value("blog"),
     "blog: uniform [-0.5, 0.5), biases 1; xavier: uniform ±√(6/(in+out)); he: uniform ±√(6/in); biases 0 for both")
    ("momentum", po::value<std::string>()->default_value("0"), "classical momentum μ in [0, 1): v = μv + g, w -= lr·v")
    ("lr-decay", po::value<std::string>()->default_value("none"),
     "none, or cosine: epoch e trains at lr·½(1 + cos(π(e−1)/epochs))")
    ("preset", po::value<std::string>()->default_value("none"),
     "blog: the post's own arithmetic (raw 0-255 pixels, sigmoid's derivative applied twice, lr 0.1)")
    ("metrics", po::value<std::string>(), "write JSON Lines: one object per epoch and a final one with weights_hash")
    ("profile", po::bool_switch(), "print each epoch's time per phase: data, forward, backward, sync (fork/join and "
     "imbalance), reduce+update, evaluation (parallel engine)")
    ("save", po::value<std::string>(), "write the final model to FILE (safetensors, F32)")
    ("init-from", po::value<std::string>(), "start from the weights of a model FILE (its net must match --layers)")
    ("checkpoint-every", po::value<std::string>(), "write a checkpoint every N epochs (needs --checkpoint-dir)")
    ("checkpoint-dir", po::value<std::string>(), "folder for checkpoints (checkpoint-<step>.safetensors)")
    ("resume", po::value<std::string>(), "continue from a checkpoint FILE, or the newest in a folder, up to --epochs")
    ("exact-reduce", po::bool_switch(), "under mpirun: combine the ranks' gradients in one process's order, so the "
     "weights equal a one-process run's (default: MPI_Allreduce of each rank's sum, faster)")
    ("rank-timeout", po::value<std::string>()->default_value("120"),
     "under mpirun: seconds a rank waits for the others before it stops the run")
    ("quiet,q", po::bool_switch(), "print only errors and the final result")
    ("config", po::value<std::string>(), "read options from an INI-style FILE (name = value); the command line wins");
  // clang-format on
  add_data_options(desc);
  po::variables_map vm = parse(desc, argc, argv);

  CommandLine cl = command(vm.count("version") ? CommandKind::version : CommandKind::train, desc, vm);
  if (cl.kind != CommandKind::train) return cl;

  TrainConfig& c = cl.train;
  for (const auto& [name, value] : vm)
    if (!value.defaulted()) c.explicit_options.insert(name);
  c.threads = static_cast<int>(parse_integer("threads", text(vm, "threads"), 1, 4096));
  c.epochs = static_cast<int>(parse_integer("epochs", text(vm, "epochs"), 0, 1'000'000));
  c.batch_size = static_cast<int>(parse_integer("batch-size", text(vm, "batch-size"), 1, 1'000'000));
  c.chunk_size = static_cast<int>(parse_integer("chunk-size", text(vm, "chunk-size"), 1, 4096));
  c.seed = static_cast<std::uint64_t>(parse_integer("seed", text(vm, "seed"), 0, std::numeric_limits<long long>::max()));
  c.data_dir = text(vm, "data-dir");
  if (vm.count("metrics")) c.metrics_path = text(vm, "metrics");
  c.profile = vm["profile"].as<bool>();
  c.quiet = vm["quiet"].as<bool>();
  c.exact_reduce = vm["exact-reduce"].as<bool>();
  c.rank_timeout = parse_positive_real("rank-timeout", text(vm, "rank-timeout"));

  c.spec.sizes = parse_layers(text(vm, "layers"));
  if (c.spec.classes() != 10)
    throw UsageError("--layers " + text(vm, "layers") + ": the last size must be 10, the number of classes");
  read_split(vm, c.split, c.val_size);

  const std::string engine = text(vm, "engine");
  if (engine == "parallel")
    c.engine = EngineKind::parallel;
  else if (engine == "scalar")
    c.engine = EngineKind::scalar;
  else
    throw UsageError("--engine '" + engine + "': expected parallel or scalar");

  set_preset(c, text(vm, "preset"));
  c.spec.hidden = parse_activation(text(vm, "activation"));
  c.spec.loss = parse_loss(text(vm, "loss"));
  c.init = parse_init(text(vm, "init"));
  {
    const std::string m = text(vm, "momentum");
    double v = -1;
    auto [end, ec] = std::from_chars(m.data(), m.data() + m.size(), v);
    if (ec != std::errc() || end != m.data() + m.size() || m.empty() || !(v >= 0 && v < 1))
      throw UsageError("--momentum " + m + ": must be a number from 0 up to (not including) 1");
    c.momentum = v;
  }
  c.lr_decay = text(vm, "lr-decay");
  if (c.lr_decay != "none" && c.lr_decay != "cosine")
    throw UsageError("--lr-decay '" + c.lr_decay + "': expected none or cosine");
  c.lr = (given(vm, "lr") || c.preset != "blog") ? parse_positive_real("lr", text(vm, "lr")) : 0.1;

  if (vm.count("save")) c.save_path = text(vm, "save");
  if (vm.count("init-from")) c.init_from = text(vm, "init-from");
  if (vm.count("resume")) c.resume = text(vm, "resume");
  if (!c.resume.empty() && !c.init_from.empty())
    throw UsageError("--resume and --init-from contradict each other: a checkpoint already holds the weights");
  if (vm.count("checkpoint-dir")) {
    c.checkpoint_dir = text(vm, "checkpoint-dir");
    c.checkpoint_every = 1;
  }
  if (vm.count("checkpoint-every")) {
    c.checkpoint_every = static_cast<int>(parse_integer("checkpoint-every", text(vm, "checkpoint-every"), 1, 1'000'000));
    if (c.checkpoint_dir.empty()) throw UsageError("--checkpoint-every needs --checkpoint-dir");
  }
  return cl;
}

CommandLine parse_use(CommandKind kind, int argc, const char* const* argv) {
  const bool predict = kind == CommandKind::predict;
  po::options_description desc(predict ? "Usage: ptrain predict --model FILE (IMAGE.pgm | --index N) [options]\nOptions"
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
      ("index", po::value<std::string>(), "the N-th image of the test set instead");
  else
    desc.add_options()("metrics", po::value<std::string>(), "write a JSON object: test_accuracy, per-class accuracy, "
                                                           "confusion matrix");
  // clang-format on
  add_data_options(desc);
  po::positional_options_description positional;
  if (predict) positional.add("image", 1);
  po::variables_map vm = parse(desc, argc, argv, predict ? &positional : nullptr);

  CommandLine cl = command(kind, desc, vm);
  if (cl.kind == CommandKind::help) return cl;
  UseConfig& u = cl.use;
  if (!vm.count("model")) throw UsageError(std::string(predict ? "predict" : "eval") + " needs --model FILE");
  u.model = text(vm, "model");
  u.data_dir = text(vm, "data-dir");
  u.threads = static_cast<int>(parse_integer("threads", text(vm, "threads"), 1, 4096));
  std::size_t val_size = 0;
  read_split(vm, u.split, val_size);
  if (given(vm, "val-size")) u.val_size = val_size;
  if (vm.count("seed"))
    u.seed = static_cast<std::uint64_t>(parse_integer("seed", text(vm, "seed"), 0, std::numeric_limits<long long>::max()));
  if (vm.count("metrics")) u.metrics_path = text(vm, "metrics");
  if (predict) {
    if (vm.count("image")) u.image = text(vm, "image");
    if (vm.count("index"))
      u.index = static_cast<std::uint64_t>(parse_integer("index", text(vm, "index"), 0, 1'000'000'000));
    if (u.image.empty() == !u.index.has_value())
      throw UsageError("predict needs exactly one of an IMAGE.pgm and --index N");
  }
  return cl;
}

}  // namespace

CommandLine parse_command_line(int argc, const char* const* argv) {
  const std::string first = argc > 1 ? argv[1] : "";
  // The command word is dropped; Boost sees argv[0] and the options.
  auto shifted = [&](CommandKind kind) {
    std::vector<const char*> rest{argv[0]};
    rest.insert(rest.end(), argv + 2, argv + argc);
    return kind == CommandKind::train ? parse_train(static_cast<int>(rest.size()), rest.data())
                                      : parse_use(kind, static_cast<int>(rest.size()), rest.data());
  };
  if (first == "train") return shifted(CommandKind::train);
  if (first == "eval") return shifted(CommandKind::eval);
  if (first == "predict") return shifted(CommandKind::predict);
  if (!first.empty() && first[0] != '-') throw UsageError("unknown command '" + first + "'; expected train, eval or predict");
  return parse_train(argc, argv);
}

}  // namespace ptrain
