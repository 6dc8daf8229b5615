#include "ptrain/run/trainer.hpp"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <iomanip>
#include <new>
#include <ostream>
#include <sstream>

#include "ptrain/core/errors.hpp"
#include "ptrain/core/rng.hpp"
#include "ptrain/core/text_parsers.hpp"
#include "ptrain/core/threads.hpp"
#include "ptrain/engine/kernels.hpp"
#include "ptrain/io/input_transform.hpp"
#include "ptrain/run/checkpoint.hpp"
#include "ptrain/run/early_stopping.hpp"
#include "ptrain/run/engine_factory.hpp"
#include "ptrain/run/epoch_loop.hpp"
#include "ptrain/run/metrics.hpp"
#include "ptrain/run/loaded_model.hpp"
#include "ptrain/run/progress.hpp"
#include "ptrain/run/rank_agreement.hpp"
#include "ptrain/run/regression_scores.hpp"
#include "ptrain/run/run_files.hpp"
#include "ptrain/run/schedule.hpp"
#include "ptrain/run/stop_signal.hpp"

namespace ptrain {
namespace {

std::string percent(const std::optional<double>& v) { return v ? fixed(*v, 2) + "%" : "n/a"; }

// "1 thread", "2 threads".
std::string counted(long long n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

const char* const kDrift = "the MPI reduction did not give every rank the same sum";

// "test RMSE 3.21  MAE 2.4  R² 0.8512" (averaged over the targets), or "n/a" for no test set.
std::string test_scores_text(const std::optional<RegressionScores>& s) {
  return s ? "test " + scores_text(*s) : "test R² n/a";
}

// Per-target lists beside the means, for several targets: "val_per_target_rmse", ….
void add_per_target(nlohmann::json& record, const std::string& prefix, const RegressionScores& s) {
  record[prefix + "per_target_rmse"] = s.rmse;
  record[prefix + "per_target_mae"] = s.mae;
  record[prefix + "per_target_r2"] = s.r2;
}

// ", momentum 0.9", ", adam (β₁ 0.9, β₂ 0.999, ε 1e-08)", ", weight decay 0.01": what is not plain SGD.
std::string optimizer_text(const TrainConfig& cfg) {
  std::ostringstream s;
  if (cfg.optimizer != Optimizer::sgd)
    s << ", " << name_of(cfg.optimizer) << " (β₁ " << round_trip_text(cfg.beta1) << ", β₂ "
      << round_trip_text(cfg.beta2) << ", ε " << round_trip_text(cfg.eps) << ")";
  if (cfg.momentum > 0) s << ", momentum " << round_trip_text(cfg.momentum);
  if (cfg.weight_decay > 0) s << ", weight decay " << round_trip_text(cfg.weight_decay);
  return s.str();
}

// The three lines a run starts with: machine and engine, data and split, net and recipe.
std::string run_header(const TrainConfig& cfg, const std::string& data_name, const Engine& engine, const Dataset& data,
                       const Split& split, int threads) {
  std::ostringstream head;
  head << "ptrain " << PTRAIN_VERSION << ": " << counted(threads, "thread") << ", SIMD "
       << kernels::simd::instruction_set() << " (" << kernels::simd::library_version() << "), engine "
       << engine.describe() << (cfg.subnormals == Subnormals::keep ? ", subnormals kept (IEEE)" : "") << "\n"
       << "data " << data_name << ": " << data.size() << (data.float_inputs ? " examples of " : " images of ")
       << data.image_size << (data.float_inputs ? " features" : " pixels")
       << (cfg.spec.regression() ? ", " + counted(data.target_count, "target") : "") << "; split " << name_of(cfg.split)
       << ": train " << split.train.size() << ", validation " << split.val.size() << ", test " << split.test.size()
       << "\n"
       << "net " << cfg.spec.describe() << ", " << name_of(cfg.spec.hidden) << " hidden units, "
       << (cfg.spec.regression()        ? "linear outputs, loss ½‖a−t‖²"
           : cfg.spec.loss == Loss::mse ? "sigmoid outputs, loss ½‖a−t‖²"
                                        : "softmax outputs, cross-entropy loss")
       << (cfg.spec.regression() && !cfg.target_shift.empty() ? " (targets standardised)" : "")
       << (cfg.spec.blog_derivative ? " (blog preset)" : "") << ", " << name_of(cfg.init) << " init"
       << "; batch " << cfg.batch_size << ", lr " << cfg.lr << schedule_text(cfg) << optimizer_text(cfg) << ", "
       << counted(cfg.epochs, "epoch") << ", seed " << cfg.seed;
  return head.str();
}

// One run of the train command, as named steps. Every rank runs it; rank 0 alone prints and
// writes files. Failures follow all_or_none (set-up, writes) and fail_together (what every rank
// sees alike: divergence, drift, signals).
class TrainingRun {
 public:
  TrainingRun(const TrainConfig& options, std::ostream& out, Cluster& cluster);
  void run() {
    set_up();
    announce();
    train();
    finish();
  }

 private:
  void set_up();
  void load_data();
  void transform_features();
  void transform_targets();
  void fit_validation_to_files();
  void shape_net_from_data();
  void check_net_fits_data() const;
  void check_labels_below(int classes, const std::string& why) const;
  void note_classes_skipped(int classes);
  std::string net_source() const;
  void add_note(const std::string& line) { start_.note += (start_.note.empty() ? "" : "\n") + line; }
  std::string why_no_validation() const;
  void keep_best_from_before();
  void save_best();
  std::string best_file_text() const;
  void announce();
  void train();
  void report_epoch(const EpochReport& report);
  [[noreturn]] void stop_for(const Interrupted& stop);
  void finish();
  std::string save_checkpoint();
  DataError diverged(int epoch, const std::string& what) const;

  TrainConfig cfg_;
  Cluster& cluster_;
  const bool spread_;
  std::ostream silent_{nullptr};  // what ranks other than 0 print to
  Progress progress_;
  RankAgreement ranks_;
  const ProfileClock::time_point run_start_ = ProfileClock::now();
  std::optional<MetricsFile> metrics_;
  std::optional<CheckpointFolder> checkpoints_;  // rank 0's, with --checkpoint-dir
  StartPoint start_;
  RunPosition& position_ = start_.position;
  std::optional<MnistData> mnist_;
  DataFiles files_;
  Split split_;
  std::optional<ThreadLimit> threads_;
  StepTimes step_times_;
  std::unique_ptr<Engine> engine_;
  std::optional<EarlyStopping> best_;  // with --early-stop or --save-best
  int stopped_early_ = 0;              // the epoch after which the run stopped early; 0: it did not
  bool best_in_file_ = false;          // --save-best's file holds the best epoch's weights
};

TrainingRun::TrainingRun(const TrainConfig& options, std::ostream& out, Cluster& cluster)
    : cfg_(options),
      cluster_(cluster),
      spread_(cluster.size() > 1),
      progress_(cluster.leader() ? out : silent_, options.progress_bar, options.quiet),
      ranks_(cluster) {
  cluster_.set_timeout(cfg_.rank_timeout);
  // Ranks sharing a host share its cores unless --threads says otherwise.
  if (spread_ && !cfg_.explicit_options.count("threads"))
    cfg_.threads = std::max(1, cfg_.threads / cluster.local_size());
}

// Options, files, data and engine, agreed among the ranks: if any fails, every rank stops here.
void TrainingRun::set_up() {
  all_or_none(cluster_, [&] {
    // The checkpoint --resume names, read once for the path checks and the start.
    FoundCheckpoint resume = cfg_.resume.empty() ? FoundCheckpoint{} : find_checkpoint(cfg_.resume);
    if (cluster_.leader()) check_train_files(cfg_, resume.path);  // every path before any long work
    metrics_.emplace(cluster_.leader() ? cfg_.metrics_path : "");
    start_ = start_point(cfg_, std::move(resume));
    if (cfg_.checkpoint_every > 0 && cluster_.leader())
      checkpoints_.emplace(cfg_.checkpoint_dir, cfg_.run_id, cfg_.keep_last);
    load_data();
    split_ = cfg_.split == SplitKind::standard ? standard_split(*mnist_, cfg_.val_size)
                                               : seed_split(mnist_->all.size(), cfg_.seed);
    transform_features();
    transform_targets();
    check_float32_range(cfg_, split_.train.size());  // invscaling's rates depend on the examples
    if (split_.train.empty() && cfg_.epochs > 0)
      throw DataError(files_.name() + ": the seed split of its " + std::to_string(mnist_->all.size()) +
                      " images leaves no training images (70% of them, rounded down)");
    if (cfg_.early_stop > 0 || !cfg_.save_best_path.empty()) {
      if (split_.val.empty() && cfg_.early_stop_on != StopOn::train_loss)
        throw UsageError(std::string(cfg_.early_stop > 0 ? "--early-stop" : "--save-best") +
                         " judges epochs on the validation set, and this run has none (" + why_no_validation() + ")");
      best_.emplace(cfg_);
      if (!cfg_.resume.empty()) best_->restore(start_.metadata, cfg_.resume);
    }
    threads_.emplace(cfg_.threads, cfg_.subnormals);
    // Every rank draws the same initial weights from the shared seed; announce() and every
    // epoch confirm that they start, and stay, equal.
    try {
      const std::vector<float> initial = init_params(cfg_.spec.sizes, cfg_.init, cfg_.seed);
      engine_ = make_engine(cfg_.spec, initial,
                            {cfg_.engine, cfg_.chunk_size, UpdateRule::of(cfg_), cfg_.profile ? &step_times_ : nullptr,
                             &cluster_, cfg_.exact_reduce ? Reduce::exact : Reduce::fast});
    } catch (const std::bad_alloc&) {
      const double mb = 4e-6 * static_cast<double>(canonical_param_count(cfg_.spec.sizes));
      throw UsageError(net_source() + ": out of memory for its weights (" + fixed(mb, 0) +
                       " MB a copy; the engine keeps several)");
    }
    if (!start_.state.params.empty()) engine_->restore(start_.state);
    keep_best_from_before();
    // The run starts: only now is an earlier metrics file emptied (or, resumed, continued).
    metrics_->begin(cfg_.resume.empty() ? std::nullopt : std::optional<int>(position_.epochs_done), cfg_.run_id);
  });
}

// The run's data: a resumed run's own folder or files unless --data-dir says otherwise, and the
// same data as its checkpoint records (other data is refused, or only noted when --data-dir
// asked for it).
void TrainingRun::load_data() {
  const auto& recorded = start_.metadata;
  const bool data_dir_given = cfg_.explicit_options.count("data-dir") != 0;
  files_ = run_data_files(cfg_);
  if (!cfg_.resume.empty() && !cfg_.train_file.empty())  // moved files, read as the checkpoint's were
    files_ = role_files(cfg_.train_file, cfg_.test_file, cfg_.val_file, recorded_format(recorded));
  else if (!cfg_.resume.empty() && !data_dir_given)
    if (DataFiles own = recorded_files(recorded); !own.train_images.empty()) files_ = std::move(own);
  files_.format.csv.progress = [this](const std::string& path, std::uint64_t done, std::uint64_t total) {
    progress_.reading(path, done, total);
  };
  const bool from_data = net_from_data(cfg_);
  LabelCoding coding;  // a model's classes' names, or the training file's own
  if (!cfg_.resume.empty())
    coding = recorded_coding(recorded, cfg_.resume);
  else if (!cfg_.init_from.empty())
    coding = recorded_coding(start_.init_metadata, cfg_.init_from);
  try {
    mnist_ = load_data_files(files_, kMaxClasses, coding);  // the labels are checked against the net below
  } catch (const std::bad_alloc&) {
    throw DataError(files_.name() + ": out of memory reading its images");
  }
  if (auto kind = start_.init_metadata.find("input_kind"); kind != start_.init_metadata.end())
    if (kind->second != (mnist_->all.float_inputs ? "float32" : "bytes"))
      throw UsageError("--init-from " + cfg_.init_from + " was trained on " +
                       (kind->second == "bytes" ? "bytes" : "float32 values") + " but " + files_.name() + " holds " +
                       (mnist_->all.float_inputs ? "float32 values" : "bytes"));
  if (from_data)
    shape_net_from_data();
  else
    check_net_fits_data();
  fit_validation_to_files();
  for (const std::string& note : mnist_->notes) add_note("warning: " + note);
  cfg_.data_record = data_metadata(*mnist_, files_);
  if (cfg_.resume.empty()) return;
  const std::string differs = data_difference(recorded, cfg_.data_record);
  if (differs.empty()) return;
  if (!data_dir_given) throw DataError(files_.name() + ": not the data " + cfg_.resume + " was trained on: " + differs);
  add_note("warning: " + files_.name() + " is not the data the checkpoint was trained on (" + differs +
           "); continuing on it as --data-dir asks");
}

// Files by role: a --val file validates (none of the training file does); without one, the
// training file's last 10% unless --val-size says how many.
void TrainingRun::fit_validation_to_files() {
  if (cfg_.train_file.empty() || cfg_.test_file.empty()) return;
  if (!cfg_.val_file.empty())
    cfg_.val_size = 0;
  else if (!cfg_.explicit_options.count("val-size"))
    cfg_.val_size = mnist_->train_file_count / 10;
}

// Float features go through the resumed checkpoint's transform, or --standardize's (from the
// training rows) or --scale's, or the --init-from model's; bytes take none.
void TrainingRun::transform_features() {
  Dataset& d = mnist_->all;
  const bool asked = cfg_.standardize || cfg_.feature_scale > 0;
  if (!d.float_inputs) {
    if (asked) throw UsageError("--standardize and --scale apply to float features; bytes are scaled by 1/255");
    return;
  }
  InputTransform t;
  if (!cfg_.resume.empty())
    t = InputTransform::from(start_.metadata, d.image_size, cfg_.resume);
  else if (cfg_.standardize)
    t = InputTransform::standardize(d, split_.train);
  else if (cfg_.feature_scale > 0)
    t = InputTransform::scale(d.image_size, cfg_.feature_scale);
  else if (!cfg_.init_from.empty())
    t = InputTransform::from(start_.init_metadata, d.image_size, cfg_.init_from);
  t.apply(d);
  check_feature_range(d, files_.name());
  cfg_.input_shift = t.shift;
  cfg_.input_factor = t.factor;
}

// A regression's targets go through the resumed checkpoint's transform, or --standardize's (from
// the training rows), or the --init-from model's.
void TrainingRun::transform_targets() {
  Dataset& d = mnist_->all;
  if (!cfg_.spec.regression()) return;
  TargetTransform t;
  if (!cfg_.resume.empty())
    t = TargetTransform::from(start_.metadata, d.target_count, cfg_.resume);
  else if (cfg_.standardize)
    t = TargetTransform::standardize(d, split_.train);
  else if (!cfg_.init_from.empty())
    t = TargetTransform::from(start_.init_metadata, d.target_count, cfg_.init_from);
  t.apply(d);
  check_target_range(d, files_.name());
  cfg_.target_shift = t.shift;
  cfg_.target_factor = t.factor;
}

// The input layer from the images' size, the output layer from --classes or the largest label,
// --hidden between.
void TrainingRun::shape_net_from_data() {
  const Dataset& d = mnist_->all;
  cfg_.spec.sizes = {d.image_size};
  cfg_.spec.sizes.insert(cfg_.spec.sizes.end(), cfg_.hidden.begin(), cfg_.hidden.end());
  if (cfg_.spec.regression()) return cfg_.spec.sizes.push_back(d.target_count);
  const int named = static_cast<int>(mnist_->coding.names.size());
  if (named != 0 && cfg_.classes != 0 && cfg_.classes != named)
    throw UsageError("--classes is " + std::to_string(cfg_.classes) + " but the labels of " + files_.name() + " name " +
                     std::to_string(named) + " classes");
  int classes = named != 0 ? named : cfg_.classes;
  if (classes == 0 && !d.labels.empty()) {
    classes = 1 + *std::max_element(d.labels.begin(), d.labels.end());
    note_classes_skipped(classes);
  }
  if (classes < 2)
    throw DataError(files_.name() +
                    ": every label is 0; a classifier needs two classes or more (--classes C "
                    "fixes how many)");
  check_labels_below(classes, "--classes " + std::to_string(classes));
  cfg_.spec.sizes.push_back(classes);
}

// Where the net's sizes came from, as the user gave them: "--hidden 100000", "--layers …", "the
// net of M.st" (--init-from, --resume), or the data with the default hidden sizes.
std::string TrainingRun::net_source() const {
  const std::string sizes = format_sizes(cfg_.spec.sizes, ',');
  if (cfg_.explicit_options.count("layers")) return "--layers " + sizes;
  if (!cfg_.resume.empty() || !cfg_.init_from.empty())
    return "the " + sizes + " net of " + (cfg_.resume.empty() ? cfg_.init_from : cfg_.resume);
  if (cfg_.explicit_options.count("hidden"))
    return "--hidden " + format_sizes(cfg_.hidden, ',') + " (net " + sizes + ")";
  return "the net " + sizes + " (from the data, with the default --hidden)";
}

// Outputs from the largest label: a number the labels skip is an output no example trains (one
// stray 11 among 0-9 makes 12 outputs), said with the labels' counts. --classes or --layers asks
// for room on purpose, and says nothing.
void TrainingRun::note_classes_skipped(int classes) {
  std::vector<std::uint64_t> counts(classes, 0);
  for (std::uint8_t l : mnist_->all.labels) ++counts[l];
  const auto empty = std::find(counts.begin(), counts.end(), 0u);
  if (empty == counts.end()) return;
  std::string seen;
  for (int c = 0, shown = 0; c < classes; ++c) {
    if (counts[c] == 0) continue;
    if (shown++ == 12) {
      seen += ", …";
      break;
    }
    seen += (seen.empty() ? "" : ", ") + std::to_string(c) + "×" + std::to_string(counts[c]);
  }
  add_note("warning: " + files_.name() + ": no example is labelled " + std::to_string(empty - counts.begin()) +
           ", yet the net gets " + std::to_string(classes) + " outputs, one per number up to the largest label (" +
           seen + "); --classes " + std::to_string(classes) + " says this is meant");
}

// A net given by --layers, or brought by --init-from or --resume, must fit the images (the
// labels were read against its outputs).
void TrainingRun::check_net_fits_data() const {
  const std::string source = cfg_.explicit_options.count("layers") ? "--layers"
                             : cfg_.resume.empty()                 ? "the net of " + cfg_.init_from
                                                                   : "the net of " + cfg_.resume;
  if (mnist_->all.image_size != cfg_.spec.inputs())
    throw UsageError(source + " starts with " + std::to_string(cfg_.spec.inputs()) + " inputs but the images in " +
                     files_.name() + " have " + std::to_string(mnist_->all.image_size) + " pixels");
  if (cfg_.spec.regression() != (mnist_->all.target_count > 0))
    throw UsageError(source + " is a " + name_of(cfg_.spec.task) + "'s but the run reads its data as a " +
                     name_of(mnist_->all.target_count > 0 ? Task::regression : Task::classification) + "'s");
  if (cfg_.spec.regression()) {
    if (mnist_->all.target_count != cfg_.spec.classes())
      throw UsageError(source + " ends in " + std::to_string(cfg_.spec.classes()) + " outputs but " + files_.name() +
                       " has " + counted(mnist_->all.target_count, "target") + " an example");
    return;
  }
  if (cfg_.classes != 0 && cfg_.classes != cfg_.spec.classes())
    throw UsageError("--classes is " + std::to_string(cfg_.classes) + " but " + source + " ends in " +
                     std::to_string(cfg_.spec.classes()) + " outputs");
  const std::size_t named = mnist_->coding.names.size();  // a model records one name per output
  if (named != 0 && named != static_cast<std::size_t>(cfg_.spec.classes()))
    throw UsageError(source + " ends in " + std::to_string(cfg_.spec.classes()) + " outputs but the labels of " +
                     files_.name() + " name " + std::to_string(named) + " classes");
  check_labels_below(cfg_.spec.classes(), source + " (" + std::to_string(cfg_.spec.classes()) + " outputs)");
}

// Every label below `classes`, or the first that is not, with its file and index.
void TrainingRun::check_labels_below(int classes, const std::string& why) const {
  const std::vector<std::uint8_t>& labels = mnist_->all.labels;
  const auto bad = std::find_if(labels.begin(), labels.end(), [&](std::uint8_t l) { return l >= classes; });
  if (bad == labels.end()) return;
  std::size_t at = static_cast<std::size_t>(bad - labels.begin());
  std::string file = files_.train_labels;
  for (auto [count, next] : {std::pair{mnist_->train_file_count, &files_.test_labels},
                             std::pair{mnist_->test_file_count, &files_.val_labels}}) {
    if (at < count) break;
    at -= count;
    file = *next;
  }
  throw UsageError(file + ": label " + std::to_string(*bad) + " at index " + std::to_string(at) + " is outside 0-" +
                   std::to_string(classes - 1) + ", the classes of " + why);
}

// Why the run has no validation examples, for the line that refuses --early-stop or --save-best.
std::string TrainingRun::why_no_validation() const {
  if (cfg_.explicit_options.count("val-size")) return "--val-size 0";
  const std::size_t rows = cfg_.split == SplitKind::seed ? mnist_->all.size() : mnist_->train_file_count;
  return std::string(cfg_.split == SplitKind::seed ? "the seed split's" : "the training file's") + " 10% of " +
         std::to_string(rows) + " examples is none; more data, or --test with --val-size or --val";
}

// A resumed run's best epoch came before it: --save-best's file holds it when this run wrote
// it; else the checkpoint holds it when the run stopped right after it; else nothing does, and
// the run says so rather than claim the file.
void TrainingRun::keep_best_from_before() {
  if (!best_ || !best_->best() || cfg_.save_best_path.empty()) return;
  const int epoch = best_->best_epoch();
  try {
    const ModelFile kept = load_model_file(cfg_.save_best_path);
    auto it = kept.metadata.find("run_id"), at = kept.metadata.find("epoch");
    best_in_file_ = it != kept.metadata.end() && it->second == cfg_.run_id && at != kept.metadata.end() &&
                    at->second == std::to_string(epoch);
  } catch (const DataError&) {  // none there, or not one ptrain reads: the best is not in it
  }
  if (best_in_file_) return;
  const std::string wrote =
      "--save-best " + cfg_.save_best_path + ": wrote the best epoch so far, " + std::to_string(epoch);
  if (position_.epochs_done == epoch && position_.batches_in_epoch == 0) {  // the engine holds its weights
    save_best();
    add_note(wrote + ", from the checkpoint");
    return;
  }
  if (std::optional<ModelFile> kept = checkpoint_at_epoch(cfg_.resume, cfg_.run_id, epoch)) {
    best_in_file_ = true;
    if (cluster_.leader()) save_loadable_model(cfg_.save_best_path, *kept, "--save-best " + cfg_.save_best_path);
    add_note(wrote + ", from its checkpoint");
    return;
  }
  add_note("warning: --save-best " + cfg_.save_best_path + ": the best epoch so far, " + std::to_string(epoch) +
           ", came before this resume and no checkpoint holds its weights; the file is written only when " +
           "a later epoch beats it");
}

void TrainingRun::save_best() {
  best_in_file_ = true;
  if (!cluster_.leader()) return;
  ModelFile m = make_model_file(cfg_, *engine_, position_, false);
  best_->save(m.metadata);
  save_loadable_model(cfg_.save_best_path, m, "--save-best " + cfg_.save_best_path);
}

// ", saved FILE", or why the best epoch is not in it.
std::string TrainingRun::best_file_text() const {
  if (cfg_.save_best_path.empty()) return "";
  if (best_in_file_) return ", saved " + cfg_.save_best_path;
  return ", not saved: it came before --save-best " + cfg_.save_best_path + " was given";
}

void TrainingRun::announce() {
  std::string head = run_header(cfg_, files_.describe(), *engine_, mnist_->all, split_, threads_->threads());
  const std::vector<std::string>& names = mnist_->coding.names;
  for (std::size_t c = 0; c < names.size() && c < 10; ++c) {  // labels that are names: how they are numbered
    head += c == 0 ? "\nclasses " : ", ";
    head += std::to_string(c) + " " + names[c];
  }
  if (names.size() > 10) head += ", … (" + std::to_string(names.size()) + " in all, kept in the model)";
  if (spread_)
    head += "\nranks " + std::to_string(cluster_.size()) + " (MPI) × " + std::to_string(threads_->threads()) +
            " threads each, " +
            (cfg_.exact_reduce ? "exact reduction (same weights as one process)" : "fast reduction (MPI_Allreduce)");
  progress_.line(head + (start_.note.empty() ? "" : "\n" + start_.note));
  // A --resume or --init-from path may name different files on different hosts.
  if (spread_)
    ranks_.equal_weights(engine_->parameters(), "at the start",
                         "do --resume and --init-from name the same file on every host?");
}

// Epochs until the last; a signal stops them after a whole step, a failure seen by every rank
// alike stops every rank.
void TrainingRun::train() {
  StopOnSignal stop_on_signal;
  EpochHooks hooks;
  hooks.before_epoch = [&](int epoch, std::size_t done, std::size_t size) {
    step_times_ = StepTimes{};
    progress_.start_epoch(epoch, cfg_.epochs, done, size);
  };
  hooks.after_step = [&](std::size_t done) {
    // The epoch's last step leaves the signal check to the epoch's end.
    if (done < split_.train.size())
      if (int signal = ranks_.stop_signal(position_.steps)) throw Interrupted(signal_name(signal), signal);
    progress_.step(done);
  };
  hooks.after_training = [&](int epoch) {
    if (spread_) ranks_.equal_weights(engine_->parameters(), "after epoch " + std::to_string(epoch), kDrift);
  };
  hooks.after_epoch = [&](const EpochReport& report) {
    report_epoch(report);
    // A signal during the epoch's last step waits for its report, so the stop (and its
    // checkpoint) falls on the epoch's boundary and a resume starts the next epoch afresh.
    // Early stopping and the last epoch end the run anyway: finishing beats stopping.
    if (report.stop_early || report.epoch == cfg_.epochs) return true;
    if (int signal = ranks_.stop_signal(position_.steps)) throw Interrupted(signal_name(signal), signal);
    return true;
  };
  hooks.diverged = [&](int epoch, const std::string& what) { return diverged(epoch, what); };
  try {
    EpochLoop loop(cfg_, *engine_, *threads_, {mnist_->all, split_.train, mnist_->all, split_.val}, position_,
                   best_ ? &*best_ : nullptr, &cluster_);
    stopped_early_ = loop.run(hooks);  // every rank judges the same values alike
  } catch (const Interrupted& stop) {
    stop_for(stop);
  } catch (const AgreedFailure&) {
    throw;
  } catch (const SilentFailure&) {
    throw;
  } catch (...) {
    fail_together(cluster_, std::current_exception());
  }
}

// The epoch's line and metrics record, the best model and its checkpoint when due.
void TrainingRun::report_epoch(const EpochReport& report) {
  const int epoch = report.epoch;
  const EpochResult& r = report.training;
  const double rate = r.seconds > 0 ? static_cast<double>(r.examples) / r.seconds : 0.0;
  std::ostringstream line;
  line << "epoch " << std::setw(3) << epoch << "/" << cfg_.epochs << "  loss " << fixed(r.mean_loss, 4);
  if (cfg_.spec.regression())
    line << "  val loss " << (report.val_loss ? fixed(*report.val_loss, 4) : "n/a") << "  R² "
         << (report.val_scores ? fixed(report.val_scores->mean_r2, 4) : "n/a") << "  RMSE "
         << (report.val_scores ? significant_digits(report.val_scores->mean_rmse) : "n/a");
  else
    line << "  val " << percent(report.val_accuracy)
         << (report.val_loss ? "  val loss " + fixed(*report.val_loss, 4) : "");
  line << "  " << fixed(rate, 0) << " examples/s  " << fixed(report.seconds, 2) << " s" << (report.best ? "  best" : "")
       << (report.lr_cut ? "  no gain: lr now " + significant_digits(report.lr / kAdaptiveCut) : "");
  nlohmann::json record{{"epoch", epoch},
                        {"lr", report.lr},
                        {"train_loss", r.mean_loss},
                        {"examples_per_sec", rate},
                        {"seconds", report.seconds}};
  if (cfg_.spec.regression()) {
    record["val_loss"] = json_or_null(report.val_loss);
    const std::optional<RegressionScores>& v = report.val_scores;
    record["val_rmse"] = json_or_null(v ? std::optional<double>(v->mean_rmse) : std::nullopt);
    record["val_r2"] = json_or_null(v ? std::optional<double>(v->mean_r2) : std::nullopt);
    if (v && v->r2.size() > 1) add_per_target(record, "val_", *v);
  } else {
    record["val_accuracy"] = json_or_null(report.val_accuracy);
  }
  if (report.val_loss && !cfg_.spec.regression()) record["val_loss"] = *report.val_loss;
  if (best_) record["best_epoch"] = best_->best_epoch();
  if (cfg_.profile) {
    nlohmann::json phases;
    line << "\n  profile:";
    for (const auto& [name, secs] :
         epoch_phases(step_times_, report.shuffle_seconds, report.eval_seconds, report.seconds)) {
      line << "  " << name << " " << fixed(secs * 1e3, 1) << " ms (" << fixed(100 * secs / report.seconds, 1) << "%)";
      phases[name] = secs;
    }
    record["phase_seconds"] = phases;
  }
  all_or_none(cluster_, [&] {  // rank 0 writes; the others learn whether it could
    if (report.best && !cfg_.save_best_path.empty()) save_best();
    if (cfg_.checkpoint_every > 0 && epoch % cfg_.checkpoint_every == 0) line << "\n  checkpoint " << save_checkpoint();
    progress_.line(line.str());
    metrics_->write(record);
  });
}

// The step in progress finished on every rank; keep it if there is somewhere to keep it.
void TrainingRun::stop_for(const Interrupted& stop) {
  const RunPosition& at = position_;
  std::string how = "after epoch " + std::to_string(at.epochs_done) +
                    (at.batches_in_epoch ? " and " + std::to_string(at.batches_in_epoch) + " batches of epoch " +
                                               std::to_string(at.epochs_done + 1)
                                         : "") +
                    " (step " + std::to_string(at.steps) + ")";
  if (cfg_.checkpoint_every > 0) {
    all_or_none(cluster_, [&] { save_checkpoint(); });
    how += "; resume with: " + resume_command(cfg_);
  } else {
    how += "; nothing saved (no --checkpoint-dir)";
  }
  progress_.clear_bar();
  // Open MPI's mpirun turns Ctrl-C into SIGTERM for the ranks (and itself exits 1).
  const bool relayed = spread_ && stop.signal == SIGTERM;
  const std::string what =
      "stopped by " + std::string(stop.what()) + (relayed ? " (mpirun sends it on Ctrl-C)" : "") + " " + how;
  fail_together(cluster_, std::make_exception_ptr(Interrupted(what, stop.signal)));
}

// Test accuracy, the ranks' final agreement, the model, the final line and record.
void TrainingRun::finish() {
  const bool regression = cfg_.spec.regression();
  const std::optional<double> test =
      regression ? std::nullopt
                 : threads_->run([&] { return accuracy_percent(*engine_, mnist_->all, split_.test, &cluster_); });
  const TargetTransform units{cfg_.target_shift, cfg_.target_factor};
  const std::optional<RegressionScores> scores =
      regression ? threads_->run([&] { return regression_scores(*engine_, mnist_->all, split_.test, units); })
                 : std::nullopt;
  const std::vector<std::uint64_t> hashes = ranks_.equal_weights(engine_->parameters(), "at the end", kDrift);
  all_or_none(cluster_, [&] {
    if (!cluster_.leader()) return;
    if (!cfg_.save_path.empty())
      save_loadable_model(cfg_.save_path, make_model_file(cfg_, *engine_, position_, false),
                          "--save " + cfg_.save_path);
    const double total = seconds_since(run_start_);
    std::string result = (regression ? test_scores_text(scores) : "test accuracy " + percent(test)) + "  total " +
                         fixed(total, 2) + " s  weights_hash " + hash_hex(hashes[0]) +
                         (cfg_.save_path.empty() ? "" : "  saved " + cfg_.save_path);
    if (best_ && best_->best()) {
      result += "\n" + best_->best_text() + best_file_text();
      result += "; " + (stopped_early_ ? best_->stop_text(stopped_early_) : "ran all " + counted(cfg_.epochs, "epoch"));
    } else if (best_ && !cfg_.save_best_path.empty()) {
      result += "\n--save-best " + cfg_.save_best_path + ": nothing written, as no epoch ran (--epochs " +
                std::to_string(cfg_.epochs) + ")";
    }
    progress_.result(result);
    nlohmann::json rank_hashes = nlohmann::json::array();
    for (std::uint64_t h : hashes) rank_hashes.push_back(hash_hex(h));
    nlohmann::json record{
        {"total_seconds", total},
        {"weights_hash", hash_hex(hashes[0])},
        {"ranks", cluster_.size()},
        {"rank_hashes", rank_hashes},
        {"best_epoch", best_ && best_->best() ? nlohmann::json(best_->best_epoch()) : nlohmann::json()},
        {"stopped_early_after", stopped_early_ ? nlohmann::json(stopped_early_) : nlohmann::json()}};
    if (regression) {
      for (auto [key, value] :
           {std::pair{"test_rmse", &RegressionScores::mean_rmse}, std::pair{"test_mae", &RegressionScores::mean_mae},
            std::pair{"test_r2", &RegressionScores::mean_r2}})
        record[key] = scores ? nlohmann::json((*scores).*value) : nlohmann::json();
      if (scores && scores->r2.size() > 1) add_per_target(record, "test_", *scores);
    } else {
      record["test_accuracy"] = json_or_null(test);
    }
    metrics_->write(record);
  });
}

std::string TrainingRun::save_checkpoint() {
  if (!checkpoints_) return checkpoint_path(cfg_.checkpoint_dir, position_.steps);  // ranks other than 0
  ModelFile m = make_model_file(cfg_, *engine_, position_, true);
  if (best_) best_->save(m.metadata);
  return checkpoints_->save(m, position_.steps);
}

DataError TrainingRun::diverged(int epoch, const std::string& what) const {
  return DataError("training diverged in epoch " + std::to_string(epoch) + " at step " +
                   std::to_string(position_.steps) + " (" + what + "); try a smaller --lr (now " +
                   round_trip_text(cfg_.lr) + "); no model was written from this run's non-finite weights");
}

}  // namespace

void run_training(const TrainConfig& config, std::ostream& out) {
  Cluster one_process;
  run_training(config, out, one_process);
}

void run_training(const TrainConfig& config, std::ostream& out, Cluster& cluster) {
  TrainingRun(config, out, cluster).run();
}

}  // namespace ptrain
