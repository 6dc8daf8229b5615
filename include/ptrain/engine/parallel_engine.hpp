#pragma once
// The parallel engine: float32, oneTBB, xsimd. A step has three parallel phases:
//  1. owners: the first layer's outputs are split into column blocks, one per thread; each
//     owner computes its columns of the first layer for every example of the batch, reading
//     the images' bytes directly (no float copy of the inputs is made);
//  2. chunks: the batch is cut into fixed-size chunks (boundaries depend only on the batch and
//     the chunk size); each chunk is a task (or, where a later layer's weights outgrow the cache,
//     a task a thread takes a run of whole chunks) that runs the remaining layers forward and
//     every layer backward for its examples together (each chunk's loss kept apart), and
//     leaves each layer's per-example gradient in factored form, dZ and the layer input A (W's
//     gradient is A ⊗ dZ), in those examples' own rows;
//  3. the update: each owner sums its columns' gradients over the batch in example order,
//     averages them and updates its columns of the first layer in place — reduction, mean and
//     update fused, each weight read and written once; the owners update the later, small
//     layers whole, each by the owner with the least to do.
// When the trainer names the next batch (prefetch), each owner goes on from phase 3 straight
// into the next step's phase 1 on its own, just updated columns, and the next step starts at
// phase 2: two fork/joins a step instead of three, with no result changed. Where every later
// layer is small (updated whole by one owner) and no owner is narrow, phase 2 of that next batch
// runs in the same fork too: each owner, its forward done, takes the chunks whose rows every
// owner has finished (the one that finishes last takes the rest), and the next step starts at
// phase 3: one fork/join a step.
// An owner of at most 8 columns (from 8 threads on the default net) keeps its block output-major
// and runs the narrow kernels, the batch or the inputs in the lanes instead of its few columns;
// their forward reads the batch's inputs transposed, which phase 2's tasks prepare for the
// lookahead batch (and phase 1 itself otherwise).
// Each owner's block of the first layer is stored apart and stays on its thread (an affinity
// partitioner), so the first layer (87,808 of the default net's 89,898 parameters) stays in
// the cache of the core that owns it: only activations and deltas (a few KiB a step) move
// between cores.
// No result depends on which thread ran what, or on how the columns are split, so the weights
// are bitwise the same for any thread count. The layer math is in the kernels (kernels.hpp);
// this class orchestrates them.
//
// Each weight matrix is kept input-major (Wᵀ, [in][out]), which the forward pass and the
// update read; layers after the first also keep an output-major copy (W, [out][in]) for the
// error sent back to their inputs, refreshed after every update — except layers too big for a
// core's cache, which send the error back from Wᵀ.
//
// The phases are public so that the distributed engine (distributed_engine.hpp) can run
// phases 1 and 2 for one rank's share of the chunks and combine the ranks' gradients before
// phase 3.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include <oneapi/tbb/partitioner.h>

#include "ptrain/core/aligned.hpp"
#include "ptrain/engine/engine.hpp"
#include "ptrain/engine/kernels.hpp"
#include "ptrain/core/profile.hpp"

namespace ptrain {

class ParallelEngine final : public Engine {
 public:
  // `initial` is canonical float32; the default rule is plain SGD. When `profile` is given,
  // every step adds its phase times to it.
  ParallelEngine(const NetSpec& spec, std::span<const float> initial, int chunk_size, const UpdateRule& rule = {},
                 StepTimes* profile = nullptr);

  std::string describe() const override;
  double train_step(const Dataset& data, Indices batch, double lr) override;
  void prefetch(const Dataset& data, Indices next_batch, Indices batch_after) override;
  std::vector<float> outputs(const Dataset& data, Indices examples) override;
  std::vector<float> parameters() const override { return to_canonical(params_); }
  EngineState state() const override;
  void restore(const EngineState& state) override;
  Precision precision() const override { return Precision::float32; }

  // Phases 1 and 2 for chunks [c_begin, c_end) of `batch`, and the chunks' losses added in order.
  int chunk_count(std::size_t batch) const { return static_cast<int>((batch + chunk_size_ - 1) / chunk_size_); }
  int chunk_size() const { return chunk_size_; }
  // The first row of chunk c in a batch of B examples (B past the last chunk).
  int chunk_row(int c, int B) const { return std::min(B, c * chunk_size_); }
  void run_chunks(const Dataset& data, Indices batch, int c_begin, int c_end);
  double loss_sum(int c_begin, int c_end) const;
  // Phase 3 over rows [0, B) of the batch: the fused reduction, averaging and update.
  void reduce_and_update(int B, double lr);

