#include "ptrain/engine/parallel_engine.hpp"

#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <cmath>

#include "ptrain/core/parallel_tasks.hpp"
#include "ptrain/core/prefetch.hpp"
#include "ptrain/core/transpose.hpp"
#include "ptrain/engine/kernels.hpp"

namespace ptrain {
namespace {

namespace k = kernels::simd;
constexpr std::size_t kAlignFloats = kCacheLine / sizeof(float);
// The first layer's columns are split in groups of 8 (an AVX2 vector, half an AVX-512 one), or
// of a whole vector (place_owners); each owner's block of weights is stored apart, so owners
// share no line of them.
constexpr int kOwnerColumns = 8;
// An owner of at most this many columns is narrow: its block is kept output-major and the batch
// (forward) or the inputs (update) fill the lanes, since 8 columns in the lanes fill only half an
// AVX-512 vector (perf/bench_kernels, narrow_* against linear_forward_pixels at 8 columns).
// Wider owners stay input-major: there the narrow kernels lose in whole runs (perf/scaling.py).
constexpr int kNarrowColumns = 8;
// A later layer with more weights than this is read from L3 or memory in phase 2 (a core's L2
// is 1-2 MiB on the machines we measure, shared with the owner's block and the activations).
// Such a layer keeps no output-major copy: refreshing it each step costs more than sending the
// error back from Wᵀ (linear_backward_input_from_wt).
constexpr std::size_t kCachedWeightBytes = 512 * 1024;
constexpr std::size_t kNoCopy = ~std::size_t{0};
// A later layer with more weights than this is updated by all owners, each a share of its
// columns; a smaller one by one owner whole (splitting it costs more than the imbalance).
constexpr std::size_t kSplitUpdateBytes = 64 * 1024;
// Examples an evaluation task runs together (at least; a larger chunk size is kept).
constexpr int kEvaluationRows = 64;

// Chunk i of `all`: examples [i·K, min((i+1)·K, n)).
Indices chunk_of(Indices all, int i, int K) {
  const std::size_t begin = std::size_t(i) * K;
  return all.subspan(begin, std::min<std::size_t>(K, all.size() - begin));
}

template <class Clock = ProfileClock>
typename Clock::time_point now_if(bool wanted) {
  return wanted ? Clock::now() : typename Clock::time_point{};
}

}  // namespace

void ParallelEngine::Activations::resize(const std::vector<int>& sizes, std::size_t n) {
  if (n <= rows) return;
  rows = n;
  a.resize(sizes.size());
  dz.resize(sizes.size() - 1);
  for (std::size_t l = 1; l < sizes.size(); ++l) a[l].assign(n * sizes[l], 0.0f);
  for (std::size_t l = 0; l + 1 < sizes.size(); ++l) dz[l].assign(n * sizes[l + 1], 0.0f);
  logits.assign(n * sizes.back(), 0.0f);
  log_norm.assign(n, 0.0f);
  labels.assign(n, 0);
}

ParallelEngine::ParallelEngine(const NetSpec& spec, std::span<const float> initial, int chunk_size,
                               const UpdateRule& rule, StepTimes* profile)
    : spec_(spec),
      layout_(spec.sizes, kAlignFloats),
      chunk_size_(chunk_size),
      rule_(rule),
      profile_(profile) {
  for (int l = 0; l < spec_.num_layers(); ++l) {
    const LayerSlot& s = layout_.layers[l];
    const bool big = std::size_t(s.in) * s.out * sizeof(float) > kCachedWeightBytes;
    output_major_at_.push_back(l > 0 && !big ? output_major_.size() : kNoCopy);
    if (output_major_at_[l] != kNoCopy)
      output_major_.resize(output_major_.size() + (std::size_t(s.in) * s.out + kAlignFloats - 1) / kAlignFloats *
                                                      kAlignFloats);
  }
  place_owners(1);
  pixel_scale_ = static_cast<float>(spec_.input_scale);
  to_float_ = kernels::pixel_table(pixel_scale_);
  from_canonical(std::vector<double>(initial.begin(), initial.end()), params_);
  refresh_output_major();
  velocity_.assign(rule.sgd_velocity() || rule.adam() ? layout_.total : 0, 0.0f);
  second_moment_.assign(rule.adam() ? layout_.total : 0, 0.0f);
}

std::string ParallelEngine::describe() const {
  return "parallel (float32, chunks of " + std::to_string(chunk_size_) + ", " + k::instruction_set() + ")";
}

void ParallelEngine::linear(int l, const float* inputs, Activations& buf, std::size_t row, int K) const {
  const LayerSlot& s = layout_.layers[l];
  k::linear_forward(params_.data() + s.weight, params_.data() + s.bias, inputs, buf.a[l + 1].data() + row * s.out,
                    s.out, s.in, K, 0, s.out);
}

void ParallelEngine::first_layer_columns(const Owner& o, FirstInputs in, float* z, int K, int j0, int j1) const {
  const LayerSlot& s = layout_.layers[0];
  const float *w = params_.data() + block_weight(o), *b = params_.data() + s.bias + o.j_begin;
  if (in.rows)
    k::linear_forward_rows(w, b, in.rows, z, o.cols(), s.in, K, j0, j1);
  else
    k::linear_forward_pixels(w, b, in.images, to_float_.data(), z, o.cols(), s.in, K, j0, j1);
}

void ParallelEngine::narrow_columns(const Owner& o, const InputTable& in, int r_begin, int K, float* z) const {
  const LayerSlot& s = layout_.layers[0];
  const float *w = params_.data() + block_weight(o), *b = params_.data() + s.bias + o.j_begin;
  thread_local AlignedVector<float> zt;  // the kernel's outputs, [cols][K]
  zt.resize(std::size_t(K) * o.cols());
  if (in.rows.empty())
    k::narrow_forward_pixels(w, b, in.bytes_t.data() + r_begin, in.size(), pixel_scale_, zt.data(), o.cols(), s.in, K);
  else
    k::narrow_forward(w, b, in.rows_t.data() + r_begin, in.size(), zt.data(), o.cols(), s.in, K);
  transpose(zt.data(), o.cols(), K, z);
}

bool ParallelEngine::has_narrow_owners() const {
  return std::any_of(owners_.begin(), owners_.end(), [](const Owner& o) { return o.narrow; });
}

void ParallelEngine::InputTable::point_at(const Dataset& data, Indices examples, bool transposed) {
  images.resize(data.float_inputs ? 0 : examples.size());
  rows.resize(data.float_inputs ? examples.size() : 0);
  for (std::size_t e = 0; e < examples.size(); ++e)
    if (data.float_inputs)
      rows[e] = data.row(examples[e]);
    else
      images[e] = data.image(examples[e]);
  in = data.image_size;
  const std::size_t room = transposed ? std::size_t(in) * examples.size() : 0;
  bytes_t.resize(data.float_inputs ? 0 : room);
  rows_t.resize(data.float_inputs ? room : 0);
}

void ParallelEngine::InputTable::prefetch_rows(int r_begin, int r_end) const {
  const std::size_t bytes = std::size_t(in) * (rows.empty() ? 1 : sizeof(float));
  for (int r = r_begin; r < r_end; ++r)
    prefetch_bytes<3>(rows.empty() ? static_cast<const void*>(images[r]) : static_cast<const void*>(rows[r]), bytes);
}

void ParallelEngine::InputTable::transpose(int r_begin, int r_end, int c_begin, int c_end) {
  const std::size_t n = size();
  if (rows.empty())
    transpose_byte_rows([this](int r) { return images[r]; }, r_begin, r_end, c_begin, c_end, bytes_t.data(), n);
  else
    transpose_rows([this](int r) { return rows[r]; }, r_begin, r_end, c_begin, c_end, rows_t.data(), n);
}

// The inputs cut in whole transposition blocks: each task writes its own rows of the transposed
// copy, so even a batch of 32 is shared by every task (cut by examples at whole cache lines, one
// task would transpose it all while the others idle; --profile's sync phase shows it).
void ParallelEngine::transpose_share(InputTable& in, int r_begin, int r_end, std::size_t t, std::size_t n) {
  const std::size_t blocks = (std::size_t(in.in) + kTransposeBlock - 1) / kTransposeBlock;
  auto cut = [&](std::size_t i) { return std::min(in.in, static_cast<int>(blocks * i / n) * kTransposeBlock); };
  if (cut(t) < cut(t + 1)) in.transpose(r_begin, r_end, cut(t), cut(t + 1));
}

void ParallelEngine::first_layer(const InputTable& inputs, Activations& buf, int K) const {
  thread_local std::vector<float> block;  // one owner block's outputs, then into z's columns
  for (const Owner& o : owners_) {
    block.resize(std::size_t(K) * o.cols());
    if (o.narrow)
      narrow_columns(o, inputs, 0, K, block.data());
    else
      first_layer_columns(o, inputs.from(0), block.data(), K, 0, o.cols());
    scatter_columns(block.data(), o, buf.a[1].data(), spec_.sizes[1], K);
  }
}

// The first layer's Wᵀ is stored owner block by owner block, each block [in][cols] contiguous
// (a narrow one [cols][in]).
std::size_t ParallelEngine::block_weight(const Owner& o) const {
  return layout_.layers[0].weight + std::size_t(layout_.layers[0].in) * o.j_begin;
}

std::size_t ParallelEngine::weight_index(int l, int i, int j) const {
  const LayerSlot& s = layout_.layers[l];
  if (l > 0) return s.weight + std::size_t(i) * s.out + j;
  for (const Owner& o : owners_)
    if (j < o.j_end)
      return block_weight(o) + (o.narrow ? std::size_t(j - o.j_begin) * layout_.layers[0].in + i
                                         : std::size_t(i) * o.cols() + (j - o.j_begin));
  return 0;  // j is always below the last owner's end
}

void ParallelEngine::scatter_columns(const float* block, const Owner& o, float* rows, int stride, int K) {
  for (int k = 0; k < K; ++k)
    std::copy_n(block + std::size_t(k) * o.cols(), o.cols(), rows + std::size_t(k) * stride + o.j_begin);
}

void ParallelEngine::gather_columns(const float* rows, int stride, const Owner& o, float* block, int K) {
  for (int k = 0; k < K; ++k)
    std::copy_n(rows + std::size_t(k) * stride + o.j_begin, o.cols(), block + std::size_t(k) * o.cols());
}

void ParallelEngine::activate(int l, Activations& buf, std::size_t row, int K) const {
  const int L = spec_.num_layers(), n_out = spec_.sizes[l + 1];
  float* z = buf.a[l + 1].data() + row * n_out;
  const std::size_t n = std::size_t(K) * n_out;
  if (l < L - 1) return hidden_forward(z, n);
  if (spec_.loss == Loss::xent)
    k::softmax_forward(z, buf.logits.data() + row * n_out, buf.log_norm.data() + row, K, n_out);
  else
    k::sigmoid_forward(z, z, n);
}

void ParallelEngine::hidden_forward(float* z, std::size_t n) const {
  switch (spec_.hidden) {
    case Activation::sigmoid: return k::sigmoid_forward(z, z, n);
    case Activation::tanh: return k::tanh_forward(z, z, n);
    case Activation::relu: return k::relu_forward(z, z, n);
  }
}

void ParallelEngine::forward(const Dataset& data, Indices examples, Activations& buf) const {
  const int K = static_cast<int>(examples.size());
  thread_local InputTable inputs;
  inputs.point_at(data, examples, has_narrow_owners());
  if (has_narrow_owners()) inputs.transpose(0, K, 0, inputs.in);
  for (int l = 0; l < spec_.num_layers(); ++l) {
    if (l == 0)
      first_layer(inputs, buf, K);
    else
      linear(l, buf.a[l].data(), buf, 0, K);
    activate(l, buf, 0, K);
  }
}

// The output layer's dZ for K rows from `row`, from the loss; returns their summed loss.
double ParallelEngine::output_delta(Activations& buf, std::size_t row, int K) const {
  const int L = spec_.num_layers(), n_out = spec_.classes();
  const float* a_out = buf.a[L].data() + row * n_out;
  float* dz_out = buf.dz[L - 1].data() + row * n_out;
  const int* labels = buf.labels.data() + row;
  return spec_.loss == Loss::xent
             ? k::xent_output_backward(a_out, buf.logits.data() + row * n_out, buf.log_norm.data() + row, labels,
                                       dz_out, K, n_out)
             : k::mse_output_backward(a_out, labels, dz_out, K, n_out, spec_.blog_derivative);
}

// dZ_{l−1} = (dZ_l · W_l) · f'(a_l) from the output layer down to layer 0.
void ParallelEngine::backward(Activations& buf, std::size_t row, int K) const {
  for (int l = spec_.num_layers() - 1; l >= 1; --l) {  // the input layer needs no dZ
    const LayerSlot& s = layout_.layers[l];
    float* da = buf.dz[l - 1].data() + row * s.in;
    const float* dz = buf.dz[l].data() + row * s.out;
    if (output_major_at_[l] == kNoCopy)
      k::linear_backward_input_from_wt(params_.data() + s.weight, dz, da, s.out, s.in, K);
    else
      k::linear_backward_input(output_major_.data() + output_major_at_[l], dz, da, s.out, s.in, K);
    hidden_backward(buf.a[l].data() + row * s.in, da, std::size_t(K) * s.in);
  }
}

void ParallelEngine::hidden_backward(const float* a, float* d, std::size_t n) const {
  switch (spec_.hidden) {
    case Activation::sigmoid:
      return spec_.blog_derivative ? k::sigmoid_backward_blog(a, d, n) : k::sigmoid_backward(a, d, n);
    case Activation::tanh: return k::tanh_backward(a, d, n);
    case Activation::relu: return k::relu_backward(a, d, n);
  }
}

// A later layer too big for a core's cache: it keeps no output-major copy.
bool ParallelEngine::streams_weights() const {
  return std::find(output_major_at_.begin() + 1, output_major_at_.end(), kNoCopy) != output_major_at_.end();
}

int ParallelEngine::column_groups() const { return (spec_.sizes[1] + kOwnerColumns - 1) / kOwnerColumns; }

// As even a split as whole groups allow: groups of a vector's columns when every owner gets one,
// else of 8. An owner's time goes by the vectors its columns fill (a half vector takes an FMA
// slot as a whole one does), so whole vectors lose nothing and the tiles need no half vector,
// which runs slower (perf/bench_kernels, linear_forward_pixels at 56 against 48 and 64 columns).
// The first owners take the groups left over: task 0 runs on the calling thread at once, the
// others only once a worker has taken them (perf/scaling.py at two threads). No result depends on
// the split.
void ParallelEngine::place_owners(int n) {
  const int columns = spec_.sizes[1], vector = std::max(kOwnerColumns, k::lanes());
  const int group = columns / vector >= n ? vector : kOwnerColumns, groups = (columns + group - 1) / group;
  auto first_group = [&](int o) { return groups / n * o + std::min(o, groups % n); };
  owners_.resize(n);
  owner_rows_ = std::make_unique<Counter[]>(n);
  for (int o = 0; o < n; ++o) {
    owners_[o].j_begin = std::min(columns, first_group(o) * group);
    owners_[o].j_end = std::min(columns, first_group(o + 1) * group);
    owners_[o].narrow = owners_[o].cols() <= kNarrowColumns;
  }
  // Each small later layer to the owner with the least to do so far (weights of the first layer
  // read twice, a layer's once; ties to the later owner, which has the fewer columns): on two
  // threads both of the default net's go to the 48-column owner, whose spare time they fill, and
  // the other reads none of their inputs (perf/scaling.py at two threads).
  std::vector<std::size_t> load(n);
  for (int o = 0; o < n; ++o) load[o] = 2 * std::size_t(owners_[o].cols()) * layout_.layers[0].in;
  small_layer_owner_.assign(spec_.num_layers(), 0);
  for (int l = 1; l < spec_.num_layers(); ++l) {
    if (updated_in_shares(l)) continue;
    const std::size_t least = std::min_element(load.rbegin(), load.rend()) - load.rbegin();
    const std::size_t o = std::size_t(n) - 1 - least;
    small_layer_owner_[l] = o;
    load[o] += std::size_t(layout_.layers[l].in) * layout_.layers[l].out;
  }
}

// One owner a thread; the first layer's blocks are laid out anew when their number changes.
void ParallelEngine::assign_owners(int threads) {
  const int n = std::max(1, std::min(threads, column_groups()));
  if (static_cast<int>(owners_.size()) == n) return;
  std::vector<std::vector<float>> canonical;  // the parameters and the optimizer's state, laid out anew
  for (AlignedVector<float>* v : {&params_, &velocity_, &second_moment_})
    canonical.push_back(v->empty() ? std::vector<float>{} : to_canonical(*v));
  place_owners(n);
  int at = 0;
  for (AlignedVector<float>* v : {&params_, &velocity_, &second_moment_}) {
    const std::vector<float>& c = canonical[at++];
    if (!c.empty()) from_canonical(std::vector<double>(c.begin(), c.end()), *v);
  }
}

// The owner's columns of the first layer for K rows of images, in pieces of 48 columns × all K
// rows, so that the kernel can sum a wide block's inputs in blocks over all the rows of a slice,
// or for a block of up to 64 columns the whole block × as many rows as its tiles have (a piece
// of other height would cut the tiles); the sums do not depend on the pieces. Each piece is
// followed by a share of the next batch's image prefetches: spread out, their cache misses
// overlap this arithmetic, where issued at once they stall on full miss buffers. Each owner asks
// for the whole batch, since it reads every image of it (a share each would bring the other
// shares from the other cores' caches). perf/vs_onednn.py on the wide net and perf/scaling.py
// measure these choices.
void ParallelEngine::first_layer_block(const Owner& owner, const Dataset& data, FirstInputs inputs, float* z, int K,
                                       Indices ahead, const std::function<void(int, int)>& rows_finished) const {
  const int cols = owner.cols();
  const bool small_block = cols <= 64;
  // All rows in a piece (at least one: a rank's share of a batch may be empty).
  const int piece_cols = small_block ? cols : 48, piece_rows = small_block ? k::tile_rows(cols) : std::max(K, 1);
  const int row_pieces = (K + piece_rows - 1) / piece_rows, col_pieces = (cols + piece_cols - 1) / piece_cols;
  const std::size_t pieces = std::size_t(row_pieces) * col_pieces;
  std::size_t piece = 0;
  for (int j0 = 0; j0 < cols; j0 += piece_cols)  // the kernel's own order: a column slice's weights stay in cache
    for (int k0 = 0; k0 < K; k0 += piece_rows, ++piece) {
      first_layer_columns(owner, inputs.from(k0), z + std::size_t(k0) * cols, std::min(piece_rows, K - k0), j0,
                          std::min(cols, j0 + piece_cols));
      const std::size_t n = ahead.size(), first = n * piece / pieces;
      data.prefetch(ahead.subspan(first, n * (piece + 1) / pieces - first));
      if (j0 + piece_cols >= cols) rows_finished(k0, std::min(K, k0 + piece_rows));
    }
}

// A narrow owner's columns for K rows from r_begin, then the next batch's image prefetches (as
// in first_layer_block), and these rows': the forward read their transposed copy, which another
// core made, and the update that comes next reads the rows themselves, which it would otherwise
// wait for (perf/scaling.py at 8 threads or more).
void ParallelEngine::narrow_block(const Owner& owner, const Dataset& data, const InputTable& in, int r_begin, float* z,
                                  int K, Indices ahead) const {
  narrow_columns(owner, in, r_begin, K, z);
  data.prefetch(ahead);
  in.prefetch_rows(r_begin, r_begin + K);
}

// The owner's columns of the first layer for rows [r_begin, r_end) of the batch whose inputs
// `in` lists, into `a1` (rows × the layer's outputs), prefetching the images of `ahead`. Each run
// of rows is activated (unless the first layer is the output layer: softmax needs whole rows)
// and put in place as soon as the block has it, and published in `rows_done` when given.
void ParallelEngine::owner_forward(Owner& owner, const Dataset& data, const InputTable& in, int r_begin, int r_end,
                                   float* a1, Indices ahead, std::atomic<int>* rows_done) {
  const auto start = now_if(profile_);
  const int K = r_end - r_begin;
  const LayerSlot& s = layout_.layers[0];
  const int cols = owner.cols();
  float* rows = a1 + std::size_t(r_begin) * s.out;
  float* z = rows;
  if (!owns_all_columns(owner)) {
    owner.block.resize(std::max<std::size_t>(owner.block.size(), in.size() * cols));
    z = owner.block.data();
  }
  auto finished = [&](int k0, int k1) {
    float* zk = z + std::size_t(k0) * cols;  // an owner of all columns: cols is the rows' stride
    if (spec_.num_layers() > 1) hidden_forward(zk, std::size_t(k1 - k0) * cols);
    if (z != rows) scatter_columns(zk, owner, rows + std::size_t(k0) * s.out, s.out, k1 - k0);
    if (rows_done) rows_done->store(k1);
  };
  if (owner.narrow) {
    narrow_block(owner, data, in, r_begin, z, K, ahead);
    finished(0, K);
  } else {
    first_layer_block(owner, data, in.from(r_begin), z, K, ahead, finished);
  }
  if (profile_) owner.times = {seconds_between(start, ProfileClock::now()), 0};
}

// What every step does first: buffers for its batch (allocated only when a larger batch first
// arrives), one owner a thread, and the batch's inputs row by row (the exact reduction's phase 3
// reads them all).
void ParallelEngine::prepare_step(const Dataset& data, Indices batch) {
  const int n_chunks = chunk_count(batch.size());
  for (Activations* buf : {&batch_, &next_}) {  // swapped step by step: both alike
    buf->resize(spec_.sizes, batch.size());
    buf->chunk_loss.resize(std::max<std::size_t>(buf->chunk_loss.size(), n_chunks));
  }
  chunk_times_.resize(std::max<std::size_t>(chunk_times_.size(), n_chunks));  // a slot per task, at most one a chunk
  assign_owners(tbb::this_task_arena::max_concurrency());
  inputs_.point_at(data, batch, has_narrow_owners());
}

void ParallelEngine::run_chunks(const Dataset& data, Indices batch, int c_begin, int c_end) {
  prepare_step(data, batch);
  const int B = static_cast<int>(batch.size());
  first_layer_phase(data, chunk_row(c_begin, B), chunk_row(c_end, B));
  next_batch_.clear();  // a hint for one step
  later_layers_phase(data, batch, c_begin, c_end);
}

// Phase 1: each owner its columns of the first layer for rows [r_begin, r_end). Narrow owners
// read the batch transposed, which is made first (when no lookahead made it in phase 2).
void ParallelEngine::first_layer_phase(const Dataset& data, int r_begin, int r_end) {
  const auto start = now_if(profile_);
  if (has_narrow_owners())
    parallel_tasks(owners_.size(), [&](std::size_t t) { transpose_share(inputs_, r_begin, r_end, t, owners_.size()); });
  parallel_tasks(
      owners_.size(),
      [&](std::size_t o) {
        owner_forward(owners_[o], data, inputs_, r_begin, r_end, batch_.a[1].data(), Indices(next_batch_));
      },
      owner_affinity_);
  if (profile_) {
    std::vector<TaskTimes*> tasks;
    for (Owner& o : owners_) tasks.push_back(&o.times);
    record_phase(tasks, seconds_between(start, ProfileClock::now()));
  }
}

// Phase 2 (and, for narrow owners, a share of the lookahead batch's transposition a task). A
// task a chunk lets a thread that finishes early take another; where a later layer's weights
// outgrow the cache each pass over them costs more than that, and a task a thread takes a run of
// whole chunks (perf/bench_step: each choice loses on the other kind of net).
void ParallelEngine::later_layers_phase(const Dataset& data, Indices batch, int c_begin, int c_end) {
  const int chunks = c_end - c_begin;
  const int tasks =
      streams_weights() ? std::max(1, std::min(chunks, tbb::this_task_arena::max_concurrency())) : chunks;
  auto first_chunk = [&](int t) { return c_begin + chunks * t / tasks; };
  const auto start = now_if(profile_);
  const bool transpose_next = lookahead_.data && has_narrow_owners();
  parallel_tasks(tasks, [&](std::size_t t) {
    chunk_pass(batch_, data, batch, first_chunk(static_cast<int>(t)), first_chunk(static_cast<int>(t) + 1),
               chunk_times_[t]);
    if (transpose_next)
      transpose_share(lookahead_.inputs, 0, static_cast<int>(lookahead_.inputs.size()), t, std::size_t(tasks));
  });
  if (profile_) {
    std::vector<TaskTimes*> times;
    for (int t = 0; t < tasks; ++t) times.push_back(&chunk_times_[t]);
    record_phase(times, seconds_between(start, ProfileClock::now()));
  }
}

// Phase 2 for chunks [c_begin, c_end) as one block of rows, so that each later layer's weights
// pass through the core once for the block, not once a chunk (rows never mix, so the block's
// size changes no result): the later layers forward (the first layer's activation too when it
// is the output layer), each chunk's output delta and loss into its slot, every layer backward.
void ParallelEngine::chunk_pass(Activations& buf, const Dataset& data, Indices batch, int c_begin, int c_end,
                                TaskTimes& times) {
  const int B = static_cast<int>(batch.size());
  const std::size_t row = chunk_row(c_begin, B);
  const int K = chunk_row(c_end, B) - static_cast<int>(row);
  const auto start = now_if(profile_);
  for (int e = 0; e < K; ++e) buf.labels[row + e] = data.labels[batch[row + e]];
  if (spec_.num_layers() == 1) activate(0, buf, row, K);
  for (int l = 1; l < spec_.num_layers(); ++l) {
    linear(l, buf.a[l].data() + row * spec_.sizes[l], buf, row, K);
    activate(l, buf, row, K);
  }
  const auto backward_start = now_if(profile_);
  for (int c = c_begin; c < c_end; ++c) {
    const int r = chunk_row(c, B);
    buf.chunk_loss[c] = output_delta(buf, r, chunk_row(c + 1, B) - r);
  }
  backward(buf, row, K);
  if (profile_) times = {seconds_between(start, backward_start), seconds_between(backward_start, ProfileClock::now())};
}

double ParallelEngine::loss_sum(int c_begin, int c_end) const {
  double loss = 0;
  for (int c = c_begin; c < c_end; ++c) loss += batch_.chunk_loss[c];
  return loss;
}

// A phase's CPU time by part; its wall time beyond that CPU time spread over the threads that
// could run it is fork, join and imbalance ("sync").
void ParallelEngine::record_phase(const std::vector<TaskTimes*>& tasks, double wall) {
  double cpu = 0;
  for (const TaskTimes* t : tasks) {
    profile_->forward_cpu += t->forward;
    profile_->backward_cpu += t->backward;
    cpu += t->forward + t->backward;
  }
  const int workers = std::max(1, std::min(static_cast<int>(tasks.size()), tbb::this_task_arena::max_concurrency()));
  profile_->chunks_wall += wall;
  profile_->sync_wall += std::max(0.0, wall - cpu / workers);
}

void ParallelEngine::prefetch(const Dataset&, Indices next_batch, Indices batch_after) {
  next_batch_.assign(next_batch.begin(), next_batch.end());
  batch_after_.assign(batch_after.begin(), batch_after.end());
}

// The three phases, but when the next batch is known (a prefetch hint), each owner goes on from
// its part of phase 3 to the next step's phase 1 on its own columns, whose weights it has just
// updated: one fork and join a step less, and no other core's data is needed. The next step
// finds the first layer's outputs waiting, and where phase 2 was pipelined (update_phase) that
// too, and starts at phase 3. The sums are the ones phase 1 and 2 would compute, so no result
// changes.
double ParallelEngine::train_step(const Dataset& data, Indices batch, double lr) {
  const int n_chunks = chunk_count(batch.size()), B = static_cast<int>(batch.size());
  prepare_step(data, batch);
  const bool ahead = lookahead_.ready_for(data, batch), later_done = ahead && lookahead_.later_done;
  if (ahead)
    std::swap(batch_, next_);
  else
    first_layer_phase(data, 0, B);
  lookahead_.clear();
  const bool look_ahead = !next_batch_.empty() && next_batch_.size() <= batch_.rows;
  if (look_ahead) lookahead_.expect(data, next_batch_, has_narrow_owners());
  if (!later_done) later_layers_phase(data, batch, 0, n_chunks);
  const double loss = loss_sum(0, n_chunks);  // before phase 3 fills next_ with the next batch's
  update_phase(B, lr, look_ahead);
  next_batch_.clear();
  batch_after_.clear();
  return loss;
}

bool ParallelEngine::Lookahead::ready_for(const Dataset& d, Indices batch) const {
  return data == &d && std::equal(batch.begin(), batch.end(), examples.begin(), examples.end());
}

void ParallelEngine::Lookahead::expect(const Dataset& d, Indices batch, bool transposed) {
  data = &d;
  examples.assign(batch.begin(), batch.end());
  inputs.point_at(d, batch, transposed);
  later_done = false;
}

void ParallelEngine::Lookahead::clear() {
  data = nullptr;
  examples.clear();
  later_done = false;
}

// body(block) for each owner's block of the first layer, on the owner's thread, with the
// block's deltas of rows [r_begin, r_end) gathered next to it; a small later layer goes whole
// to the owner place_owners chose, a larger one in shares of its columns to them all.
template <class Body, class Then>
void ParallelEngine::for_each_update_block(int r_begin, int r_end, Body&& body, Then&& then) {
  const std::size_t owners = owners_.size();
  const int rows = r_end - r_begin;
  parallel_tasks(
      owners,
      [&](std::size_t o) {
        Owner& owner = owners_[o];
        const LayerSlot& s0 = layout_.layers[0];
        const float* dz = batch_.dz[0].data() + std::size_t(r_begin) * s0.out;
        if (!owns_all_columns(owner)) {
          owner.block.resize(std::max<std::size_t>(owner.block.size(), std::size_t(rows) * owner.cols()));
          gather_columns(dz, s0.out, owner, owner.block.data(), rows);
          dz = owner.block.data();
        }
        const FirstInputs in = inputs_.from(r_begin);
        body(UpdateBlock{block_weight(owner), s0.bias + owner.j_begin, s0.in, owner.cols(), 0, owner.cols(), nullptr,
                         in.images, in.rows, dz, owner.narrow, 0});
        for (int l = 1; l < spec_.num_layers(); ++l) {
          const LayerSlot& s = layout_.layers[l];
          UpdateBlock u{s.weight, s.bias, s.in, s.out, 0, s.out, batch_.a[l].data() + std::size_t(r_begin) * s.in,
                        nullptr, nullptr, batch_.dz[l].data() + std::size_t(r_begin) * s.out, false, l};
          if (updated_in_shares(l)) {
            // Every owner takes a share of the columns, cut at cache lines: no two write one line.
            auto cut = [&](std::size_t k) { return int(std::size_t(s.out) * k / owners / kAlignFloats * kAlignFloats); };
            u.j_begin = cut(o);
            u.j_end = o + 1 == owners ? s.out : cut(o + 1);
            if (u.j_begin < u.j_end) body(u);
          } else if (small_layer_owner_[l] == o) {
            body(u);  // small: whole, by the owner place_owners chose
          }
        }
        then(o);
      },
      owner_affinity_);
}

// W −= scale·Σ over K rows for one update block, whichever its inputs are.
void ParallelEngine::plain_step(const UpdateBlock& u, float* w, float* b, int K, float scale) const {
  if (u.output_major && u.images)
    k::narrow_sgd_step_pixels(u.dZ, u.images, pixel_scale_, w, b, u.out, u.in, K, scale);
  else if (u.output_major)
    k::narrow_sgd_step_rows(u.dZ, u.rows, w, b, u.out, u.in, K, scale);
  else if (u.images)
    k::sgd_rank_k_step_pixels(u.dZ, u.images, pixel_scale_, w, b, u.out, u.in, K, scale, u.j_begin, u.j_end);
  else if (u.rows)
    k::sgd_rank_k_step_rows(u.dZ, u.rows, w, b, u.out, u.in, K, scale, u.j_begin, u.j_end);
  else
    k::sgd_rank_k_step(u.dZ, u.A, w, b, u.out, u.in, K, scale, u.j_begin, u.j_end);
}

kernels::AdamStep ParallelEngine::begin_update(int B, double lr) {
  const double t = static_cast<double>(++steps_);
  const bool decoupled = rule_.optimizer == Optimizer::adamw;
  kernels::AdamStep c;
  c.inv_batch = 1.0f / static_cast<float>(B);
  c.beta1 = static_cast<float>(rule_.beta1);
  c.one_minus_beta1 = static_cast<float>(1 - rule_.beta1);
  c.beta2 = static_cast<float>(rule_.beta2);
  c.one_minus_beta2 = static_cast<float>(1 - rule_.beta2);
  c.step_size = static_cast<float>(lr / (1 - std::pow(rule_.beta1, t)));
  c.root_bc2 = static_cast<float>(std::sqrt(1 - std::pow(rule_.beta2, t)));
  c.eps = static_cast<float>(rule_.eps);
  c.decay = decoupled ? 0.0f : static_cast<float>(rule_.weight_decay);
  c.shrink = decoupled ? static_cast<float>(1 - lr * rule_.weight_decay) : 1.0f;
  return c;
}

void ParallelEngine::stateful_step(const UpdateBlock& u, int B, double lr, const kernels::AdamStep& adam) {
  float *w = params_.data() + u.weight, *b = params_.data() + u.bias;
  float *mw = velocity_.data() + u.weight, *mb = velocity_.data() + u.bias;
  if (rule_.adam()) {
    float *vw = second_moment_.data() + u.weight, *vb = second_moment_.data() + u.bias;
    if (u.output_major && u.images)
      k::narrow_adam_step_pixels(u.dZ, u.images, pixel_scale_, w, b, mw, mb, vw, vb, u.out, u.in, B, adam);
    else if (u.output_major)
      k::narrow_adam_step_rows(u.dZ, u.rows, w, b, mw, mb, vw, vb, u.out, u.in, B, adam);
    else if (u.images)
      k::adam_rank_k_step_pixels(u.dZ, u.images, pixel_scale_, w, b, mw, mb, vw, vb, u.out, u.in, B, adam,
                                 u.j_begin, u.j_end);
    else if (u.rows)
      k::adam_rank_k_step_rows(u.dZ, u.rows, w, b, mw, mb, vw, vb, u.out, u.in, B, adam, u.j_begin, u.j_end);
    else
      k::adam_rank_k_step(u.dZ, u.A, w, b, mw, mb, vw, vb, u.out, u.in, B, adam, u.j_begin, u.j_end);
    return;
  }
  const float inv_batch = 1.0f / static_cast<float>(B), lr_f = static_cast<float>(lr);
  const float mu = static_cast<float>(rule_.momentum), decay = static_cast<float>(rule_.weight_decay);
  if (u.output_major && u.images)
    k::narrow_momentum_step_pixels(u.dZ, u.images, pixel_scale_, w, b, mw, mb, u.out, u.in, B, inv_batch, lr_f, mu,
                                   decay);
  else if (u.output_major)
    k::narrow_momentum_step_rows(u.dZ, u.rows, w, b, mw, mb, u.out, u.in, B, inv_batch, lr_f, mu, decay);
  else if (u.images)
    k::sgd_momentum_rank_k_step_pixels(u.dZ, u.images, pixel_scale_, w, b, mw, mb, u.out, u.in, B, inv_batch, lr_f,
                                       mu, decay, u.j_begin, u.j_end);
  else if (u.rows)
    k::sgd_momentum_rank_k_step_rows(u.dZ, u.rows, w, b, mw, mb, u.out, u.in, B, inv_batch, lr_f, mu, decay, u.j_begin,
                                     u.j_end);
  else
    k::sgd_momentum_rank_k_step(u.dZ, u.A, w, b, mw, mb, u.out, u.in, B, inv_batch, lr_f, mu, decay, u.j_begin,
                                u.j_end);
}

void ParallelEngine::reduce_and_update(int B, double lr) { update_phase(B, lr, false); }

// Phase 3; with `look_ahead`, each owner then runs the next step's phase 1 for the lookahead
// batch into next_, and where pipelines_later_layers() its phase 2 as the rows come (each later
// layer's owner refreshes its copy once it is updated, since that phase reads it): one fork and
// join a step instead of two, and the owner of fewer columns spends its spare time on chunks
// instead of waiting at a join (perf/scaling.py at two threads). The chunks none took in the fork
// run here after it.
void ParallelEngine::update_phase(int B, double lr, bool look_ahead) {
  const float scale = static_cast<float>(lr / B);
  const auto start = now_if(profile_);
  const kernels::AdamStep adam = begin_update(B, lr);
  const bool pipelined = look_ahead && pipelines_later_layers();
  if (pipelined) {
    for (std::size_t o = 0; o < owners_.size(); ++o) owner_rows_[o].value.store(0);
    next_chunk_.value.store(0);
  }
  auto update = [&](const UpdateBlock& u) {
    if (velocity_.empty())
      plain_step(u, params_.data() + u.weight, params_.data() + u.bias, B, scale);
    else
      stateful_step(u, B, lr, adam);
    if (pipelined && u.layer > 0) refresh_output_major(u.layer);
  };
  const int next_rows = static_cast<int>(lookahead_.examples.size());
  for_each_update_block(0, B, update, [&](std::size_t o) {
    if (!look_ahead) return;
    owner_forward(owners_[o], *lookahead_.data, lookahead_.inputs, 0, next_rows, next_.a[1].data(),
                  Indices(batch_after_), pipelined ? &owner_rows_[o].value : nullptr);
    if (pipelined) run_ready_chunks();
  });
  if (pipelined) {
    run_ready_chunks();  // every row is done now
    lookahead_.later_done = true;
  } else {
    refresh_output_major();
  }
  if (profile_)
    record_update_phase(seconds_between(start, ProfileClock::now()), look_ahead,
                        pipelined ? chunk_count(next_rows) : 0);
}

// Every later layer updated whole by one owner, and no narrow owner (whose forward reads the
// inputs transposed, which phase 2's tasks prepare for the lookahead batch).
bool ParallelEngine::pipelines_later_layers() const {
  for (int l = 1; l < spec_.num_layers(); ++l)
    if (updated_in_shares(l)) return false;
  return !has_narrow_owners();
}

bool ParallelEngine::updated_in_shares(int l) const {
  const LayerSlot& s = layout_.layers[l];
  return std::size_t(s.in) * s.out * sizeof(float) > kSplitUpdateBytes;
}

void ParallelEngine::run_ready_chunks() {
  const int rows = static_cast<int>(lookahead_.examples.size()), chunks = chunk_count(rows);
  // An owner publishes rows only after its updates: all rows of a chunk done, all layers updated.
  auto ready = [&](int c) {
    for (std::size_t o = 0; o < owners_.size(); ++o)
      if (owner_rows_[o].value.load() < chunk_row(c + 1, rows)) return false;
    return true;
  };
  int c = next_chunk_.value.load();
  while (c < chunks && ready(c)) {
    if (!next_chunk_.value.compare_exchange_strong(c, c + 1)) continue;  // c is now the next untaken chunk
    chunk_pass(next_, *lookahead_.data, lookahead_.examples, c, c + 1, chunk_times_[c]);
    c = next_chunk_.value.load();
  }
}

// Phase 3's wall time; when it also ran the next step's phase 1 (and the first `ahead_chunks`
// chunks of its phase 2), that part (the CPU time spread over the threads) counts as forward
// and backward, so --profile's shares keep their meaning.
void ParallelEngine::record_update_phase(double wall, bool with_forward, int ahead_chunks) {
  double forward = 0, backward = 0;
  if (with_forward)
    for (const Owner& o : owners_) forward += o.times.forward;
  for (int c = 0; c < ahead_chunks; ++c) {
    forward += chunk_times_[c].forward;
    backward += chunk_times_[c].backward;
  }
  const int workers = std::max(1, std::min(static_cast<int>(owners_.size()), tbb::this_task_arena::max_concurrency()));
  const double ahead_wall = std::min(wall, (forward + backward) / workers);
  profile_->forward_cpu += forward;
  profile_->backward_cpu += backward;
  profile_->chunks_wall += ahead_wall;
  profile_->update_wall += wall - ahead_wall;
}

// The rank-K step with scale −1 on zeros leaves exactly Σ_k A[k] ⊗ dZ[k].
void ParallelEngine::sum_gradients(int r_begin, int r_end, AlignedVector<float>& sum) {
  sum.assign(layout_.total, 0.0f);
  const int rows = r_end - r_begin;
  if (rows <= 0) return;
  for_each_update_block(r_begin, r_end, [&](const UpdateBlock& u) {
    plain_step(u, sum.data() + u.weight, sum.data() + u.bias, rows, -1.0f);
  });
}

// w ← w − lr·Σ/B, or the momentum or Adam step from Σ, each task on its blocks.
void ParallelEngine::apply_gradient_sum(const AlignedVector<float>& sum, int B, double lr) {
  const float inv_batch = 1.0f / static_cast<float>(B), scale = static_cast<float>(lr / B);
  const kernels::AdamStep adam = begin_update(B, lr);
  auto step = [&](std::size_t offset, std::size_t n) {
    if (rule_.adam())
      k::adam_step(sum.data() + offset, params_.data() + offset, velocity_.data() + offset,
                   second_moment_.data() + offset, n, adam);
    else if (velocity_.empty())
      k::sgd_step(sum.data() + offset, params_.data() + offset, n, scale);
    else
      k::sgd_momentum_step(sum.data() + offset, params_.data() + offset, velocity_.data() + offset, n, inv_batch,
                           static_cast<float>(lr), static_cast<float>(rule_.momentum),
                           static_cast<float>(rule_.weight_decay));
  };
  for_each_update_block(0, 0, [&](const UpdateBlock& u) {
    const std::size_t width = u.j_end - u.j_begin;
    if (u.whole())
      step(u.weight, std::size_t(u.in) * u.out);
    else
      for (int i = 0; i < u.in; ++i) step(u.weight + std::size_t(i) * u.out + u.j_begin, width);
    step(u.bias + u.j_begin, width);
  });
  refresh_output_major();
}

std::vector<std::pair<float*, int>> ParallelEngine::exchanged_rows() {
  std::vector<std::pair<float*, int>> bufs;
  for (int l = 1; l < spec_.num_layers(); ++l) bufs.emplace_back(batch_.a[l].data(), spec_.sizes[l]);
  for (int l = 0; l < spec_.num_layers(); ++l) bufs.emplace_back(batch_.dz[l].data(), spec_.sizes[l + 1]);
  return bufs;
}


// Canonical W is output-major: element (j, i) at j·in + i; here it sits at i·out + j.
void ParallelEngine::from_canonical(std::span<const double> canonical, AlignedVector<float>& padded) const {
  padded.assign(layout_.total, 0.0f);
  ParamLayout packed(spec_.sizes, 1);
  for (std::size_t l = 0; l < layout_.layers.size(); ++l) {
    const LayerSlot &from = packed.layers[l], &to = layout_.layers[l];
    for (int j = 0; j < to.out; ++j)
      for (int i = 0; i < to.in; ++i)
        padded[weight_index(int(l), i, j)] = static_cast<float>(canonical[from.weight + std::size_t(j) * to.in + i]);
    std::copy_n(canonical.begin() + from.bias, to.out, padded.begin() + to.bias);
  }
}

std::vector<float> ParallelEngine::to_canonical(const AlignedVector<float>& padded) const {
  std::vector<float> out;
  out.reserve(canonical_param_count(spec_.sizes));
  for (int l = 0; l < spec_.num_layers(); ++l) {
    const LayerSlot& s = layout_.layers[l];
    for (int j = 0; j < s.out; ++j)
      for (int i = 0; i < s.in; ++i) out.push_back(padded[weight_index(l, i, j)]);
    out.insert(out.end(), padded.begin() + s.bias, padded.begin() + s.bias + s.out);
  }
  return out;
}

// Each later layer that keeps one: its output-major copy W from the input-major Wᵀ.
void ParallelEngine::refresh_output_major() {
  for (int l = 1; l < spec_.num_layers(); ++l) refresh_output_major(l);
}

void ParallelEngine::refresh_output_major(int l) {
  if (output_major_at_[l] == kNoCopy) return;
  const LayerSlot& s = layout_.layers[l];
  transpose(params_.data() + s.weight, s.in, s.out, output_major_.data() + output_major_at_[l]);
}

EngineState ParallelEngine::state() const {
  EngineState st;
  const std::vector<float> p = parameters();
  st.params.assign(p.begin(), p.end());
  if (!velocity_.empty()) {
    const std::vector<float> v = to_canonical(velocity_);
    st.velocity.assign(v.begin(), v.end());
  }
  if (!second_moment_.empty()) {
    const std::vector<float> v = to_canonical(second_moment_);
    st.second_moment.assign(v.begin(), v.end());
  }
  st.steps = steps_;
  return st;
}

void ParallelEngine::restore(const EngineState& st) {
  lookahead_.clear();  // computed from the weights being replaced
  from_canonical(st.params, params_);
  refresh_output_major();
  if (!velocity_.empty() && !st.velocity.empty()) from_canonical(st.velocity, velocity_);
  if (!second_moment_.empty() && !st.second_moment.empty()) from_canonical(st.second_moment, second_moment_);
  steps_ = st.steps;
}

// Examples never mix, so the evaluation's chunks need not be the training's: at least 64 rows,
// whole vectors of examples for a narrow owner's lanes (8 rows left its kernel scalar loops).
std::vector<float> ParallelEngine::outputs(const Dataset& data, Indices examples) {
  const int n_out = spec_.classes(), rows = std::max(chunk_size_, kEvaluationRows);
  std::vector<float> out(examples.size() * n_out);
  tbb::enumerable_thread_specific<Activations> workspaces([this, rows] {
    Activations a;
    a.resize(spec_.sizes, rows);
    return a;
  });
  const int chunks = static_cast<int>((examples.size() + rows - 1) / rows);
  parallel_tasks(chunks, [&](std::size_t t) {
    Activations& buf = workspaces.local();
    const int c = static_cast<int>(t);
    // The next chunk's images come in while this one computes (in order on one thread).
    if (c + 1 < chunks) data.prefetch(chunk_of(examples, c + 1, rows));
    Indices part = chunk_of(examples, c, rows);
    forward(data, part, buf);
    std::copy_n(buf.a.back().data(), part.size() * n_out, out.begin() + t * rows * n_out);
  });
  return out;
}

}  // namespace ptrain
