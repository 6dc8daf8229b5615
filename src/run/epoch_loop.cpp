#include "ptrain/run/epoch_loop.hpp"

#include <algorithm>
#include <cmath>

#include "ptrain/core/profile.hpp"
#include "ptrain/core/rng.hpp"
#include "ptrain/run/progress.hpp"
#include "ptrain/run/schedule.hpp"

namespace ptrain {

std::vector<std::uint32_t> epoch_order(const std::vector<std::uint32_t>& train, std::uint64_t seed, int epoch) {
  std::vector<std::uint32_t> order = train;
  auto rng = make_stream(seed, Stream::shuffle, static_cast<std::uint64_t>(epoch));
  shuffle(order, rng);
  return order;
}

namespace {

// The batch from `begin` (shorter at the end of the order; empty past it).
Indices batch_at(Indices all, std::size_t begin, int batch_size) {
  if (begin >= all.size()) return {};
  return all.subspan(begin, std::min<std::size_t>(batch_size, all.size() - begin));
}

bool all_finite(const std::vector<float>& v) {
  return std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); });
}

}  // namespace

EpochResult train_epoch(Engine& engine, const Dataset& data, const std::vector<std::uint32_t>& order, int batch_size,
                        double lr, std::size_t first_batch, const StepCallback& after_step) {
  const auto start = ProfileClock::now();
  double loss = 0;
  Indices all(order);
  std::size_t trained = 0;
  for (std::size_t begin = first_batch * batch_size; begin < all.size(); begin += batch_size) {
    Indices batch = batch_at(all, begin, batch_size);
    engine.prefetch(data, batch_at(all, begin + batch_size, batch_size),
                    batch_at(all, begin + 2 * batch_size, batch_size));
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
    return 100.0 * static_cast<double>(count_correct(engine, data, examples)) / static_cast<double>(examples.size());
  const ShareBounds mine = share_bounds(examples.size(), cluster->rank(), cluster->size());
  Indices share = Indices(examples).subspan(mine.first, mine.last - mine.first);
  double correct = static_cast<double>(count_correct(engine, data, share));  // whole numbers: the sum is exact
  cluster->sum(std::span<double>(&correct, 1));
  return 100.0 * correct / static_cast<double>(examples.size());
}

std::optional<double> mean_loss(Engine& engine, const NetSpec& spec, const Dataset& data,
                                const std::vector<std::uint32_t>& examples) {
  if (examples.empty()) return std::nullopt;
  const std::vector<float> out = engine.outputs(data, examples);
  const int classes = spec.classes();
  double sum = 0;
  for (std::size_t e = 0; e < examples.size(); ++e) {
    const float* a = out.data() + e * classes;
    const int label = data.labels[examples[e]];
    if (spec.regression()) {
      for (int j = 0; j < classes; ++j) {
        const double d = double{a[j]} - data.target(examples[e])[j];
        sum += 0.5 * d * d;
      }
      continue;
    }
    if (spec.loss == Loss::xent) {
      sum -= std::log(std::max(double{a[label]}, 1e-300));
      continue;
    }
    for (int j = 0; j < classes; ++j) {
      const double d = a[j] - (j == label ? 1.0 : 0.0);
      sum += 0.5 * d * d;
    }
  }
  return sum / static_cast<double>(examples.size());
}

int EpochLoop::run(const EpochHooks& hooks) {
  for (int epoch = position_.epochs_done + 1; epoch <= cfg_.epochs; ++epoch) {
    // A checkpoint taken after an epoch's last step, before the epoch's end was recorded.
    if (position_.batches_in_epoch > 0 && position_.batches_in_epoch * cfg_.batch_size >= data_.train.size()) {
      position_ = {epoch, 0, position_.steps};
      continue;
    }
    const EpochReport report = run_epoch(epoch, hooks);
    const bool go_on = !hooks.after_epoch || hooks.after_epoch(report);
    if (report.stop_early) return epoch;
    if (!go_on) break;
  }
  return 0;
}

EpochReport EpochLoop::run_epoch(int epoch, const EpochHooks& hooks) {
  const auto start = ProfileClock::now();
  EpochReport report;
  report.epoch = epoch;
  const std::vector<std::uint32_t> order =
      cfg_.shuffle == Shuffle::none ? data_.train : epoch_order(data_.train, cfg_.seed, epoch);
  report.shuffle_seconds = seconds_since(start);
  const std::size_t first_batch = position_.batches_in_epoch;
  if (first_batch == 0) position_.epoch_loss_sum = 0;
  if (hooks.before_epoch)
    hooks.before_epoch(epoch, std::min(order.size(), first_batch * cfg_.batch_size), order.size());
  const int cuts = best_ ? best_->lr_cuts() : 0;
  report.lr = epoch_lr(cfg_, epoch, {data_.train.size(), cuts});
  report.training = threads_.run([&] {
    return train_epoch(engine_, data_.train_set, order, cfg_.batch_size, report.lr, first_batch,
                       [&](std::size_t done, double loss) {
                         ++position_.steps;
                         ++position_.batches_in_epoch;
                         position_.epoch_loss_sum += loss;
                         if (!std::isfinite(loss)) throw hooks.diverged(epoch, "the batch loss is " + fixed(loss, 4));
                         if (hooks.after_step) hooks.after_step(done);
                       });
  });
  if (!all_finite(engine_.parameters())) throw hooks.diverged(epoch, "a weight is not finite");
  // The whole epoch's mean, batches before a resume included (summed in the same order as an
  // uninterrupted run, so the same number); unknown for a checkpoint that did not record them.
  if (std::isfinite(position_.epoch_loss_sum) && !order.empty())
    report.training.mean_loss = position_.epoch_loss_sum / static_cast<double>(order.size());
  if (hooks.after_training) hooks.after_training(epoch);
  position_.epochs_done = epoch;
  position_.batches_in_epoch = 0;
  position_.epoch_loss_sum = 0;
  const auto eval_start = ProfileClock::now();
  validate_and_judge(report);
  report.eval_seconds = seconds_since(eval_start);
  report.stop_early = best_ && best_->should_stop() && epoch < cfg_.epochs;
  report.lr_cut = best_ && best_->lr_cuts() > cuts;
  report.seconds = seconds_since(start);
  return report;
}

// A classification's validation accuracy (and loss when it judges by it); a regression's loss
// and scores, every rank computing them whole.
void EpochLoop::validate_and_judge(EpochReport& report) const {
  if (cfg_.spec.regression()) {
    const TargetTransform units{cfg_.target_shift, cfg_.target_factor};
    report.val_loss = threads_.run([&] { return mean_loss(engine_, cfg_.spec, data_.val_set, data_.val); });
    report.val_scores = threads_.run([&] { return regression_scores(engine_, data_.val_set, data_.val, units); });
  } else {
    report.val_accuracy = threads_.run([&] { return accuracy_percent(engine_, data_.val_set, data_.val, cluster_); });
    if (best_ && cfg_.early_stop_on == StopOn::loss)
      report.val_loss = threads_.run([&] { return mean_loss(engine_, cfg_.spec, data_.val_set, data_.val); });
  }
  std::optional<double> judged = cfg_.early_stop_on == StopOn::accuracy ? report.val_accuracy : report.val_loss;
  if (cfg_.early_stop_on == StopOn::r2 && report.val_scores) judged = report.val_scores->mean_r2;
  if (cfg_.early_stop_on == StopOn::train_loss) judged = report.training.mean_loss;
  report.best = best_ && judged && best_->observe(report.epoch, *judged);
}

}  // namespace ptrain
