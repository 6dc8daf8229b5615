#pragma once
// The parallel engine: float32, each batch cut into fixed-size chunks whose boundaries depend
// only on the batch and the chunk size. Each chunk is one oneTBB task that runs forward and
// backward for its examples with the SIMD kernels into that chunk's own gradient buffer; the
// chunk gradients are then summed in chunk order, averaged and applied in one fused pass.
// Nothing depends on which thread ran what, so the weights are bitwise the same for any
// thread count.
#include <vector>

#include "ptrain/aligned.hpp"
#include "ptrain/engine.hpp"

namespace ptrain {

class ParallelEngine final : public Engine {
 public:
  ParallelEngine(const NetSpec& spec, std::span<const float> initial, int chunk_size);

  std::string describe() const override;
  std::vector<double> mean_gradient(const Dataset& data, Indices batch, double* loss_sum) override;
  double train_step(const Dataset& data, Indices batch, double lr) override;
  std::size_t count_correct(const Dataset& data, Indices examples) override;
  std::vector<float> parameters() const override;

  int chunk_size() const { return chunk_size_; }

 private:
  // Everything one chunk writes: its gradient (padded layout) and its activations.
  struct Chunk {
    AlignedVector<float> grad;
    std::vector<AlignedVector<float>> acts;  // acts[l]: K × sizes[l]
    AlignedVector<float> delta, back;        // K × widest layer
    double loss = 0;
  };

  Chunk make_chunk() const;
  void forward(const Dataset& data, Indices examples, Chunk& c) const;
  void backward(const Dataset& data, Indices examples, Chunk& c) const;
  // Runs every chunk of the batch; returns how many chunks it used.
  int run_chunks(const Dataset& data, Indices batch);
  void reduce(float* target, int chunks, float scale);
  std::vector<float> to_canonical(const AlignedVector<float>& padded) const;

  NetSpec spec_;
  ParamLayout layout_;  // 64-byte aligned tensors
  int chunk_size_;
  AlignedVector<float> params_;
  std::vector<Chunk> chunks_;  // indexed by chunk, never by thread
};

}  // namespace ptrain
