#include "ptrain/trainer.hpp"

#include <chrono>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "ptrain/errors.hpp"
#include "ptrain/rng.hpp"
#include "ptrain/simd.hpp"
#include "ptrain/threads.hpp"

namespace ptrain {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

std::string percent(const std::optional<double>& v) { return v ? fixed(*v, 2) + "%" : "n/a"; }

nlohmann::json json_or_null(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); }

// JSON Lines, one object per line, flushed so a watcher sees each epoch as it ends.
class MetricsFile {
 public:
  explicit MetricsFile(const std::string& path) : path_(path) {
    if (path.empty()) return;
    out_.open(path, std::ios::trunc);
    if (!out_) throw DataError("--metrics " + path + ": cannot open for writing");
  }
  void write(const nlohmann::json& record) {
    if (path_.empty()) return;
    out_ << record.dump() << '\n' << std::flush;
    if (!out_) throw DataError("--metrics " + path_ + ": write failed");
  }

 private:
  std::string path_;
  std::ofstream out_;
};

}  // namespace

std::vector<std::uint32_t> epoch_order(const std::vector<std::uint32_t>& train, std::uint64_t seed, int epoch) {
  std::vector<std::uint32_t> order = train;
  auto rng = make_stream(seed, Stream::shuffle, static_cast<std::uint64_t>(epoch));
  shuffle(order, rng);
  return order;
}

EpochResult train_epoch(Engine& engine, const Dataset& data, const std::vector<std::uint32_t>& order, int batch_size,
                        double lr) {
  const auto start = Clock::now();
  double loss = 0;
  Indices all(order);
  for (std::size_t begin = 0; begin < all.size(); begin += batch_size) {
    loss += engine.train_step(data, all.subspan(begin, std::min<std::size_t>(batch_size, all.size() - begin)), lr);
  }
  EpochResult r;
  r.seconds = seconds_since(start);
  r.mean_loss = order.empty() ? 0.0 : loss / static_cast<double>(order.size());
  return r;
}

std::optional<double> accuracy_percent(Engine& engine, const Dataset& data, const std::vector<std::uint32_t>& examples) {
  if (examples.empty()) return std::nullopt;
  return 100.0 * static_cast<double>(engine.count_correct(data, examples)) / static_cast<double>(examples.size());
}

void run_training(const TrainConfig& cfg, std::ostream& out) {
  const auto run_start = Clock::now();
  MetricsFile metrics(cfg.metrics_path);  // fail before the long part if it cannot be written

  MnistData mnist = load_mnist(cfg.data_dir, cfg.spec.classes());
  const Dataset& data = mnist.all;
  if (data.image_size != cfg.spec.inputs())
    throw UsageError("--layers starts with " + std::to_string(cfg.spec.inputs()) + " inputs but the images in " +
                     cfg.data_dir + " have " + std::to_string(data.image_size) + " pixels");
  Split split = cfg.split == "standard" ? standard_split(mnist.train_file_count, mnist.test_file_count, cfg.val_size)
                                        : seed_split(data.size(), cfg.seed);

  ThreadLimit threads(cfg.threads);
  std::vector<float> initial = init_blog(cfg.spec.sizes, cfg.seed);
  std::unique_ptr<Engine> engine = make_engine(cfg.engine, cfg.spec, initial, cfg.chunk_size);

  out << "ptrain " << PTRAIN_VERSION << ": " << threads.threads() << " threads, SIMD " << simd::instruction_set()
      << " (xsimd " << XSIMD_VERSION_MAJOR << "." << XSIMD_VERSION_MINOR << "." << XSIMD_VERSION_PATCH << "), engine "
      << engine->describe() << "\n"
      << "data " << cfg.data_dir << ": " << data.size() << " images of " << data.image_size << " pixels; split "
      << cfg.split << ": train " << split.train.size() << ", validation " << split.val.size() << ", test "
      << split.test.size() << "\n"
      << "net " << cfg.spec.describe() << ", sigmoid, loss ½‖a−t‖²" << (cfg.spec.blog_derivative ? " (blog preset)" : "")
      << "; batch " << cfg.batch_size << ", lr " << cfg.lr << ", " << cfg.epochs << " epochs, seed " << cfg.seed
      << std::endl;

  StepTimes step_times;
  if (cfg.profile && !engine->profile_into(&step_times))
    throw UsageError("--profile measures the parallel engine's phases; the scalar oracle is not instrumented");

  for (int epoch = 1; epoch <= cfg.epochs; ++epoch) {
    const auto epoch_start = Clock::now();
    step_times = StepTimes{};
    std::vector<std::uint32_t> order = epoch_order(split.train, cfg.seed, epoch);
    const double shuffle_seconds = seconds_since(epoch_start);
    EpochResult r = threads.run([&] { return train_epoch(*engine, data, order, cfg.batch_size, cfg.lr); });
    if (!std::isfinite(r.mean_loss))
      throw DataError("training diverged in epoch " + std::to_string(epoch) + " (loss is " + fixed(r.mean_loss, 4) +
                      "); try a smaller --lr");
    const auto eval_start = Clock::now();
    std::optional<double> val = threads.run([&] { return accuracy_percent(*engine, data, split.val); });
    const double eval_seconds = seconds_since(eval_start);
    const double seconds = seconds_since(epoch_start);
    const double rate = r.seconds > 0 ? static_cast<double>(order.size()) / r.seconds : 0.0;
    out << "epoch " << std::setw(3) << epoch << "/" << cfg.epochs << "  loss " << fixed(r.mean_loss, 4) << "  val "
        << percent(val) << "  " << fixed(rate, 0) << " examples/s  " << fixed(seconds, 2) << " s" << std::endl;
    nlohmann::json record{{"epoch", epoch},
                          {"train_loss", r.mean_loss},
                          {"val_accuracy", json_or_null(val)},
                          {"examples_per_sec", rate},
                          {"seconds", seconds}};
    if (cfg.profile) {
      nlohmann::json phases;
      out << "  profile:";
      for (const auto& [name, secs] : epoch_phases(step_times, shuffle_seconds, eval_seconds, seconds)) {
        out << "  " << name << " " << fixed(secs * 1e3, 1) << " ms (" << fixed(100 * secs / seconds, 1) << "%)";
        phases[name] = secs;
      }
      out << std::endl;
      record["phase_seconds"] = phases;
    }
    metrics.write(record);
  }

  std::optional<double> test = threads.run([&] { return accuracy_percent(*engine, data, split.test); });
  const std::string hash = weights_hash(engine->parameters());
  const double total = seconds_since(run_start);
  out << "test accuracy " << percent(test) << "  total " << fixed(total, 2) << " s  weights_hash " << hash << std::endl;
  metrics.write({{"test_accuracy", json_or_null(test)}, {"total_seconds", total}, {"weights_hash", hash}});
}

}  // namespace ptrain
