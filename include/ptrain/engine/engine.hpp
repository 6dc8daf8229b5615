#pragma once
// What the trainer asks of an engine: one update step on a batch, the network's outputs, and the
// state a checkpoint keeps. The step follows the NetSpec (hidden units; ½‖a − t‖² with sigmoid
// outputs, or cross-entropy with softmax outputs) and the update rule the engine was made with
// (SGD, with momentum and weight decay, or Adam and AdamW). Implemented by the reference oracle (reference.hpp), the
// parallel engine (parallel_engine.hpp) and, over several ranks, the distributed engine
// (distributed_engine.hpp); engine_factory.hpp chooses among them.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ptrain/core/config.hpp"
#include "ptrain/io/dataset.hpp"
#include "ptrain/core/network.hpp"

namespace ptrain {

using Indices = std::span<const std::uint32_t>;

// The precision an engine computes and keeps its parameters in.
enum class Precision { float32, float64 };

// How the batch's mean gradient g becomes an update (config.hpp's Optimizer says which).
struct UpdateRule {
  Optimizer optimizer = Optimizer::sgd;
  double momentum = 0;                            // sgd
  bool nesterov = false;                          // sgd: step by μ·v + g instead of v (PyTorch's)
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // adam, adamw
  double weight_decay = 0;
  bool adam() const { return optimizer != Optimizer::sgd; }
  // SGD keeps a velocity with momentum or weight decay (v = μv + g + λw; μ = 0 leaves g + λw).
  bool sgd_velocity() const { return !adam() && (momentum != 0 || weight_decay != 0); }
  static UpdateRule of(const TrainConfig& c) {
    return {c.optimizer, c.momentum,    c.momentum_kind == MomentumKind::nesterov, c.beta1, c.beta2,
            c.eps,       c.weight_decay};
  }
};

// What a checkpoint keeps of an engine, in canonical order at the engine's own precision: the
// parameters; SGD's velocity, or Adam's first moment in its place, and Adam's second moment
// (each empty when the rule keeps none); and the updates made so far (Adam's t).
struct EngineState {
  std::vector<double> params, velocity, second_moment;
  std::uint64_t steps = 0;
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual std::string describe() const = 0;

  // One update from the batch's mean gradient; returns the batch's summed loss.
  virtual double train_step(const Dataset& data, Indices batch, double lr) = 0;

  // A hint before a step: the examples the step after it will take and the ones the step after
  // that will (either may be empty). An engine may ask memory for their inputs now, or compute
  // ahead what does not depend on this step's update (the oracle ignores it).
  virtual void prefetch(const Dataset&, Indices /*next_batch*/, Indices /*batch_after*/) {}

  // The output layer's activations for each example, examples.size() × classes.
  virtual std::vector<float> outputs(const Dataset& data, Indices examples) = 0;

  // The parameters as float32, canonical order: what weights_hash and model files see.
  virtual std::vector<float> parameters() const = 0;

  // Checkpoints save and restore exactly this. An empty velocity or second moment restores
  // none (zeros).
  virtual EngineState state() const = 0;
  virtual void restore(const EngineState& state) = 0;
  virtual Precision precision() const = 0;
};

// How many of `examples` the engine classifies correctly (argmax of the output).
std::size_t count_correct(Engine& engine, const Dataset& data, Indices examples);

}  // namespace ptrain
