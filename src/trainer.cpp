#include "ptrain/trainer.hpp"

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "ptrain/checkpoint.hpp"
#include "ptrain/cluster.hpp"
#include "ptrain/errors.hpp"
#include "ptrain/progress.hpp"
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

// Set by SIGINT/SIGTERM; the training loop stops after the step in progress.
volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void request_stop(int signal) { g_stop_signal = signal; }

// Catches SIGINT and SIGTERM while alive; a second signal gets the default action (the run has
// then been asked twice), which the atomic writes make safe.
class StopOnSignal {
 public:
  StopOnSignal() {
    g_stop_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = request_stop;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~StopOnSignal() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

const char* signal_name(int s) { return s == SIGINT ? "SIGINT" : s == SIGTERM ? "SIGTERM" : "a signal"; }

bool all_finite(const std::vector<float>& v) {
  return std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); });
}

// Where a run starts: a checkpoint (which also settles cfg's arithmetic), a model's weights, or
// the initialisation.
struct StartPoint {
  TrainState state;
  std::vector<double> params, velocity;  // empty: the engine's own initial weights, no velocity
  std::string note;
};

StartPoint start_point(TrainConfig& cfg) {
  StartPoint start;
  if (!cfg.resume.empty()) {
    Resumed r = resume_from(cfg.resume, cfg);
    start.state = r.state;
    start.params = std::move(r.params);
    start.velocity = std::move(r.velocity);
    start.note = "resumed from " + find_checkpoint(cfg.resume) + " after epoch " + std::to_string(start.state.epochs_done) +
                 (start.state.batches_in_epoch ? " and " + std::to_string(start.state.batches_in_epoch) + " batches" : "");
  } else if (!cfg.init_from.empty()) {
    ModelFile m = load_model_file(cfg.init_from);
    require_same_net(m, cfg.spec.sizes, cfg.init_from);
    start.params = std::move(m.params);
    start.note = "weights from " + cfg.init_from;
  }
  return start;
}

// The three lines a run starts with: machine and engine, data and split, net and recipe.
std::string run_header(const TrainConfig& cfg, const Engine& engine, const Dataset& data, const Split& split,
                       int threads) {
  std::ostringstream head;
  head << "ptrain " << PTRAIN_VERSION << ": " << threads << " threads, SIMD " << simd::instruction_set() << " (xsimd "
       << XSIMD_VERSION_MAJOR << "." << XSIMD_VERSION_MINOR << "." << XSIMD_VERSION_PATCH << "), engine "
       << engine.describe() << "\n"
       << "data " << cfg.data_dir << ": " << data.size() << " images of " << data.image_size << " pixels; split "
       << cfg.split << ": train " << split.train.size() << ", validation " << split.val.size() << ", test "
       << split.test.size() << "\n"
       << "net " << cfg.spec.describe() << ", " << name_of(cfg.spec.hidden) << " hidden units, "
       << (cfg.spec.loss == Loss::mse ? "sigmoid outputs, loss ½‖a−t‖²" : "softmax outputs, cross-entropy loss")
       << (cfg.spec.blog_derivative ? " (blog preset)" : "") << ", " << name_of(cfg.init) << " init"
       << "; batch " << cfg.batch_size << ", lr " << cfg.lr << (cfg.lr_decay == "cosine" ? " (cosine decay)" : "")
       << (cfg.momentum > 0 ? ", momentum " + (std::ostringstream() << cfg.momentum).str() : "") << ", " << cfg.epochs
       << " epochs, seed " << cfg.seed;
  return head.str();
}

}  // namespace

std::vector<std::uint32_t> epoch_order(const std::vector<std::uint32_t>& train, std::uint64_t seed, int epoch) {
  std::vector<std::uint32_t> order = train;
  auto rng = make_stream(seed, Stream::shuffle, static_cast<std::uint64_t>(epoch));
  shuffle(order, rng);
  return order;
}