  // The fast reduction's pieces: Σ over rows [r_begin, r_end) of their gradients, dense, in the
  // padded layout (overwrites `sum`); and the update from such a sum over B examples.
  void sum_gradients(int r_begin, int r_end, AlignedVector<float>& sum);
  void apply_gradient_sum(const AlignedVector<float>& sum, int B, double lr);

  // The exact reduction's pieces: the batch buffers a rank sends for its rows (each hidden
  // layer's activations and every layer's dZ, as (buffer, floats per row)), and the chunks'
  // losses. The inputs are not sent: every rank reads the images itself.
  std::vector<std::pair<float*, int>> exchanged_rows();
  std::span<double> chunk_losses() { return batch_.chunk_loss; }

  // Between the canonical (packed) order and this engine's padded layout.
  std::vector<float> to_canonical(const AlignedVector<float>& padded) const;
  StepTimes* profile() const { return profile_; }

 private:
  // Row-major matrices with one row per example; a chunk writes only its own rows.
  struct Activations {
    std::vector<AlignedVector<float>> a;   // a[l]: rows × sizes[l]; a[0] stays empty (images are read as bytes)
    std::vector<AlignedVector<float>> dz;  // dz[l]: rows × sizes[l+1], ∂loss/∂z of layer l
    std::vector<float> logits, log_norm;   // xent: the output layer's z, and log Σ exp(z) per row
    std::vector<int> labels;               // the rows' labels
    std::vector<float> targets;            // regression: the rows' targets, rows × outputs
    std::vector<double> chunk_loss;        // each chunk's summed loss, indexed by chunk, never by thread
    std::size_t rows = 0;
    void resize(const std::vector<int>& sizes, std::size_t rows);
  };
  struct TaskTimes {
    double forward = 0, backward = 0;
  };
  // A thread's share of the first layer: its output columns [j_begin, j_end), whose weights it
  // keeps as one contiguous block of Wᵀ, [in][cols], or when narrow of W, [cols][in]; and room
  // for its columns' outputs or deltas, rows × cols.
  struct Owner {
    int j_begin = 0, j_end = 0;
    bool narrow = false;
    AlignedVector<float> block;
    TaskTimes times;
    int cols() const { return j_end - j_begin; }
  };
  // What one task of phase 3 updates: columns [j_begin, j_end) of a weight matrix [in][out] at
  // offsets into the parameters (an owner's block of the first layer, a small later layer whole,
  // or an owner's share of a large later layer's columns), with its inputs and output deltas.
  struct UpdateBlock {
    std::size_t weight, bias;
    int in, out, j_begin, j_end;
    const float* A;                     // rows × in; null for the first layer, which reads
    const std::uint8_t* const* images;  // its rows' images instead,
    const float* const* rows;           // or its rows' features
    const float* dZ;                    // rows × out
    bool output_major;                  // a narrow owner's block
    int layer;                          // 0: a block of the first layer
    bool whole() const { return j_begin == 0 && j_end == out; }
  };
  // Splits the first layer's columns among n owners in whole groups (of 8 columns, or of a
  // vector's); assign_owners makes that one per thread, laying the blocks out anew when their
  // number changes.
  void place_owners(int n);
  void assign_owners(int threads);
  int column_groups() const;
  std::size_t block_weight(const Owner& o) const;
  // Where element (i, j) of layer l's Wᵀ sits in the parameters.
  std::size_t weight_index(int l, int i, int j) const;
  // An owner of every column (one thread, not narrow) works on the batch's rows in place: its
  // block would be a copy of them (512 KiB a step each way on the wide net).
  bool owns_all_columns(const Owner& o) const { return !o.narrow && o.cols() == layout_.layers[0].out; }
  static void scatter_columns(const float* block, const Owner& o, float* rows, int stride, int K);
  static void gather_columns(const float* rows, int stride, const Owner& o, float* block, int K);
  // The first layer's inputs for a run of rows: byte images or float feature rows (the other null).
  struct FirstInputs {
    const std::uint8_t* const* images;
    const float* const* rows;
    FirstInputs from(std::size_t k) const {  // the same run, k rows on
      return {images ? images + k : nullptr, rows ? rows + k : nullptr};
    }
  };
  // Where some examples' inputs lie in a data set, row by row, of whichever kind it holds; and,
  // for narrow owners, room for the inputs transposed, [in][size()], bytes or floats.
  struct InputTable {
    std::vector<const std::uint8_t*> images;
    std::vector<const float*> rows;
    AlignedVector<std::uint8_t> bytes_t;
    AlignedVector<float> rows_t;
    AlignedVector<float> dense;  // a sparse set's rows of this batch, densified
    int in = 0;
    void point_at(const Dataset& data, Indices examples, bool transposed);
    void transpose(int r_begin, int r_end, int c_begin, int c_end);   // a block into the transposed copy
    void prefetch_rows(int r_begin, int r_end) const;                 // into this core's caches
    std::size_t size() const { return images.size() + rows.size(); }  // one of them is empty
    FirstInputs from(std::size_t row) const {
      return rows.empty() ? FirstInputs{images.data() + row, nullptr} : FirstInputs{nullptr, rows.data() + row};
    }
  };
  // Columns [j0, j1) of an owner's block of the first layer, z = W x + b, for K rows of inputs.
  void first_layer_columns(const Owner& o, FirstInputs in, float* z, int K, int j0, int j1) const;
  // A narrow owner's columns for rows [r_begin, r_begin + K) of `in` (transposed), into z, K × cols.
  void narrow_columns(const Owner& o, const InputTable& in, int r_begin, int K, float* z) const;
  bool has_narrow_owners() const;
  // Task t of n transposes its share of the inputs of `in`'s rows [r_begin, r_end).
  static void transpose_share(InputTable& in, int r_begin, int r_end, std::size_t t, std::size_t n);
  void narrow_block(const Owner& owner, const Dataset& data, const InputTable& in, int r_begin, float* z, int K,
                    Indices ahead) const;
  // rows_finished(k0, k1) after each run of rows the block has all columns of.
  void first_layer_block(const Owner& owner, const Dataset& data, FirstInputs inputs, float* z, int K, Indices ahead,
                         const std::function<void(int, int)>& rows_finished) const;
  // Phase 1 for one owner: rows [r_begin, r_end) of the batch `in` lists, into a1, prefetching `ahead`.
  // Each finished run of rows is published in `rows_done` (rows from r_begin) when given.
  void owner_forward(Owner& owner, const Dataset& data, const InputTable& in, int r_begin, int r_end, float* a1,
                     Indices ahead, std::atomic<int>* rows_done = nullptr);
  void prepare_step(const Dataset& data, Indices batch);
  void first_layer_phase(const Dataset& data, int r_begin, int r_end);                  // phase 1
  void later_layers_phase(const Dataset& data, Indices batch, int c_begin, int c_end);  // phase 2
  // Phase 3, then (with look_ahead) each owner's phase 1 of the lookahead batch, and where
  // pipelines_later_layers() its phase 2.
  void update_phase(int B, double lr, bool look_ahead);
  void record_update_phase(double wall, bool with_forward, int ahead_chunks);
  bool pipelines_later_layers() const;
  // Later layer l is updated by every owner, each a share of its columns (else whole, by one).
  bool updated_in_shares(int l) const;
  // The lookahead batch's chunks whose rows are all done, each taken by one caller, until one is not.
  void run_ready_chunks();
  // z = W_0 x + b_0 into a[1] for K examples' inputs, all columns (evaluation).
  void first_layer(const InputTable& inputs, Activations& buf, int K) const;
  // z = W_l a[l] + b_l into a[l+1] for K rows from `row`, all columns, for l ≥ 1.
  void linear(int l, const float* inputs, Activations& buf, std::size_t row, int K) const;
  // a[l+1] = f(z): the hidden units, or at the output sigmoid (mse) or softmax (xent).
  void activate(int l, Activations& buf, std::size_t row, int K) const;
  void hidden_forward(float* z, std::size_t n) const;
  void chunk_pass(Activations& buf, const Dataset& data, Indices batch, int c_begin, int c_end, TaskTimes& times);
  // The whole forward pass for K examples (evaluation).
  void forward(const Dataset& data, Indices examples, Activations& buf) const;
  // The output layer's dZ from the loss (returns the rows' summed loss); dZ back through the rest.
  double output_delta(Activations& buf, std::size_t row, int K) const;
  void backward(Activations& buf, std::size_t row, int K) const;
  void hidden_backward(const float* a, float* d, std::size_t n) const;
  void record_phase(const std::vector<TaskTimes*>& tasks, double wall);
  void plain_step(const UpdateBlock& u, float* w, float* b, int K, float scale) const;
  // A step's update constants, each derived once from the batch size and the learning rate.
  struct StepConstants {
    int batch;
    float scale;      // lr / B, plain SGD's factor on the gradient sum
    float inv_batch;  // 1 / B, the momentum step's
    float lr, momentum, weight_decay;
    kernels::AdamStep adam;  // Adam's and AdamW's
  };
  // The momentum or Adam rank-K step of one update block (a rule with optimizer state).
  void stateful_step(const UpdateBlock& u, const StepConstants& c);
  // The tasks of phase 3: one per owner, each ending with then(owner index).
  struct NoThen {
    void operator()(std::size_t) const {}
  };
  template <class Body, class Then = NoThen>
  void for_each_update_block(int r_begin, int r_end, Body&& body, Then&& then = {});
  void from_canonical(std::span<const double> canonical, AlignedVector<float>& padded) const;
  // The output-major copies of layers 1.. from their input-major weights.
  void refresh_output_major();
  void refresh_output_major(int l);
  bool streams_weights() const;  // a later layer's weights do not stay in a core's cache

