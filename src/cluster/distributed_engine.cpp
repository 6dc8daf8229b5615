#include "ptrain/cluster/distributed_engine.hpp"

#include <algorithm>
#include <cstring>

namespace ptrain {
namespace {

constexpr int kFloatsPerDouble = sizeof(double) / sizeof(float);

// A rank may hold no chunk of a short batch: memcpy must not see its null pointers then.
void append_bytes(std::span<const double> values, std::vector<float>& out) {
  if (values.empty()) return;
  const std::size_t at = out.size();
  out.resize(at + values.size() * kFloatsPerDouble);
  std::memcpy(out.data() + at, values.data(), values.size_bytes());
}

}  // namespace

DistributedEngine::DistributedEngine(std::unique_ptr<ParallelEngine> engine, Cluster& cluster, Reduce mode)
    : engine_(std::move(engine)), cluster_(cluster), mode_(mode) {}

double DistributedEngine::train_step(const Dataset& data, Indices batch, double lr) {
  return mode_ == Reduce::exact ? exact_step(data, batch, lr) : fast_step(data, batch, lr);
}

DistributedEngine::Share DistributedEngine::share_of(int rank, int n_chunks, int B) const {
  const ShareBounds chunks = share_bounds(n_chunks, rank, cluster_.size());
  Share s;
  s.c_begin = static_cast<int>(chunks.first);
  s.c_end = static_cast<int>(chunks.last);
  s.r_begin = engine_->chunk_row(s.c_begin, B);
  s.r_end = engine_->chunk_row(s.c_end, B);
  return s;
}

void DistributedEngine::record_exchange(ProfileClock::time_point start) const {
  if (StepTimes* p = engine_->profile()) p->exchange_wall += seconds_between(start, ProfileClock::now());
}

double DistributedEngine::exact_step(const Dataset& data, Indices batch, double lr) {
  const int B = static_cast<int>(batch.size()), n_chunks = engine_->chunk_count(batch.size());
  const int ranks = cluster_.size(), me = cluster_.rank();
  std::vector<Share> shares(ranks);
  for (int r = 0; r < ranks; ++r) shares[r] = share_of(r, n_chunks, B);
  const Share& mine = shares[me];
  engine_->run_chunks(data, batch, mine.c_begin, mine.c_end);

  const auto start = ProfileClock::now();
  const auto bufs = engine_->exchanged_rows();
  int per_row = 0;
  for (const auto& b : bufs) per_row += b.second;
  // One collective a step, not two: each rank's rows, then its chunks' losses as raw bytes (a
  // double is two floats' bytes; MPI moves them unchanged between like machines).
  std::span<double> losses = engine_->chunk_losses();
  rows_out_.clear();
  for (const auto& [buf, width] : bufs)
    rows_out_.insert(rows_out_.end(), buf + std::size_t(mine.r_begin) * width, buf + std::size_t(mine.r_end) * width);
  append_bytes(losses.subspan(mine.c_begin, mine.c_end - mine.c_begin), rows_out_);
  std::vector<int> counts(ranks);
  for (int r = 0; r < ranks; ++r)
    counts[r] =
        (shares[r].r_end - shares[r].r_begin) * per_row + (shares[r].c_end - shares[r].c_begin) * kFloatsPerDouble;
  rows_in_.resize(std::size_t(B) * per_row + std::size_t(n_chunks) * kFloatsPerDouble);
  cluster_.gather(rows_out_, rows_in_, counts);
  // The other ranks' rows go into the batch buffers, where phases 1 and 2 would have left them.
  const float* in = rows_in_.data();
  for (int r = 0; r < ranks; ++r) {
    const Share& s = shares[r];
    for (const auto& [buf, width] : bufs) {
      const std::size_t n = std::size_t(s.r_end - s.r_begin) * width;
      if (r != me) std::copy_n(in, n, buf + std::size_t(s.r_begin) * width);
      in += n;
    }
    const std::size_t n_losses = std::size_t(s.c_end - s.c_begin);
    if (r != me && n_losses > 0) std::memcpy(losses.data() + s.c_begin, in, n_losses * sizeof(double));
    in += n_losses * kFloatsPerDouble;
  }
  record_exchange(start);

  engine_->reduce_and_update(B, lr);
  return engine_->loss_sum(0, n_chunks);
}

double DistributedEngine::fast_step(const Dataset& data, Indices batch, double lr) {
  const int B = static_cast<int>(batch.size()), n_chunks = engine_->chunk_count(batch.size());
  const Share mine = share_of(cluster_.rank(), n_chunks, B);
  engine_->run_chunks(data, batch, mine.c_begin, mine.c_end);

  StepTimes* profile = engine_->profile();
  auto start = ProfileClock::now();
  engine_->sum_gradients(mine.r_begin, mine.r_end, gradient_);
  double loss = engine_->loss_sum(mine.c_begin, mine.c_end);
  if (profile) profile->update_wall += seconds_between(start, ProfileClock::now());

  start = ProfileClock::now();
  cluster_.sum(gradient_);
  cluster_.sum(std::span<double>(&loss, 1));
  record_exchange(start);

  start = ProfileClock::now();
  engine_->apply_gradient_sum(gradient_, B, lr);
  if (profile) profile->update_wall += seconds_between(start, ProfileClock::now());
  return loss;
}

}  // namespace ptrain