EpochResult train_epoch(Engine& engine, const Dataset& data, const std::vector<std::uint32_t>& order, int batch_size,
                        double lr, std::size_t first_batch, const StepCallback& after_step) {
  const auto start = Clock::now();
  double loss = 0;
  Indices all(order);
  std::size_t trained = 0;
  for (std::size_t begin = first_batch * batch_size; begin < all.size(); begin += batch_size) {
    Indices batch = all.subspan(begin, std::min<std::size_t>(batch_size, all.size() - begin));
    const double batch_loss = engine.train_step(data, batch, lr);
    loss += batch_loss;
    trained += batch.size();
    if (after_step) after_step(begin + batch.size(), batch_loss);
  }
  EpochResult r;
  r.seconds = seconds_since(start);
  r.examples = trained;
  r.mean_loss = trained == 0 ? 0.0 : loss / static_cast<double>(trained);
  return r;
}

std::optional<double> accuracy_percent(Engine& engine, const Dataset& data, const std::vector<std::uint32_t>& examples,
                                       Cluster* cluster) {
  if (examples.empty()) return std::nullopt;
  if (!cluster || cluster->size() == 1)
    return 100.0 * static_cast<double>(engine.count_correct(data, examples)) / static_cast<double>(examples.size());
  const ShareBounds mine = share_bounds(examples.size(), cluster->rank(), cluster->size());
  Indices share = Indices(examples).subspan(mine.first, mine.last - mine.first);
  double correct = static_cast<double>(engine.count_correct(data, share));  // whole numbers: the sum is exact
  cluster->sum(std::span<double>(&correct, 1));
  return 100.0 * correct / static_cast<double>(examples.size());
}

double epoch_lr(const TrainConfig& cfg, int epoch) {
  if (cfg.lr_decay != "cosine") return cfg.lr;
  constexpr double kPi = 3.14159265358979323846;
  return cfg.lr * 0.5 * (1.0 + std::cos(kPi * (epoch - 1) / cfg.epochs));
}

void set_preset(TrainConfig& cfg, const std::string& preset) {
  if (preset == "blog") {
    cfg.spec.input_scale = 1.0;  // the post feeds raw 0–255 pixels
    cfg.spec.blog_derivative = true;
  } else if (preset == "none") {
    cfg.spec.input_scale = 1.0 / 255.0;
    cfg.spec.blog_derivative = false;
  } else {
    throw UsageError("--preset '" + preset + "': expected none or blog");
  }
  cfg.preset = preset;
}

void run_training(const TrainConfig& options, std::ostream& out) {
  Cluster one_process;
  run_training(options, out, one_process);
}

