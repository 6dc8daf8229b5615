#pragma once
// THE REFERENCE: the correctness oracle for the parallel engine. Plain loops in double
// precision, one example at a time, no oneTBB, no SIMD. Keep it obvious; never optimise it.
#include "ptrain/engine/engine.hpp"

namespace ptrain {

class ReferenceEngine final : public Engine {
 public:
  // `initial` is canonical float32; the default rule is plain SGD.
  ReferenceEngine(const NetSpec& spec, std::span<const float> initial, const UpdateRule& rule = {});

  std::string describe() const override { return "scalar (reference, float64, one example at a time)"; }
  double train_step(const Dataset& data, Indices batch, double lr) override;
  std::vector<float> outputs(const Dataset& data, Indices examples) override;
  std::vector<float> parameters() const override { return std::vector<float>(w_.begin(), w_.end()); }
  EngineState state() const override { return {w_, v_, s_, steps_}; }
  void restore(const EngineState& state) override;
  Precision precision() const override { return Precision::float64; }

  // The batch's mean gradient in canonical order; adds the batch's summed loss to *loss_sum.
  std::vector<double> mean_gradient(const Dataset& data, Indices batch, double* loss_sum) const;

  // The loss of one example (½‖a − t‖² or cross-entropy) under parameters `w` (canonical order):
  // the function whose finite differences the gradient tests take.
  double example_loss(const std::vector<double>& w, const std::uint8_t* image, int label) const;
  // The same for example e of `data` (float features, real-valued targets).
  double example_loss(const std::vector<double>& w, const Dataset& data, std::uint32_t e) const;

 private:
  // acts[0] is the input, acts[l+1] the output of layer l; logits the last layer's z.
  void forward(const std::vector<double>& w, std::vector<double> input, std::vector<std::vector<double>>& acts,
               std::vector<double>& logits) const;
  // Example e's inputs: its bytes × input_scale, or its float features as they are.
  std::vector<double> input_of(const Dataset& data, std::uint32_t e) const;
  std::vector<double> input_of(const std::uint8_t* image) const;
  // Example e's targets: its label one-hot, or its real-valued targets (regression).
  std::vector<double> target_of(const Dataset& data, std::uint32_t e) const;
  // Adds this example's gradient to `grad`; returns its loss.
  double backward(const std::vector<std::vector<double>>& acts, const std::vector<double>& logits,
                  const std::vector<double>& target, std::vector<double>& grad) const;
  double activate(double z, bool output) const;
  double activation_slope(double a, bool output) const;
  double loss_of(const std::vector<double>& out, const std::vector<double>& logits,
                 const std::vector<double>& target) const;
  // PyTorch's SGD, Adam or AdamW on every parameter, from the batch's mean gradient.
  void update(const std::vector<double>& grad, double lr);

  NetSpec spec_;
  ParamLayout layout_;  // canonical: packed, no padding
  std::vector<double> w_;
  UpdateRule rule_;
  std::vector<double> v_;  // SGD's velocity or Adam's first moment; empty when the rule keeps none
  std::vector<double> s_;  // Adam's second moment; empty for SGD
  std::uint64_t steps_ = 0;
};

}  // namespace ptrain
