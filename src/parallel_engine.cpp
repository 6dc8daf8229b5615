#include "ptrain/parallel_engine.hpp"

#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <cmath>

#include "ptrain/kernels.hpp"
#include "ptrain/parallel_tasks.hpp"
#include "ptrain/simd.hpp"

namespace ptrain {
namespace {

namespace k = kernels::simd;
constexpr std::size_t kAlignFloats = kCacheLine / sizeof(float);
// Multiply-adds per phase-2 task (at batch 32): enough to amortise a task, small enough that
// the first layer splits into ~14 tasks, so phase 2 scales past the number of chunks.
constexpr std::size_t kRowBlockWork = 8 * 784;

// Chunk i of `all`: examples [i·K, min((i+1)·K, n)).
Indices chunk_of(Indices all, int i, int K) {
  const std::size_t begin = std::size_t(i) * K;
  return all.subspan(begin, std::min<std::size_t>(K, all.size() - begin));
}

int chunk_count(Indices all, int K) { return static_cast<int>((all.size() + K - 1) / K); }

// Each of the K rows of z (n logits) is kept in `logits` and becomes its softmax, computed after
// subtracting the row's maximum; log_norm[k] = log Σ exp(z). Plain loops: 10 classes, per example.
void softmax_rows(float* z, float* logits, float* log_norm, int K, int n) {
  std::copy(z, z + std::size_t(K) * n, logits);
  for (int k = 0; k < K; ++k) {
    float* row = z + std::size_t(k) * n;
    const float m = *std::max_element(row, row + n);
    float sum = 0.0f;
    for (int j = 0; j < n; ++j) sum += std::exp(row[j] - m);
    log_norm[k] = m + std::log(sum);
    for (int j = 0; j < n; ++j) row[j] = std::exp(row[j] - log_norm[k]);
  }
}

}  // namespace

void ParallelEngine::Activations::resize(const std::vector<int>& sizes, std::size_t n) {
  if (n <= rows) return;
  rows = n;
  acts.resize(sizes.size());
  deltas.resize(sizes.size() - 1);
  for (std::size_t l = 0; l < sizes.size(); ++l) acts[l].assign(n * sizes[l], 0.0f);
  for (std::size_t l = 0; l + 1 < sizes.size(); ++l) deltas[l].assign(n * sizes[l + 1], 0.0f);
  classes = sizes.back();
  logits.assign(n * classes, 0.0f);
  log_norm.assign(n, 0.0f);
}

ParallelEngine::ParallelEngine(const NetSpec& spec, std::span<const float> initial, int chunk_size)
    : spec_(spec), layout_(spec.sizes, kAlignFloats), chunk_size_(chunk_size), params_(layout_.total, 0.0f) {
  set_parameters(std::vector<double>(initial.begin(), initial.end()));
  // Blocks of whole 4-row tiles, about kRowBlockWork multiply-adds each.
  for (int l = 0; l < spec_.num_layers(); ++l) {
    const LayerSlot& s = layout_.layers[l];
    const int rows = std::max(4, static_cast<int>(kRowBlockWork / s.in) / 4 * 4);
    for (int j = 0; j < s.out; j += rows) row_blocks_.push_back({l, j, std::min(s.out, j + rows)});
  }
}

std::string ParallelEngine::describe() const {
  return "parallel (float32, chunks of " + std::to_string(chunk_size_) + ", " + simd::instruction_set() + ")";
}

// acts[0] = pixels · scale (bytes become floats here, per chunk); acts[l+1] = f(W_l acts[l] + b_l)
// with f the hidden activation, or at the output sigmoid (mse) or softmax (xent).
void ParallelEngine::load_inputs(const Dataset& data, Indices examples, Activations& buf, std::size_t row) const {
  const int K = static_cast<int>(examples.size());
  const int n_in = spec_.inputs();
  const float scale = static_cast<float>(spec_.input_scale);
  // Images sit at random places in 55 MB: ask for every chunk image's cache lines up front so
  // their memory latencies overlap instead of adding up.
  for (int e = 0; e < K; ++e)
    for (int i = 0; i < n_in; i += static_cast<int>(kCacheLine)) __builtin_prefetch(data.image(examples[e]) + i);
  for (int e = 0; e < K; ++e) {
    const std::uint8_t* px = data.image(examples[e]);
    float* x = buf.acts[0].data() + (row + e) * n_in;
    for (int i = 0; i < n_in; ++i) x[i] = static_cast<float>(px[i]) * scale;
  }
}

void ParallelEngine::forward(const Dataset& data, Indices examples, Activations& buf, std::size_t row,
                             ChunkTimes* times) const {
  const auto start = times ? ProfileClock::now() : ProfileClock::time_point{};
  const int K = static_cast<int>(examples.size());
  load_inputs(data, examples, buf, row);
  const auto converted = times ? ProfileClock::now() : ProfileClock::time_point{};
  const int L = spec_.num_layers();
  for (int l = 0; l < L; ++l) {
    const LayerSlot& s = layout_.layers[l];
    float* z = buf.acts[l + 1].data() + row * s.out;
    k::linear_forward(params_.data() + s.weight, params_.data() + s.bias, buf.acts[l].data() + row * s.in, z, s.out,
                      s.in, K);
    const std::size_t n = std::size_t(K) * s.out;
    if (l == L - 1 && spec_.loss == Loss::xent)
      softmax_rows(z, buf.logits.data() + row * s.out, buf.log_norm.data() + row, K, s.out);
    else if (l == L - 1 || spec_.hidden == Activation::sigmoid)
      k::sigmoid(z, z, n);
    else if (spec_.hidden == Activation::tanh)
      k::tanh_units(z, z, n);
    else
      k::relu(z, z, n);
  }
  if (times) {
    times->convert = seconds_between(start, converted);
    times->forward = seconds_between(converted, ProfileClock::now());
  }
}

// δ_L = (a_L − t)·σ'(a_L) for mse, softmax − t for xent; δ_{l−1} = (W_lᵀ δ_l)·f'(a_{l−1}).
// Returns the chunk's summed loss.
double ParallelEngine::backward(const Dataset& data, Indices examples, Activations& buf, std::size_t row) const {
  const int K = static_cast<int>(examples.size());
  const int L = spec_.num_layers();
  const bool blog = spec_.blog_derivative;
  auto sigmoid_slope = [blog](float a) {
    if (!blog) return a * (1.0f - a);
    float s = 1.0f / (1.0f + std::exp(-a));  // the post's σ(a)(1 − σ(a)); a ∈ (0, 1), no overflow
    return s * (1.0f - s);
  };
  const int n_out = spec_.classes();
  const bool xent = spec_.loss == Loss::xent;
  double loss = 0;
  for (int e = 0; e < K; ++e) {
    const float* a = buf.acts[L].data() + (row + e) * n_out;
    float* d = buf.deltas[L - 1].data() + (row + e) * n_out;
    const int label = data.labels[examples[e]];
    float example_loss = 0;
    for (int j = 0; j < n_out; ++j) {
      float diff = a[j] - (j == label ? 1.0f : 0.0f);
      example_loss += diff * diff;
      d[j] = xent ? diff : diff * sigmoid_slope(a[j]);
    }
    // Cross-entropy from the log-normaliser and the label's logit, stable for any logits.
    loss += xent ? double{buf.log_norm[row + e]} - buf.logit(row + e, label) : 0.5 * example_loss;
  }
  for (int l = L - 1; l >= 1; --l) {  // the input layer needs no delta
    const LayerSlot& s = layout_.layers[l];
    float* back = buf.deltas[l - 1].data() + row * s.in;
    k::backprop_input(params_.data() + s.weight, buf.deltas[l].data() + row * s.out, back, s.out, s.in, K);
    const float* a = buf.acts[l].data() + row * s.in;
    const std::size_t n = std::size_t(K) * s.in;
    switch (spec_.hidden) {
      case Activation::sigmoid:
        for (std::size_t i = 0; i < n; ++i) back[i] *= sigmoid_slope(a[i]);
        break;
      case Activation::tanh:
        for (std::size_t i = 0; i < n; ++i) back[i] *= 1.0f - a[i] * a[i];
        break;
      case Activation::relu:
        for (std::size_t i = 0; i < n; ++i) back[i] = a[i] > 0.0f ? back[i] : 0.0f;
        break;
    }
  }
  return loss;
}

void ParallelEngine::run_chunks(const Dataset& data, Indices batch, int c_begin, int c_end) {
  const int n_chunks = chunk_count(batch, chunk_size_);
  batch_.resize(spec_.sizes, batch.size());  // allocates only when a larger batch first arrives
  chunk_loss_.resize(std::max<std::size_t>(chunk_loss_.size(), n_chunks));
  if (profile_) chunk_times_.resize(std::max<std::size_t>(chunk_times_.size(), n_chunks));
  const auto start = profile_ ? ProfileClock::now() : ProfileClock::time_point{};
  parallel_tasks(c_end - c_begin, [&](std::size_t i) {
    const int c = c_begin + static_cast<int>(i);
    Indices examples = chunk_of(batch, c, chunk_size_);
    const std::size_t row = std::size_t(c) * chunk_size_;
    ChunkTimes* times = profile_ ? &chunk_times_[c] : nullptr;
    forward(data, examples, batch_, row, times);
    const auto backward_start = times ? ProfileClock::now() : ProfileClock::time_point{};
    chunk_loss_[c] = backward(data, examples, batch_, row);
    if (times) times->backward = seconds_between(backward_start, ProfileClock::now());
  });
  if (profile_) record_chunk_phase(c_begin, c_end, seconds_between(start, ProfileClock::now()));
}

double ParallelEngine::chunk_loss_sum(int c_begin, int c_end) const {
  double loss = 0;
  for (int c = c_begin; c < c_end; ++c) loss += chunk_loss_[c];
  return loss;
}

void ParallelEngine::record_chunk_phase(int c_begin, int c_end, double wall) {
  const int n_chunks = c_end - c_begin;
  double cpu = 0;
  for (int c = c_begin; c < c_end; ++c) {
    const ChunkTimes& t = chunk_times_[c];
    profile_->convert_cpu += t.convert;
    profile_->forward_cpu += t.forward;
    profile_->backward_cpu += t.backward;
    cpu += t.convert + t.forward + t.backward;
  }
  const int workers = std::min(n_chunks, tbb::this_task_arena::max_concurrency());
  profile_->chunks_wall += wall;
  profile_->sync_wall += std::max(0.0, wall - cpu / workers);
}

double ParallelEngine::train_step(const Dataset& data, Indices batch, double lr) {
  if (cluster_ && cluster_->size() > 1)
    return reduce_ == Reduce::exact ? exact_step(data, batch, lr) : fast_step(data, batch, lr);
  const int n_chunks = chunk_count(batch, chunk_size_);
  run_chunks(data, batch, 0, n_chunks);
  update_from_rows(static_cast<int>(batch.size()), lr);
  return chunk_loss_sum(0, n_chunks);
}

void ParallelEngine::update_from_rows(int B, double lr) {
  const float scale = static_cast<float>(lr / B);
  const auto start = profile_ ? ProfileClock::now() : ProfileClock::time_point{};
  parallel_tasks(row_blocks_.size(), [&](std::size_t t) {
    const RowBlock& blk = row_blocks_[t];
    const LayerSlot& s = layout_.layers[blk.layer];
    const float* D = batch_.deltas[blk.layer].data();
    const float* A = batch_.acts[blk.layer].data();
    if (velocity_.empty())
      k::sgd_rank_k_step(D, A, params_.data() + s.weight, params_.data() + s.bias, s.out, s.in, B, scale, blk.j_begin,
                         blk.j_end);
    else
      k::sgd_momentum_rank_k_step(D, A, params_.data() + s.weight, params_.data() + s.bias, velocity_.data() + s.weight,
                                  velocity_.data() + s.bias, s.out, s.in, B, 1.0f / static_cast<float>(B),
                                  static_cast<float>(lr), momentum_, blk.j_begin, blk.j_end);
  });
  if (profile_) profile_->update_wall += seconds_between(start, ProfileClock::now());
}

ParallelEngine::Share ParallelEngine::share_of(int rank, int n_chunks, int B) const {
  const ShareBounds chunks = share_bounds(n_chunks, rank, cluster_->size());
  Share s;
  s.c_begin = static_cast<int>(chunks.first);
  s.c_end = static_cast<int>(chunks.last);
  s.r_begin = std::min(B, s.c_begin * chunk_size_);
  s.r_end = std::min(B, s.c_end * chunk_size_);
  return s;
}

// The layers' buffers a rank sends for its rows: the hidden activations and every delta.
std::vector<std::pair<float*, int>> ParallelEngine::exchanged_rows() {
  std::vector<std::pair<float*, int>> bufs;  // (buffer, floats per row)
  for (int l = 1; l < spec_.num_layers(); ++l) bufs.emplace_back(batch_.acts[l].data(), spec_.sizes[l]);
  for (int l = 0; l < spec_.num_layers(); ++l) bufs.emplace_back(batch_.deltas[l].data(), spec_.sizes[l + 1]);
  return bufs;
}

double ParallelEngine::exact_step(const Dataset& data, Indices batch, double lr) {
  const int B = static_cast<int>(batch.size());
  const int n_chunks = chunk_count(batch, chunk_size_);
  const int ranks = cluster_->size();
  std::vector<Share> shares(ranks);
  for (int r = 0; r < ranks; ++r) shares[r] = share_of(r, n_chunks, B);
  const Share& mine = shares[cluster_->rank()];
  run_chunks(data, batch, mine.c_begin, mine.c_end);

  const auto start = profile_ ? ProfileClock::now() : ProfileClock::time_point{};
  const auto bufs = exchanged_rows();
  int per_row = 0;
  for (const auto& b : bufs) per_row += b.second;
  rows_out_.clear();
  for (const auto& [buf, width] : bufs)
    rows_out_.insert(rows_out_.end(), buf + std::size_t(mine.r_begin) * width, buf + std::size_t(mine.r_end) * width);
  std::vector<int> row_counts(ranks), loss_counts(ranks);
  for (int r = 0; r < ranks; ++r) {
    row_counts[r] = (shares[r].r_end - shares[r].r_begin) * per_row;
    loss_counts[r] = shares[r].c_end - shares[r].c_begin;
  }
  rows_in_.resize(std::size_t(B) * per_row);
  losses_in_.resize(n_chunks);
  cluster_->gather(rows_out_, rows_in_, row_counts);
  cluster_->gather(std::span<const double>(chunk_loss_.data() + mine.c_begin, loss_counts[cluster_->rank()]),
                   losses_in_, loss_counts);
  // Unpack the other ranks' rows into the batch buffers, where phase 1 would have left them.
  const float* in = rows_in_.data();
  for (int r = 0; r < ranks; ++r) {
    const Share& s = shares[r];
    for (const auto& [buf, width] : bufs) {
      const std::size_t n = std::size_t(s.r_end - s.r_begin) * width;
      if (r != cluster_->rank()) std::copy_n(in, n, buf + std::size_t(s.r_begin) * width);
      in += n;
    }
  }
  std::copy(losses_in_.begin(), losses_in_.end(), chunk_loss_.begin());
  parallel_tasks(n_chunks, [&](std::size_t c) {  // the inputs of other ranks' chunks, from the pixels
    if (int(c) < mine.c_begin || int(c) >= mine.c_end)
      load_inputs(data, chunk_of(batch, static_cast<int>(c), chunk_size_), batch_, c * chunk_size_);
  });
  if (profile_) profile_->exchange_wall += seconds_between(start, ProfileClock::now());

  update_from_rows(B, lr);
  return chunk_loss_sum(0, n_chunks);
}

double ParallelEngine::fast_step(const Dataset& data, Indices batch, double lr) {
  const int B = static_cast<int>(batch.size());
  const int n_chunks = chunk_count(batch, chunk_size_);
  const Share mine = share_of(cluster_->rank(), n_chunks, B);
  run_chunks(data, batch, mine.c_begin, mine.c_end);

  // This rank's gradient sum: the rank-K step with scale −1 on zeros leaves exactly Σ_k D[k]⊗A[k].
  auto start = profile_ ? ProfileClock::now() : ProfileClock::time_point{};
  gradient_.assign(layout_.total, 0.0f);
  const int rows = mine.r_end - mine.r_begin;
  if (rows > 0)
    parallel_tasks(row_blocks_.size(), [&](std::size_t t) {
      const RowBlock& blk = row_blocks_[t];
      const LayerSlot& s = layout_.layers[blk.layer];
      k::sgd_rank_k_step(batch_.deltas[blk.layer].data() + std::size_t(mine.r_begin) * s.out,
                         batch_.acts[blk.layer].data() + std::size_t(mine.r_begin) * s.in, gradient_.data() + s.weight,
                         gradient_.data() + s.bias, s.out, s.in, rows, -1.0f, blk.j_begin, blk.j_end);
    });
  double loss = chunk_loss_sum(mine.c_begin, mine.c_end);
  if (profile_) profile_->update_wall += seconds_between(start, ProfileClock::now());

  start = profile_ ? ProfileClock::now() : ProfileClock::time_point{};
  cluster_->sum(gradient_);
  cluster_->sum(std::span<double>(&loss, 1));
  if (profile_) profile_->exchange_wall += seconds_between(start, ProfileClock::now());

  // w ← w − lr·g/B, or with momentum v ← μv + g/B, w ← w − lr·v: the arithmetic of phase 2's kernels.
  start = profile_ ? ProfileClock::now() : ProfileClock::time_point{};
  const float inv_batch = 1.0f / static_cast<float>(B), step = static_cast<float>(lr), mu = momentum_;
  const float scale = static_cast<float>(lr / B);
  parallel_tasks(row_blocks_.size(), [&](std::size_t t) {
    const RowBlock& blk = row_blocks_[t];
    const LayerSlot& s = layout_.layers[blk.layer];
    for (auto [offset, n] : {std::pair<std::size_t, std::size_t>{s.weight + std::size_t(blk.j_begin) * s.in,
                                                                 std::size_t(blk.j_end - blk.j_begin) * s.in},
                             {s.bias + std::size_t(blk.j_begin), std::size_t(blk.j_end - blk.j_begin)}}) {
      float* w = params_.data() + offset;
      const float* g = gradient_.data() + offset;
      if (velocity_.empty()) {
        k::axpy(-scale, g, w, n);
        continue;
      }
      float* v = velocity_.data() + offset;
      for (std::size_t i = 0; i < n; ++i) {
        v[i] = mu * v[i] + g[i] * inv_batch;
        w[i] -= step * v[i];
      }
    }
  });
  if (profile_) profile_->update_wall += seconds_between(start, ProfileClock::now());
  return loss;
}

std::vector<double> ParallelEngine::mean_gradient(const Dataset& data, Indices batch, double* loss_sum) {
  const int n_chunks = chunk_count(batch, chunk_size_);
  run_chunks(data, batch, 0, n_chunks);
  if (loss_sum) *loss_sum += chunk_loss_sum(0, n_chunks);
  const int B = static_cast<int>(batch.size());
  std::vector<double> out;
  for (int l = 0; l < spec_.num_layers(); ++l) {
    const LayerSlot& s = layout_.layers[l];
    std::vector<float> dW(std::size_t(s.out) * s.in), db(s.out);
    k::weight_gradient(batch_.deltas[l].data(), batch_.acts[l].data(), dW.data(), db.data(), s.out, s.in, B);
    for (float g : dW) out.push_back(double{g} / B);
    for (float g : db) out.push_back(double{g} / B);
  }
  return out;
}

void ParallelEngine::from_canonical(std::span<const double> canonical, AlignedVector<float>& padded) const {
  padded.assign(layout_.total, 0.0f);
  ParamLayout packed(spec_.sizes, 1);
  for (std::size_t l = 0; l < layout_.layers.size(); ++l) {
    const LayerSlot &from = packed.layers[l], &to = layout_.layers[l];
    std::copy_n(canonical.begin() + from.weight, std::size_t(to.in) * to.out, padded.begin() + to.weight);
    std::copy_n(canonical.begin() + from.bias, to.out, padded.begin() + to.bias);
  }
}

std::vector<float> ParallelEngine::to_canonical(const AlignedVector<float>& padded) const {
  std::vector<float> out;
  out.reserve(canonical_param_count(spec_.sizes));
  for (const LayerSlot& s : layout_.layers) {
    out.insert(out.end(), padded.begin() + s.weight, padded.begin() + s.weight + std::size_t(s.in) * s.out);
    out.insert(out.end(), padded.begin() + s.bias, padded.begin() + s.bias + s.out);
  }
  return out;
}

void ParallelEngine::set_parameters(std::span<const double> canonical) { from_canonical(canonical, params_); }

void ParallelEngine::set_momentum(double mu) {
  momentum_ = static_cast<float>(mu);
  velocity_.assign(mu == 0 ? 0 : layout_.total, 0.0f);
}

std::vector<double> ParallelEngine::velocity() const {
  if (velocity_.empty()) return {};
  std::vector<float> v = to_canonical(velocity_);
  return std::vector<double>(v.begin(), v.end());
}

void ParallelEngine::set_velocity(std::span<const double> canonical) { from_canonical(canonical, velocity_); }

std::vector<double> ParallelEngine::exact_parameters() const {
  std::vector<float> p = parameters();
  return std::vector<double>(p.begin(), p.end());
}

std::vector<float> ParallelEngine::outputs(const Dataset& data, Indices examples) {
  const int n_out = spec_.classes();
  std::vector<float> out(examples.size() * n_out);
  tbb::enumerable_thread_specific<Activations> workspaces([this] {
    Activations a;
    a.resize(spec_.sizes, chunk_size_);
    return a;
  });
  parallel_tasks(chunk_count(examples, chunk_size_), [&](std::size_t c) {
    Activations& buf = workspaces.local();
    Indices part = chunk_of(examples, static_cast<int>(c), chunk_size_);
    forward(data, part, buf, 0);
    std::copy_n(buf.acts.back().data(), part.size() * n_out, out.begin() + std::size_t(c) * chunk_size_ * n_out);
  });
  return out;
}

std::vector<float> ParallelEngine::parameters() const { return to_canonical(params_); }

}  // namespace ptrain