void run_training(const TrainConfig& options, std::ostream& out, Cluster& cluster) {
  const auto run_start = Clock::now();
  const bool spread = cluster.size() > 1;
  cluster.set_timeout(options.rank_timeout);
  TrainConfig cfg = options;
  // Ranks sharing a host share its cores unless --threads says otherwise.
  if (spread && !cfg.explicit_options.count("threads")) cfg.threads = std::max(1, cfg.threads / cluster.local_size());
  std::ostream silent(nullptr);  // what ranks other than 0 print to
  Progress progress(cluster.leader() ? out : silent, cfg.progress_bar, cfg.quiet);

  // Set-up, agreed among the ranks: if it fails on any, every rank stops here.
  std::optional<MetricsFile> metrics;
  StartPoint start;
  std::optional<MnistData> mnist;
  Split split;
  std::optional<ThreadLimit> threads;
  std::unique_ptr<Engine> engine;
  all_or_none(cluster, [&] {
    metrics.emplace(cluster.leader() ? cfg.metrics_path : "");  // fail before the long part if it cannot be written
    start = start_point(cfg);
    if (cfg.checkpoint_every > 0 && cluster.leader()) {
      std::error_code ec;
      std::filesystem::create_directories(cfg.checkpoint_dir, ec);
      if (ec) throw DataError("--checkpoint-dir " + cfg.checkpoint_dir + ": cannot create: " + ec.message());
    }
    mnist = load_mnist(cfg.data_dir, cfg.spec.classes());
    if (mnist->all.image_size != cfg.spec.inputs())
      throw UsageError("--layers starts with " + std::to_string(cfg.spec.inputs()) + " inputs but the images in " +
                       cfg.data_dir + " have " + std::to_string(mnist->all.image_size) + " pixels");
    split = cfg.split == "standard" ? standard_split(mnist->train_file_count, mnist->test_file_count, cfg.val_size)
                                    : seed_split(mnist->all.size(), cfg.seed);
    threads.emplace(cfg.threads);
    // Every rank draws the same initial weights from the shared seed; the hash check below
    // confirms that they start, and stay, equal.
    std::vector<float> initial = init_params(cfg.spec.sizes, cfg.init, cfg.seed);
    engine = make_engine(cfg.engine, cfg.spec, initial, cfg.chunk_size);
    if (!start.params.empty()) engine->set_parameters(start.params);
    engine->set_momentum(cfg.momentum);
    if (!start.velocity.empty()) engine->set_velocity(start.velocity);
    if (spread && !engine->spread_over(&cluster, cfg.exact_reduce ? Reduce::exact : Reduce::fast))
      throw UsageError("--engine scalar is the one-process oracle; run it without mpirun");
  });
  const Dataset& data = mnist->all;
  TrainState& state = start.state;

  std::string head = run_header(cfg, *engine, data, split, threads->threads());
  if (spread)
    head += "\nranks " + std::to_string(cluster.size()) + " (MPI) × " + std::to_string(threads->threads()) +
            " threads each, " +
            (cfg.exact_reduce ? "exact reduction (same weights as one process)" : "fast reduction (MPI_Allreduce)");
  progress.line(head + (start.note.empty() ? "" : "\n" + start.note));

  StepTimes step_times;
  if (cfg.profile && !engine->profile_into(&step_times))
    throw UsageError("--profile measures the parallel engine's phases; the scalar oracle is not instrumented");

  auto save_checkpoint = [&] {
    const std::string path = checkpoint_path(cfg.checkpoint_dir, state.steps);
    if (cluster.leader()) save_model_file(path, make_model_file(cfg, *engine, state, true), "checkpoint " + path);
    return path;
  };
  auto diverged = [&](int epoch, const std::string& what) {
    return DataError("training diverged in epoch " + std::to_string(epoch) + " at step " + std::to_string(state.steps) +
                     " (" + what + "); try a smaller --lr (now " + (std::ostringstream() << cfg.lr).str() +
                     "); no model was written from this run's non-finite weights");
  };
  const std::string kDrift = "the MPI reduction did not give every rank the same sum";
  // The weights_hash of every rank, checked equal: a cheap proof that the ranks did not drift.
  // Every rank sees the same hashes, so a difference stops them all alike.
  auto rank_hashes = [&](const std::string& when, const std::string& why) {
    const std::string hash = weights_hash(engine->parameters());
    const std::vector<std::uint64_t> all = cluster.gather(std::stoull(hash, nullptr, 16));
    std::vector<std::string> hex;
    for (std::uint64_t h : all)
      hex.push_back((std::ostringstream() << std::hex << std::setw(16) << std::setfill('0') << h).str());
    for (std::size_t r = 1; r < hex.size(); ++r)
      if (hex[r] != hex[0])
        fail_together(cluster, std::make_exception_ptr(DataError("the ranks' weights differ " + when +
                                                                 ": rank 0 has weights_hash " + hex[0] + ", rank " +
                                                                 std::to_string(r) + " has " + hex[r] + "; " + why)));
    return hex;
  };
  // A signal on any rank stops them all at the same step; asking every 16 steps keeps it cheap.
  auto stop_requested = [&]() -> int {
    if (!spread) return g_stop_signal;
    if (state.steps % 16 != 0) return 0;
    const std::vector<std::uint64_t> all = cluster.gather(static_cast<std::uint64_t>(g_stop_signal));
    return static_cast<int>(*std::max_element(all.begin(), all.end()));
  };
  // The ranks must start equal too: a --resume or --init-from path may name different files on
  // different hosts.
  if (spread) rank_hashes("at the start", "do --resume and --init-from name the same file on every host?");
  StopOnSignal stop_on_signal;
  int epoch = state.epochs_done + 1;
  try {
    for (; epoch <= cfg.epochs; ++epoch) {
      const auto epoch_start = Clock::now();
      step_times = StepTimes{};
      std::vector<std::uint32_t> order = epoch_order(split.train, cfg.seed, epoch);
      const double shuffle_seconds = seconds_since(epoch_start);
      const std::size_t first_batch = state.batches_in_epoch;
      progress.start_epoch(epoch, cfg.epochs, std::min(order.size(), first_batch * cfg.batch_size), order.size());
      EpochResult r = threads->run([&] {
        return train_epoch(*engine, data, order, cfg.batch_size, epoch_lr(cfg, epoch), first_batch,
                           [&](std::size_t done, double loss) {
          ++state.steps;
          ++state.batches_in_epoch;
          if (!std::isfinite(loss)) throw diverged(epoch, "the batch loss is " + fixed(loss, 4));
          if (int signal = stop_requested()) throw Interrupted(signal_name(signal), signal);
          progress.step(done);
        });
      });
      if (!all_finite(engine->parameters())) throw diverged(epoch, "a weight is not finite");
      if (spread) rank_hashes("after epoch " + std::to_string(epoch), kDrift);
      state.epochs_done = epoch;
      state.batches_in_epoch = 0;
      const auto eval_start = Clock::now();
      std::optional<double> val = threads->run([&] { return accuracy_percent(*engine, data, split.val, &cluster); });
      const double eval_seconds = seconds_since(eval_start);
      const double seconds = seconds_since(epoch_start);
      const double rate = r.seconds > 0 ? static_cast<double>(r.examples) / r.seconds : 0.0;
      std::ostringstream line;
      line << "epoch " << std::setw(3) << epoch << "/" << cfg.epochs << "  loss " << fixed(r.mean_loss, 4) << "  val "
           << percent(val) << "  " << fixed(rate, 0) << " examples/s  " << fixed(seconds, 2) << " s";
      nlohmann::json record{{"epoch", epoch},
                            {"train_loss", r.mean_loss},
                            {"val_accuracy", json_or_null(val)},
                            {"examples_per_sec", rate},
                            {"seconds", seconds}};
      if (cfg.profile) {
        nlohmann::json phases;
        line << "\n  profile:";
        for (const auto& [name, secs] : epoch_phases(step_times, shuffle_seconds, eval_seconds, seconds)) {
          line << "  " << name << " " << fixed(secs * 1e3, 1) << " ms (" << fixed(100 * secs / seconds, 1) << "%)";
          phases[name] = secs;
        }
        record["phase_seconds"] = phases;
      }
      all_or_none(cluster, [&] {  // rank 0 writes; the others learn whether it could
        if (cfg.checkpoint_every > 0 && epoch % cfg.checkpoint_every == 0) line << "\n  checkpoint " << save_checkpoint();
        progress.line(line.str());
        metrics->write(record);
      });
    }
  } catch (const Interrupted& stop) {
    // The step in progress finished on every rank; keep it if there is somewhere to keep it.
    std::string how = "after epoch " + std::to_string(epoch - 1) + " and " + std::to_string(state.batches_in_epoch) +
                      " batches of epoch " + std::to_string(epoch) + " (step " + std::to_string(state.steps) + ")";
    if (cfg.checkpoint_every > 0) {
      all_or_none(cluster, [&] { save_checkpoint(); });
      how += "; resume with: ptrain --resume " + cfg.checkpoint_dir + " --epochs " + std::to_string(cfg.epochs);
    } else {
      how += "; nothing saved (no --checkpoint-dir)";
    }
    progress.clear_bar();
    const std::string what = "stopped by " + std::string(stop.what()) + " " + how;
    fail_together(cluster, std::make_exception_ptr(Interrupted(what, stop.signal)));
  } catch (const AgreedFailure&) {
    throw;
  } catch (const SilentFailure&) {
    throw;
  } catch (...) {
    fail_together(cluster, std::current_exception());  // divergence and drift are seen by every rank alike
  }

  std::optional<double> test = threads->run([&] { return accuracy_percent(*engine, data, split.test, &cluster); });
  const std::vector<std::string> hashes = rank_hashes("at the end", kDrift);
  const std::string& hash = hashes[0];
  all_or_none(cluster, [&] {
    if (!cluster.leader()) return;
    if (!cfg.save_path.empty())
      save_model_file(cfg.save_path, make_model_file(cfg, *engine, state, false), "--save " + cfg.save_path);
    const double total = seconds_since(run_start);
    progress.result("test accuracy " + percent(test) + "  total " + fixed(total, 2) + " s  weights_hash " + hash +
                    (cfg.save_path.empty() ? "" : "  saved " + cfg.save_path));
    metrics->write({{"test_accuracy", json_or_null(test)},
                    {"total_seconds", total},
                    {"weights_hash", hash},
                    {"ranks", cluster.size()},
                    {"rank_hashes", hashes}});
  });
}

}  // namespace ptrain
