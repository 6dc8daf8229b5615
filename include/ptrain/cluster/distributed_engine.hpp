#pragma once
// A step shared among the ranks of a cluster. Rank r runs the parallel engine's phases 1 and 2
// (the owners' first layer, the chunks) for its own consecutive share of the batch's chunks,
// then the ranks combine their gradients in one of two ways before every rank applies the same
// update:
//  - fast: each rank sums its own examples' gradients densely (351 KiB for the default net) and
//    MPI_Allreduce adds the ranks' sums; the rounding depends on the number of ranks;
//  - exact: the ranks exchange their examples' factored gradients (hidden activations and dZ,
//    about 1 KiB per example; each rank reads the inputs from its own copy of the images) and
//    their chunks' losses, in one MPI_Allgatherv, and every rank runs phase 3
//    over the whole batch in example order, as one process does: the weights are bitwise those
//    of a one-process run.
#include <memory>
#include <vector>

#include "ptrain/cluster/cluster.hpp"
#include "ptrain/engine/parallel_engine.hpp"

namespace ptrain {

enum class Reduce { fast, exact };

class DistributedEngine final : public Engine {
 public:
  // Every rank must start from the same parameters and step with the same batches.
  DistributedEngine(std::unique_ptr<ParallelEngine> engine, Cluster& cluster, Reduce mode);

  std::string describe() const override { return engine_->describe(); }
  double train_step(const Dataset& data, Indices batch, double lr) override;
  // The whole batch: the exact reduction's phase 3 reads every rank's images.
  void prefetch(const Dataset& data, Indices next_batch, Indices batch_after) override {
    engine_->prefetch(data, next_batch, batch_after);
  }
  std::vector<float> outputs(const Dataset& data, Indices examples) override {
    return engine_->outputs(data, examples);
  }
  std::vector<float> parameters() const override { return engine_->parameters(); }
  EngineState state() const override { return engine_->state(); }
  void restore(const EngineState& state) override { engine_->restore(state); }
  Precision precision() const override { return engine_->precision(); }

 private:
  // A rank's consecutive chunks [c_begin, c_end) of a batch, and their rows.
  struct Share {
    int c_begin, c_end, r_begin, r_end;
  };
  Share share_of(int rank, int n_chunks, int B) const;
  double exact_step(const Dataset& data, Indices batch, double lr);
  double fast_step(const Dataset& data, Indices batch, double lr);
  void record_exchange(ProfileClock::time_point start) const;

  std::unique_ptr<ParallelEngine> engine_;
  Cluster& cluster_;
  Reduce mode_;
  std::vector<float> rows_out_, rows_in_;  // exact: this rank's rows and chunk losses, and every rank's
  AlignedVector<float> gradient_;          // fast: padded like the parameters; this rank's sum, then all
};

}  // namespace ptrain
