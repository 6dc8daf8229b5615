#include "ptrain/parallel_engine.hpp"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/parallel_reduce.h>
#include <oneapi/tbb/partitioner.h>

#include <algorithm>

#include "ptrain/kernels.hpp"
#include "ptrain/simd.hpp"

namespace ptrain {
namespace {

namespace k = kernels::simd;
constexpr std::size_t kAlignFloats = kCacheLine / sizeof(float);
// Parameters per task in the fused reduce-and-step: big enough to amortise a task.
constexpr std::size_t kReduceGrain = 16 * 1024;

// Chunk i of `all`: examples [i·K, min((i+1)·K, n)).
Indices chunk_of(Indices all, int i, int K) {
  const std::size_t begin = std::size_t(i) * K;
  return all.subspan(begin, std::min<std::size_t>(K, all.size() - begin));
}

int chunk_count(Indices all, int K) { return static_cast<int>((all.size() + K - 1) / K); }

}  // namespace

ParallelEngine::ParallelEngine(const NetSpec& spec, std::span<const float> initial, int chunk_size)
    : spec_(spec), layout_(spec.sizes, kAlignFloats), chunk_size_(chunk_size), params_(layout_.total, 0.0f) {
  ParamLayout packed(spec.sizes, 1);
  for (std::size_t l = 0; l < layout_.layers.size(); ++l) {
    const LayerSlot &from = packed.layers[l], &to = layout_.layers[l];
    std::copy_n(initial.begin() + from.weight, std::size_t(to.in) * to.out, params_.begin() + to.weight);
    std::copy_n(initial.begin() + from.bias, to.out, params_.begin() + to.bias);
  }
}

std::string ParallelEngine::describe() const {
  return "parallel (float32, chunks of " + std::to_string(chunk_size_) + ", " + simd::instruction_set() + ")";
}

ParallelEngine::Chunk ParallelEngine::make_chunk() const {
  Chunk c;
  c.grad.assign(layout_.total, 0.0f);
  const std::size_t K = chunk_size_;
  for (int n : spec_.sizes) c.acts.emplace_back(K * n);
  const int widest = *std::max_element(spec_.sizes.begin() + 1, spec_.sizes.end());
  c.delta.resize(K * widest);
  c.back.resize(K * widest);
  return c;
}

// acts[0] = pixels · scale (bytes become floats here, per chunk); acts[l+1] = σ(W_l acts[l] + b_l).
void ParallelEngine::forward(const Dataset& data, Indices examples, Chunk& c) const {
  const int K = static_cast<int>(examples.size());
  const int n_in = spec_.inputs();
  const float scale = static_cast<float>(spec_.input_scale);
  for (int e = 0; e < K; ++e) {
    const std::uint8_t* px = data.image(examples[e]);
    float* x = c.acts[0].data() + std::size_t(e) * n_in;
    for (int i = 0; i < n_in; ++i) x[i] = static_cast<float>(px[i]) * scale;
  }
  for (int l = 0; l < spec_.num_layers(); ++l) {
    const LayerSlot& s = layout_.layers[l];
    float* z = c.acts[l + 1].data();
    k::linear_forward(params_.data() + s.weight, params_.data() + s.bias, c.acts[l].data(), z, s.out, s.in, K);
    k::sigmoid(z, z, std::size_t(K) * s.out);
  }
}

// δ_L = (a − t)·σ'; dW_l = Σ_k δ_l ⊗ a_{l−1}; δ_{l−1} = (W_lᵀ δ_l)·σ'. Gradients are sums over
// the chunk's examples; the reduction divides by the batch size.
void ParallelEngine::backward(const Dataset& data, Indices examples, Chunk& c) const {
  const int K = static_cast<int>(examples.size());
  const int L = spec_.num_layers();
  const bool blog = spec_.blog_derivative;
  auto slope = [blog](float a) {
    if (!blog) return a * (1.0f - a);
    float s = 1.0f / (1.0f + std::exp(-a));  // a ∈ (0, 1): no overflow
    return s * (1.0f - s);
  };
  const int n_out = spec_.classes();
  double loss = 0;
  for (int e = 0; e < K; ++e) {
    const float* a = c.acts[L].data() + std::size_t(e) * n_out;
    float* d = c.delta.data() + std::size_t(e) * n_out;
    const int label = data.labels[examples[e]];
    float example_loss = 0;
    for (int j = 0; j < n_out; ++j) {
      float diff = a[j] - (j == label ? 1.0f : 0.0f);
      example_loss += diff * diff;
      d[j] = diff * slope(a[j]);
    }
    loss += 0.5 * example_loss;
  }
  c.loss = loss;
  for (int l = L - 1; l >= 0; --l) {
    const LayerSlot& s = layout_.layers[l];
    k::weight_gradient(c.delta.data(), c.acts[l].data(), c.grad.data() + s.weight, c.grad.data() + s.bias, s.out, s.in,
                       K);
    if (l == 0) break;  // the input needs no gradient
    k::backprop_input(params_.data() + s.weight, c.delta.data(), c.back.data(), s.out, s.in, K);
    const float* a = c.acts[l].data();
    for (std::size_t i = 0; i < std::size_t(K) * s.in; ++i) c.delta[i] = c.back[i] * slope(a[i]);
  }
}

int ParallelEngine::run_chunks(const Dataset& data, Indices batch) {
  const int n_chunks = chunk_count(batch, chunk_size_);
  while (static_cast<int>(chunks_.size()) < n_chunks) chunks_.push_back(make_chunk());  // once per batch size
  tbb::parallel_for(
      tbb::blocked_range<int>(0, n_chunks, 1),
      [&](const tbb::blocked_range<int>& r) {
        for (int i = r.begin(); i < r.end(); ++i) {
          Indices examples = chunk_of(batch, i, chunk_size_);
          forward(data, examples, chunks_[i]);
          backward(data, examples, chunks_[i]);
        }
      },
      tbb::simple_partitioner());
  return n_chunks;
}

// target[i] -= scale · Σ_c grad_c[i], chunks added in index order: the partition of [0, total)
// into tasks changes nothing about any element's arithmetic.
void ParallelEngine::reduce(float* target, int n_chunks, float scale) {
  std::vector<const float*> grads(n_chunks);
  for (int c = 0; c < n_chunks; ++c) grads[c] = chunks_[c].grad.data();
  tbb::parallel_for(
      tbb::blocked_range<std::size_t>(0, layout_.total, kReduceGrain),
      [&](const tbb::blocked_range<std::size_t>& r) {
        k::reduce_and_step(target, grads.data(), n_chunks, scale, r.begin(), r.end());
      },
      tbb::simple_partitioner());
}

double ParallelEngine::train_step(const Dataset& data, Indices batch, double lr) {
  const int n_chunks = run_chunks(data, batch);
  reduce(params_.data(), n_chunks, static_cast<float>(lr / static_cast<double>(batch.size())));
  double loss = 0;
  for (int c = 0; c < n_chunks; ++c) loss += chunks_[c].loss;
  return loss;
}

std::vector<double> ParallelEngine::mean_gradient(const Dataset& data, Indices batch, double* loss_sum) {
  const int n_chunks = run_chunks(data, batch);
  AlignedVector<float> mean(layout_.total, 0.0f);
  reduce(mean.data(), n_chunks, -1.0f / static_cast<float>(batch.size()));  // 0 − (−1/B)·Σ = mean
  if (loss_sum)
    for (int c = 0; c < n_chunks; ++c) *loss_sum += chunks_[c].loss;
  std::vector<float> packed = to_canonical(mean);
  return std::vector<double>(packed.begin(), packed.end());
}

std::size_t ParallelEngine::count_correct(const Dataset& data, Indices examples) {
  // Forward only; a chunk workspace per thread is fine here: counts add up in any order.
  tbb::enumerable_thread_specific<Chunk> workspaces([this] { return make_chunk(); });
  const int n_chunks = chunk_count(examples, chunk_size_);
  return tbb::parallel_reduce(
      tbb::blocked_range<int>(0, n_chunks, 8), std::size_t{0},
      [&](const tbb::blocked_range<int>& r, std::size_t correct) {
        Chunk& c = workspaces.local();
        const int n_out = spec_.classes();
        for (int i = r.begin(); i < r.end(); ++i) {
          Indices part = chunk_of(examples, i, chunk_size_);
          forward(data, part, c);
          for (std::size_t e = 0; e < part.size(); ++e) {
            const float* out = c.acts.back().data() + e * n_out;
            correct += static_cast<std::size_t>(std::max_element(out, out + n_out) - out) == data.labels[part[e]];
          }
        }
        return correct;
      },
      std::plus<>());
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

std::vector<float> ParallelEngine::parameters() const { return to_canonical(params_); }

}  // namespace ptrain
