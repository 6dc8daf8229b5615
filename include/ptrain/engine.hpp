#pragma once
// What the trainer asks of an engine. Two implement it: the reference oracle (double, one
// example at a time) and the parallel engine (float32, oneTBB chunks, xsimd kernels).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ptrain/cluster.hpp"
#include "ptrain/dataset.hpp"
#include "ptrain/network.hpp"
#include "ptrain/profile.hpp"

namespace ptrain {

using Indices = std::span<const std::uint32_t>;

class Engine {
 public:
  virtual ~Engine() = default;
  virtual std::string describe() const = 0;

  // The batch's mean gradient in canonical order; adds the batch's summed loss to *loss_sum.
  virtual std::vector<double> mean_gradient(const Dataset& data, Indices batch, double* loss_sum) = 0;

  // One SGD step, w ← w − lr · mean gradient; returns the batch's summed loss ½‖a − t‖².
  virtual double train_step(const Dataset& data, Indices batch, double lr) = 0;

  // How many of `examples` the network classifies correctly (argmax of the output).
  std::size_t count_correct(const Dataset& data, Indices examples);

  // The current parameters as float32, in canonical order.
  virtual std::vector<float> parameters() const = 0;

  // The parameters at the engine's own precision (float64 for the oracle), canonical order, and
  // their replacement: checkpoints save and restore exactly these.
  virtual std::vector<double> exact_parameters() const = 0;
  virtual void set_parameters(std::span<const double> canonical) = 0;
  virtual bool float64() const = 0;

  // Classical momentum, as PyTorch's SGD: v ← μ·v + g, w ← w − lr·v (v starts at 0); μ = 0 is
  // plain SGD. The velocity is canonical and empty while μ = 0; checkpoints keep it.
  virtual void set_momentum(double mu) = 0;
  virtual std::vector<double> velocity() const = 0;
  virtual void set_velocity(std::span<const double> canonical) = 0;

  // The output layer's activations for each example, examples.size() × classes.
  virtual std::vector<float> outputs(const Dataset& data, Indices examples) = 0;

  // Share each step among the cluster's ranks (see parallel_engine.hpp). Returns false for an
  // engine that runs in one process only.
  virtual bool spread_over(Cluster* cluster, Reduce mode) {
    (void)cluster;
    (void)mode;
    return false;
  }

  // Accumulate step phase times into *sink from now on (nullptr stops). Returns false for an
  // engine that is not instrumented.
  virtual bool profile_into(StepTimes* sink) {
    (void)sink;
    return false;
  }
};

enum class EngineKind { scalar, parallel };

// `initial` is canonical float32; `chunk_size` matters only to the parallel engine.
std::unique_ptr<Engine> make_engine(EngineKind kind, const NetSpec& spec, std::span<const float> initial,
                                    int chunk_size);

}  // namespace ptrain
