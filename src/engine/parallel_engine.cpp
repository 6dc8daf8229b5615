// The parallel engine's construction, its step as the phases in order, the lookahead, its state
// and evaluation. The phases are in parallel_engine_forward.cpp and parallel_engine_update.cpp,
// the owners' layout in parallel_engine_owners.cpp, the batch's inputs in parallel_engine_inputs.cpp.
#include "parallel_engine_detail.hpp"

namespace ptrain {

using namespace parallel_engine_detail;

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
  targets.assign(n * sizes.back(), 0.0f);
}

ParallelEngine::ParallelEngine(const NetSpec& spec, std::span<const float> initial, int chunk_size,
                               const UpdateRule& rule, StepTimes* profile)
    : spec_(spec), layout_(spec.sizes, kAlignFloats), chunk_size_(chunk_size), rule_(rule), profile_(profile) {
  for (int l = 0; l < spec_.num_layers(); ++l) {
    const LayerSlot& s = layout_.layers[l];
    const bool big = std::size_t(s.in) * s.out * sizeof(float) > kCachedWeightBytes;
    output_major_at_.push_back(l > 0 && !big ? output_major_.size() : kNoCopy);
    if (output_major_at_[l] != kNoCopy)
      output_major_.resize(output_major_.size() +
                           (std::size_t(s.in) * s.out + kAlignFloats - 1) / kAlignFloats * kAlignFloats);
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
