#pragma once
// The parallel engine: float32, oneTBB, xsimd. A step has two parallel phases:
//  1. the batch is cut into fixed-size chunks (boundaries depend only on the batch and the
//     chunk size); each chunk is a task that runs forward and backward for its examples
//     together and leaves each layer's per-example gradient in factored form, the deltas δ
//     and the inputs a (W's gradient is δ ⊗ a), in the chunk's own rows of the batch buffers;
//  2. one pass over the parameters, split by rows, sums those gradients over the batch in
//     example order, averages them and applies the SGD step — reduction, mean and update
//     fused, each weight read and written once, no per-chunk copy of the parameters.
// No result depends on which thread ran what, so the weights are bitwise the same for any
// thread count.
//
// Spread over the ranks of a cluster, rank r runs phase 1 for its own consecutive share of the
// chunks, then either (Reduce::exact) the ranks exchange those chunks' δ and hidden a (about
// 1 KiB per example for the default net; the inputs each rank converts itself) and every rank
// runs phase 2 over the whole batch exactly as one process would, or (Reduce::fast) each rank
// forms the dense gradient of its own examples, one MPI_Allreduce adds them, and every rank
// applies the same update.
#include <vector>

#include "ptrain/aligned.hpp"
#include "ptrain/cluster.hpp"
#include "ptrain/engine.hpp"

namespace ptrain {

class ParallelEngine final : public Engine {
 public:
  ParallelEngine(const NetSpec& spec, std::span<const float> initial, int chunk_size);

  std::string describe() const override;
  std::vector<double> mean_gradient(const Dataset& data, Indices batch, double* loss_sum) override;
  double train_step(const Dataset& data, Indices batch, double lr) override;
  std::vector<float> parameters() const override;
  std::vector<double> exact_parameters() const override;
  void set_parameters(std::span<const double> canonical) override;
  bool float64() const override { return false; }
  void set_momentum(double mu) override;
  std::vector<double> velocity() const override;
  void set_velocity(std::span<const double> canonical) override;
  std::vector<float> outputs(const Dataset& data, Indices examples) override;
  bool profile_into(StepTimes* sink) override {
    profile_ = sink;
    return true;
  }

  int chunk_size() const { return chunk_size_; }

  // From now on each step is shared among `cluster`'s ranks (nullptr or one rank: not shared).
  // Every rank must hold the same parameters and call train_step with the same batches.
  bool spread_over(Cluster* cluster, Reduce mode) override {
    cluster_ = cluster;
    reduce_ = mode;
    return true;
  }

 private:
  // Row-major matrices with one row per example; a chunk writes only its own rows.
  struct Activations {
    std::vector<AlignedVector<float>> acts;    // acts[l]: rows × sizes[l]; acts[0] is the input
    std::vector<AlignedVector<float>> deltas;  // deltas[l]: rows × sizes[l+1], ∂loss/∂z of layer l
    std::vector<float> logits, log_norm;       // xent: the output layer's z, and log Σ exp(z) per row
    std::size_t rows = 0, classes = 0;
    void resize(const std::vector<int>& sizes, std::size_t rows);
    float logit(std::size_t r, int j) const { return logits[r * classes + j]; }
  };
  struct ChunkTimes {
    double convert = 0, forward = 0, backward = 0;
  };
  // Rows [j_begin, j_end) of layer `layer`: one task of phase 2.
  struct RowBlock {
    int layer, j_begin, j_end;
  };

  // acts[0] rows from the images' pixels.
  void load_inputs(const Dataset& data, Indices examples, Activations& buf, std::size_t row) const;
  // Fills times->convert and times->forward when `times` is given.
  void forward(const Dataset& data, Indices examples, Activations& buf, std::size_t row,
               ChunkTimes* times = nullptr) const;
  double backward(const Dataset& data, Indices examples, Activations& buf, std::size_t row) const;
  // Phase 1 for chunks [c_begin, c_end) of the batch; their losses go to chunk_loss_.
  void run_chunks(const Dataset& data, Indices batch, int c_begin, int c_end);
  double chunk_loss_sum(int c_begin, int c_end) const;  // chunks added in order
  // Phase 2 over all rows of the batch: the fused reduction and SGD step.
  void update_from_rows(int B, double lr);
  // The two ways a step is shared among ranks (see the top of this file).
  double exact_step(const Dataset& data, Indices batch, double lr);
  double fast_step(const Dataset& data, Indices batch, double lr);
  void record_chunk_phase(int c_begin, int c_end, double wall);
  // A rank's consecutive chunks [c_begin, c_end) of a batch, and their rows.
  struct Share {
    int c_begin, c_end, r_begin, r_end;
  };
  Share share_of(int rank, int n_chunks, int B) const;
  std::vector<std::pair<float*, int>> exchanged_rows();
  // Between the canonical (packed) order and this engine's padded layout.
  std::vector<float> to_canonical(const AlignedVector<float>& padded) const;
  void from_canonical(std::span<const double> canonical, AlignedVector<float>& padded) const;

  NetSpec spec_;
  ParamLayout layout_;  // 64-byte aligned tensors
  int chunk_size_;
  AlignedVector<float> params_;
  float momentum_ = 0;
  AlignedVector<float> velocity_;  // padded like params_; empty while momentum_ is 0
  Activations batch_;                 // reused across steps: no allocation in the step loop
  std::vector<double> chunk_loss_;    // indexed by chunk, never by thread
  std::vector<RowBlock> row_blocks_;  // phase 2's tasks
  Cluster* cluster_ = nullptr;
  Reduce reduce_ = Reduce::fast;
  std::vector<float> rows_out_, rows_in_;  // exact: this rank's packed rows, and every rank's
  std::vector<double> losses_in_;          // exact: every chunk's loss
  AlignedVector<float> gradient_;          // fast: padded like params_, this rank's sum, then all
  StepTimes* profile_ = nullptr;
  std::vector<ChunkTimes> chunk_times_;  // indexed by chunk, filled only when profiling
};

}  // namespace ptrain