  NetSpec spec_;
  ParamLayout layout_;  // 64-byte aligned tensors
  int chunk_size_;
  AlignedVector<float> params_;        // input-major weights and biases, 64-byte aligned tensors
  AlignedVector<float> output_major_;  // W of the small layers 1.., at output_major_at_[l]
  std::vector<std::size_t> output_major_at_;
  UpdateRule rule_;
  AlignedVector<float> velocity_;       // SGD's velocity or Adam's first moment, padded like params_; or empty
  AlignedVector<float> second_moment_;  // Adam's, padded like params_; empty for SGD
  std::uint64_t steps_ = 0;             // updates made: Adam's t
  // Counts the update (t = ++steps_) and returns its constants for a batch of B.
  StepConstants begin_update(int B, double lr);
  Activations batch_;                       // reused across steps: no allocation in the step loop
  Activations next_;                        // the lookahead batch's, swapped in when its step comes
  InputTable inputs_;                       // the batch's inputs, row by row
  std::array<float, 256> to_float_{};       // a pixel byte's input value: byte × input scale
  float pixel_scale_ = 1;                   // that scale (the narrow kernels convert in the lanes)
  std::vector<std::uint32_t> next_batch_;   // the next step's examples, prefetched during this one
  std::vector<std::uint32_t> batch_after_;  // and the step's after it (prefetched during the lookahead)
  // The next step's batch, whose first-layer outputs (next_.a[1]), and maybe phase 2 (the rest
  // of next_), this step's phase 3 computes (train_step).
  struct Lookahead {
    const Dataset* data = nullptr;
    std::vector<std::uint32_t> examples;
    InputTable inputs;
    bool later_done = false;  // phase 2 too
    bool ready_for(const Dataset& d, Indices batch) const;
    void expect(const Dataset& d, Indices batch, bool transposed);
    void clear();
  };
  Lookahead lookahead_;
  // How far phase 3 has come with the lookahead batch, for its pipelined phase 2: each owner's
  // rows of next_.a[1] done (after its updates), and the next chunk to take. Sequentially
  // consistent: an owner publishes its rows, then reads the others', so the one that finishes
  // last sees every row and no chunk is left untaken.
  struct alignas(kCacheLine) Counter {
    std::atomic<int> value{0};
  };
  std::unique_ptr<Counter[]> owner_rows_;  // one per owner
  Counter next_chunk_;
  std::vector<Owner> owners_;                   // phases 1 and 3 of the first layer
  std::vector<std::size_t> small_layer_owner_;  // by layer: the owner that updates it when it is small
  tbb::affinity_partitioner owner_affinity_;    // keeps each owner on one thread, step after step
  StepTimes* profile_ = nullptr;
  std::vector<TaskTimes> chunk_times_;  // indexed by phase 2's task, filled only when profiling
};

}  // namespace ptrain
