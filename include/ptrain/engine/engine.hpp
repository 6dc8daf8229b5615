#pragma once
// What the trainer asks of an engine: one SGD step on a batch, the network's outputs, and the
// state a checkpoint keeps. The step follows the NetSpec (hidden units; ½‖a − t‖² with sigmoid
// outputs, or cross-entropy with softmax outputs) and the update the engine was made with
// (plain SGD, or classical momentum). Implemented by the reference oracle (reference.hpp), the
// parallel engine (parallel_engine.hpp) and, over several ranks, the distributed engine
// (distributed_engine.hpp); engine_factory.hpp chooses among them.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ptrain/io/dataset.hpp"
#include "ptrain/core/network.hpp"

namespace ptrain {

using Indices = std::span<const std::uint32_t>;

// The precision an engine computes and keeps its parameters in.
enum class Precision { float32, float64 };

// What a checkpoint keeps of an engine, in canonical order at the engine's own precision: the
// parameters, and momentum's velocity (empty without momentum).
struct EngineState {
  std::vector<double> params, velocity;
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual std::string describe() const = 0;

  // One update from the batch's mean gradient; returns the batch's summed loss.
  virtual double train_step(const Dataset& data, Indices batch, double lr) = 0;

  // A hint before a step: the examples the step after it will take, whose images an engine
  // may ask memory for now (the oracle ignores it).
  virtual void prefetch(const Dataset&, Indices) {}

  // The output layer's activations for each example, examples.size() × classes.
  virtual std::vector<float> outputs(const Dataset& data, Indices examples) = 0;

  // The parameters as float32, canonical order: what weights_hash and model files see.
  virtual std::vector<float> parameters() const = 0;

  // Checkpoints save and restore exactly this. An empty velocity restores none (zeros).
  virtual EngineState state() const = 0;
  virtual void restore(const EngineState& state) = 0;
  virtual Precision precision() const = 0;
};

// How many of `examples` the engine classifies correctly (argmax of the output).
std::size_t count_correct(Engine& engine, const Dataset& data, Indices examples);

}  // namespace ptrain
