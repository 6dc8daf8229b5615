// The forward and backward phases: the owners' first layer (phase 1) and the chunks' later
// layers forward and every layer backward (phase 2), and the evaluation's forward pass.
#include "parallel_engine_detail.hpp"

namespace ptrain {

using namespace parallel_engine_detail;

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

void ParallelEngine::activate(int l, Activations& buf, std::size_t row, int K) const {
  const int L = spec_.num_layers(), n_out = spec_.sizes[l + 1];
  float* z = buf.a[l + 1].data() + row * n_out;
  const std::size_t n = std::size_t(K) * n_out;
  if (l < L - 1) return hidden_forward(z, n);
  if (spec_.regression()) return;  // linear outputs
  if (spec_.loss == Loss::xent)
    k::softmax_forward(z, buf.logits.data() + row * n_out, buf.log_norm.data() + row, K, n_out);
  else
    k::sigmoid_forward(z, z, n);
}

void ParallelEngine::hidden_forward(float* z, std::size_t n) const {
  switch (spec_.hidden) {
    case Activation::sigmoid:
      return k::sigmoid_forward(z, z, n);
    case Activation::tanh:
      return k::tanh_forward(z, z, n);
    case Activation::relu:
      return k::relu_forward(z, z, n);
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
  if (spec_.regression()) return k::linear_output_backward(a_out, buf.targets.data() + row * n_out, dz_out, K, n_out);
  return spec_.loss == Loss::xent ? k::xent_output_backward(a_out, buf.logits.data() + row * n_out,
                                                            buf.log_norm.data() + row, labels, dz_out, K, n_out)
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
    case Activation::tanh:
      return k::tanh_backward(a, d, n);
    case Activation::relu:
      return k::relu_backward(a, d, n);
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
  const int tasks = streams_weights() ? std::max(1, std::min(chunks, tbb::this_task_arena::max_concurrency())) : chunks;
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
  if (spec_.regression()) {
    const int T = spec_.classes();
    for (int e = 0; e < K; ++e) std::copy_n(data.target(batch[row + e]), T, buf.targets.data() + (row + e) * T);
  }
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

}  // namespace ptrain
