#include "ptrain/options.hpp"

#include <boost/program_options.hpp>
#include <charconv>
#include <cmath>
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

}  // namespace

CommandLine parse_command_line(int argc, const char* const* argv) {
  const unsigned hardware = std::max(1u, std::thread::hardware_concurrency());
  po::options_description desc(
      "ptrain: trains the blog's MNIST network (784-112-16-10, sigmoid, squared error, SGD) on every core\n"
      "Usage: ptrain [options]\nOptions");
  // clang-format off
  desc.add_options()
    ("help,h", "show this help and exit")
    ("version", "show the version and exit")
    ("threads", po::value<std::string>()->default_value(std::to_string(hardware)),
     "threads in total (default: all hardware threads; more than the cores is allowed)")
    ("epochs", po::value<std::string>()->default_value("10"), "passes over the training set (0 only evaluates)")
    ("batch-size", po::value<std::string>()->default_value("32"), "examples per SGD step")
    ("lr", po::value<std::string>()->default_value("3.0"), "learning rate (default 3.0; 0.1 with --preset blog)")
    ("seed", po::value<std::string>()->default_value("42"), "seed for the initial weights, the split and the shuffles")
    ("layers", po::value<std::string>()->default_value("784,112,16,10"),
     "layer sizes, inputs first; the first must equal the image size and the last the 10 classes")
    ("split", po::value<std::string>()->default_value("seed"),
     "seed: all 70,000 images shuffled, 70% train / 10% validation / 20% test; "
     "standard: the 60,000-image file trains (its last --val-size validate), the 10,000-image file tests")
    ("val-size", po::value<std::string>()->default_value("5000"), "validation images for --split standard (0 allowed)")
    ("data-dir", po::value<std::string>()->default_value(PTRAIN_DEFAULT_DATA_DIR), "folder with the four MNIST IDX files")
    ("engine", po::value<std::string>()->default_value("parallel"),
     "parallel: float32, oneTBB chunks, SIMD; scalar: the float64 reference oracle, one example at a time")
    ("chunk-size", po::value<std::string>()->default_value("4"),
     "examples per parallel task (a tuning knob: the results depend on neither it nor --threads)")
    ("preset", po::value<std::string>()->default_value("none"),
     "blog: the post's own arithmetic (raw 0-255 pixels, sigmoid's derivative applied twice, lr 0.1)")
    ("metrics", po::value<std::string>(), "write JSON Lines: one object per epoch and a final one with weights_hash")
    ("profile", "print each epoch's time per phase: data, forward, backward, sync (fork/join and imbalance), "
     "reduce+update, evaluation (parallel engine)");
  // clang-format on

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(std::string(e.what()) + " (see --help)");
  }

  CommandLine cl;
  std::ostringstream help;
  help << desc;
  cl.help_text = help.str();
  cl.help = vm.count("help") > 0;
  cl.version = vm.count("version") > 0;
  if (cl.help || cl.version) return cl;

  TrainConfig& c = cl.config;
  auto text = [&](const char* name) { return vm[name].as<std::string>(); };
  c.threads = static_cast<int>(parse_integer("threads", text("threads"), 1, 4096));
  c.epochs = static_cast<int>(parse_integer("epochs", text("epochs"), 0, 1'000'000));
  c.batch_size = static_cast<int>(parse_integer("batch-size", text("batch-size"), 1, 1'000'000));
  c.chunk_size = static_cast<int>(parse_integer("chunk-size", text("chunk-size"), 1, 4096));
  c.seed = static_cast<std::uint64_t>(parse_integer("seed", text("seed"), 0, std::numeric_limits<long long>::max()));
  c.data_dir = text("data-dir");
  if (vm.count("metrics")) c.metrics_path = text("metrics");
  c.profile = vm.count("profile") > 0;

  c.spec.sizes = parse_layers(text("layers"));
  if (c.spec.classes() != 10)
    throw UsageError("--layers " + text("layers") + ": the last size must be 10, the number of classes");

  const std::string split = text("split");
  if (split != "seed" && split != "standard") throw UsageError("--split '" + split + "': expected seed or standard");
  c.split = split;
  c.val_size = static_cast<std::size_t>(parse_integer("val-size", text("val-size"), 0, 1'000'000'000));
  if (given(vm, "val-size") && split != "standard")
    throw UsageError("--val-size applies only to --split standard (the seed split is always 70/10/20)");

  const std::string engine = text("engine");
  if (engine == "parallel")
    c.engine = EngineKind::parallel;
  else if (engine == "scalar")
    c.engine = EngineKind::scalar;
  else
    throw UsageError("--engine '" + engine + "': expected parallel or scalar");

  const std::string preset = text("preset");
  if (preset == "blog") {
    c.spec.input_scale = 1.0;  // the post feeds raw 0–255 pixels
    c.spec.blog_derivative = true;
    c.lr = 0.1;
  } else if (preset != "none") {
    throw UsageError("--preset '" + preset + "': expected none or blog");
  }
  if (given(vm, "lr") || preset != "blog") c.lr = parse_positive_real("lr", text("lr"));
  return cl;
}

}  // namespace ptrain
