// The update phase (phase 3): each owner's fused gradient sum and update of its blocks, with the
// optimizer's constants for the step, and the next batch's forward pipelined behind it.
#include "parallel_engine_detail.hpp"

namespace ptrain {

using namespace parallel_engine_detail;

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
          UpdateBlock u{s.weight,
                        s.bias,
                        s.in,
                        s.out,
                        0,
                        s.out,
                        batch_.a[l].data() + std::size_t(r_begin) * s.in,
                        nullptr,
                        nullptr,
                        batch_.dz[l].data() + std::size_t(r_begin) * s.out,
                        false,
                        l};
          if (updated_in_shares(l)) {
            // Every owner takes a share of the columns, cut at cache lines: no two write one line.
            auto cut = [&](std::size_t k) {
              return int(std::size_t(s.out) * k / owners / kAlignFloats * kAlignFloats);
            };
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

ParallelEngine::StepConstants ParallelEngine::begin_update(int B, double lr) {
  const double t = static_cast<double>(++steps_);
  const bool decoupled = rule_.optimizer == Optimizer::adamw;
  StepConstants c;
  c.batch = B;
  c.scale = static_cast<float>(lr / B);
  c.inv_batch = 1.0f / static_cast<float>(B);
  c.lr = static_cast<float>(lr);
  c.momentum = static_cast<float>(rule_.momentum);
  c.weight_decay = static_cast<float>(rule_.weight_decay);
  kernels::AdamStep& a = c.adam;
  a.inv_batch = c.inv_batch;
  a.beta1 = static_cast<float>(rule_.beta1);
  a.one_minus_beta1 = static_cast<float>(1 - rule_.beta1);
  a.beta2 = static_cast<float>(rule_.beta2);
  a.one_minus_beta2 = static_cast<float>(1 - rule_.beta2);
  a.step_size = static_cast<float>(lr / (1 - std::pow(rule_.beta1, t)));
  a.root_bc2 = static_cast<float>(std::sqrt(1 - std::pow(rule_.beta2, t)));
  a.eps = static_cast<float>(rule_.eps);
  a.decay = decoupled ? 0.0f : c.weight_decay;
  a.shrink = decoupled ? static_cast<float>(1 - lr * rule_.weight_decay) : 1.0f;
  return c;
}

void ParallelEngine::stateful_step(const UpdateBlock& u, const StepConstants& c) {
  const int B = c.batch;
  const kernels::AdamStep& adam = c.adam;
  float *w = params_.data() + u.weight, *b = params_.data() + u.bias;
  float *mw = velocity_.data() + u.weight, *mb = velocity_.data() + u.bias;
  if (rule_.adam()) {
    float *vw = second_moment_.data() + u.weight, *vb = second_moment_.data() + u.bias;
    if (u.output_major && u.images)
      k::narrow_adam_step_pixels(u.dZ, u.images, pixel_scale_, w, b, mw, mb, vw, vb, u.out, u.in, B, adam);
    else if (u.output_major)
      k::narrow_adam_step_rows(u.dZ, u.rows, w, b, mw, mb, vw, vb, u.out, u.in, B, adam);
    else if (u.images)
      k::adam_rank_k_step_pixels(u.dZ, u.images, pixel_scale_, w, b, mw, mb, vw, vb, u.out, u.in, B, adam, u.j_begin,
                                 u.j_end);
    else if (u.rows)
      k::adam_rank_k_step_rows(u.dZ, u.rows, w, b, mw, mb, vw, vb, u.out, u.in, B, adam, u.j_begin, u.j_end);
    else
      k::adam_rank_k_step(u.dZ, u.A, w, b, mw, mb, vw, vb, u.out, u.in, B, adam, u.j_begin, u.j_end);
    return;
  }
  const float inv_batch = c.inv_batch, lr_f = c.lr, mu = c.momentum, decay = c.weight_decay;
  const bool nesterov = rule_.nesterov;
  if (u.output_major && u.images)
    k::narrow_momentum_step_pixels(u.dZ, u.images, pixel_scale_, w, b, mw, mb, u.out, u.in, B, inv_batch, lr_f, mu,
                                   decay, nesterov);
  else if (u.output_major)
    k::narrow_momentum_step_rows(u.dZ, u.rows, w, b, mw, mb, u.out, u.in, B, inv_batch, lr_f, mu, decay, nesterov);
  else if (u.images)
    k::sgd_momentum_rank_k_step_pixels(u.dZ, u.images, pixel_scale_, w, b, mw, mb, u.out, u.in, B, inv_batch, lr_f, mu,
                                       decay, u.j_begin, u.j_end, nesterov);
  else if (u.rows)
    k::sgd_momentum_rank_k_step_rows(u.dZ, u.rows, w, b, mw, mb, u.out, u.in, B, inv_batch, lr_f, mu, decay, u.j_begin,
                                     u.j_end, nesterov);
  else
    k::sgd_momentum_rank_k_step(u.dZ, u.A, w, b, mw, mb, u.out, u.in, B, inv_batch, lr_f, mu, decay, u.j_begin, u.j_end,
                                nesterov);
}

void ParallelEngine::reduce_and_update(int B, double lr) { update_phase(B, lr, false); }

// Phase 3; with `look_ahead`, each owner then runs the next step's phase 1 for the lookahead
// batch into next_, and where pipelines_later_layers() its phase 2 as the rows come (each later
// layer's owner refreshes its copy once it is updated, since that phase reads it): one fork and
// join a step instead of two, and the owner of fewer columns spends its spare time on chunks
// instead of waiting at a join (perf/scaling.py at two threads). The chunks none took in the fork
// run here after it.
void ParallelEngine::update_phase(int B, double lr, bool look_ahead) {
  const auto start = now_if(profile_);
  const StepConstants c = begin_update(B, lr);
  const bool pipelined = look_ahead && pipelines_later_layers();
  if (pipelined) {
    for (std::size_t o = 0; o < owners_.size(); ++o) owner_rows_[o].value.store(0);
    next_chunk_.value.store(0);
  }
  auto update = [&](const UpdateBlock& u) {
    if (velocity_.empty())
      plain_step(u, params_.data() + u.weight, params_.data() + u.bias, B, c.scale);
    else
      stateful_step(u, c);
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
  const StepConstants c = begin_update(B, lr);
  auto step = [&](std::size_t offset, std::size_t n) {
    if (rule_.adam())
      k::adam_step(sum.data() + offset, params_.data() + offset, velocity_.data() + offset,
                   second_moment_.data() + offset, n, c.adam);
    else if (velocity_.empty())
      k::sgd_step(sum.data() + offset, params_.data() + offset, n, c.scale);
    else
      k::sgd_momentum_step(sum.data() + offset, params_.data() + offset, velocity_.data() + offset, n, c.inv_batch,
                           c.lr, c.momentum, c.weight_decay, rule_.nesterov);
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

}  // namespace ptrain
