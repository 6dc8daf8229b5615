// THE REFERENCE. Plain loops in double, one example at a time: the oracle every faster
// path is checked against. Clarity is its only goal; do not optimise it.
#include "ptrain/engine/reference.hpp"

#include <algorithm>
#include <cmath>

namespace ptrain {
namespace {

double sigmoid(double z) {
  if (z >= 0) return 1.0 / (1.0 + std::exp(-z));
  double e = std::exp(z);  // z < 0: e^z cannot overflow
  return e / (1.0 + e);
}

}  // namespace

ReferenceEngine::ReferenceEngine(const NetSpec& spec, std::span<const float> initial, const UpdateRule& rule)
    : spec_(spec),
      layout_(spec.sizes, 1),
      w_(initial.begin(), initial.end()),
      rule_(rule),
      v_(rule.sgd_velocity() || rule.adam() ? w_.size() : 0, 0.0),
      s_(rule.adam() ? w_.size() : 0, 0.0) {}

void ReferenceEngine::restore(const EngineState& state) {
  w_ = state.params;
  if (!v_.empty() && !state.velocity.empty()) v_ = state.velocity;
  if (!s_.empty() && !state.second_moment.empty()) s_ = state.second_moment;
  steps_ = state.steps;
}

double ReferenceEngine::activate(double z, bool output) const {
  if (output && spec_.regression()) return z;
  if (output || spec_.hidden == Activation::sigmoid) return sigmoid(z);
  if (spec_.hidden == Activation::tanh) return std::tanh(z);
  return z > 0 ? z : 0.0;
}

// Layer l: z = W a + b, a' = f(z) with f the hidden activation, or at the output sigmoid (mse),
// softmax (xent) or the identity (regression). Shapes: W [out][in], a [in], a' [out]. `logits` gets the output layer's
// z.
std::vector<double> ReferenceEngine::input_of(const std::uint8_t* image) const {
  std::vector<double> x(spec_.inputs());
  for (int i = 0; i < spec_.inputs(); ++i) x[i] = image[i] * spec_.input_scale;
  return x;
}

std::vector<double> ReferenceEngine::input_of(const Dataset& data, std::uint32_t e) const {
  if (!data.float_inputs) return input_of(data.image(e));
  if (data.sparse()) {
    std::vector<float> row(spec_.inputs());
    data.dense_row(e, row.data());
    return std::vector<double>(row.begin(), row.end());
  }
  return std::vector<double>(data.row(e), data.row(e) + spec_.inputs());
}

std::vector<double> ReferenceEngine::target_of(const Dataset& data, std::uint32_t e) const {
  if (spec_.regression()) return std::vector<double>(data.target(e), data.target(e) + spec_.classes());
  std::vector<double> t(spec_.classes(), 0.0);
  t[data.labels[e]] = 1.0;
  return t;
}

void ReferenceEngine::forward(const std::vector<double>& w, std::vector<double> input,
                              std::vector<std::vector<double>>& acts, std::vector<double>& logits) const {
  const int L = spec_.num_layers();
  acts.assign(spec_.sizes.size(), {});
  acts[0] = std::move(input);
  for (int l = 0; l < L; ++l) {
    const LayerSlot& s = layout_.layers[l];
    acts[l + 1].resize(s.out);
    if (l == L - 1) logits.resize(s.out);
    for (int j = 0; j < s.out; ++j) {
      double z = w[s.bias + j];
      for (int i = 0; i < s.in; ++i) z += w[s.weight + static_cast<std::size_t>(j) * s.in + i] * acts[l][i];
      if (l == L - 1) logits[j] = z;
      acts[l + 1][j] = activate(z, l == L - 1);
    }
  }
  if (spec_.loss == Loss::xent) {
    const double m = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (double z : logits) sum += std::exp(z - m);
    for (std::size_t j = 0; j < logits.size(); ++j) acts[L][j] = std::exp(logits[j] - m) / sum;
  }
}

// The derivative of a unit's output with respect to its input, in terms of its output a.
// The blog's post applies σ to a again.
double ReferenceEngine::activation_slope(double a, bool output) const {
  if (output && spec_.regression()) return 1.0;
  if (output || spec_.hidden == Activation::sigmoid)
    return spec_.blog_derivative ? sigmoid(a) * (1.0 - sigmoid(a)) : a * (1.0 - a);
  if (spec_.hidden == Activation::tanh) return 1.0 - a * a;
  return a > 0 ? 1.0 : 0.0;
}

// mse: ½‖a − t‖²; xent: −log softmax(z)_label = logsumexp(z) − z_label, computed stably (the
// label is the target's 1).
double ReferenceEngine::loss_of(const std::vector<double>& out, const std::vector<double>& logits,
                                const std::vector<double>& target) const {
  double loss = 0;
  if (spec_.loss == Loss::xent) {
    const double m = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (double z : logits) sum += std::exp(z - m);
    return m + std::log(sum) - logits[std::max_element(target.begin(), target.end()) - target.begin()];
  }
  for (std::size_t j = 0; j < out.size(); ++j) loss += 0.5 * (out[j] - target[j]) * (out[j] - target[j]);
  return loss;
}

// δ_L = (a_L − t)·σ'(a_L) for mse (σ' = 1 for linear outputs), softmax − t for xent;
// δ_l = (W_{l+1}ᵀ δ_{l+1})·f'(a_l); dW_l += δ_l ⊗ a_{l−1}; db_l += δ_l.
double ReferenceEngine::backward(const std::vector<std::vector<double>>& acts, const std::vector<double>& logits,
                                 const std::vector<double>& target, std::vector<double>& grad) const {
  const int L = spec_.num_layers();
  const std::vector<double>& out = acts[L];
  std::vector<double> delta(out.size());
  for (std::size_t j = 0; j < out.size(); ++j)
    delta[j] = spec_.loss == Loss::xent ? out[j] - target[j] : (out[j] - target[j]) * activation_slope(out[j], true);
  for (int l = L - 1; l >= 0; --l) {
    const LayerSlot& s = layout_.layers[l];
    for (int j = 0; j < s.out; ++j) {
      grad[s.bias + j] += delta[j];
      for (int i = 0; i < s.in; ++i) grad[s.weight + static_cast<std::size_t>(j) * s.in + i] += delta[j] * acts[l][i];
    }
    if (l == 0) break;
    std::vector<double> previous(s.in, 0.0);
    for (int i = 0; i < s.in; ++i) {
      for (int j = 0; j < s.out; ++j) previous[i] += w_[s.weight + static_cast<std::size_t>(j) * s.in + i] * delta[j];
      previous[i] *= activation_slope(acts[l][i], false);
    }
    delta = std::move(previous);
  }
  return loss_of(out, logits, target);
}

std::vector<double> ReferenceEngine::mean_gradient(const Dataset& data, Indices batch, double* loss_sum) const {
  std::vector<double> grad(layout_.total, 0.0);
  std::vector<std::vector<double>> acts;
  std::vector<double> logits;
  double loss = 0;
  for (std::uint32_t e : batch) {
    forward(w_, input_of(data, e), acts, logits);
    loss += backward(acts, logits, target_of(data, e), grad);
  }
  for (double& g : grad) g /= static_cast<double>(batch.size());
  if (loss_sum) *loss_sum += loss;
  return grad;
}

double ReferenceEngine::train_step(const Dataset& data, Indices batch, double lr) {
  double loss = 0;
  std::vector<double> grad = mean_gradient(data, batch, &loss);
  update(grad, lr);
  return loss;
}

void ReferenceEngine::update(const std::vector<double>& grad, double lr) {
  ++steps_;
  const double decay = rule_.weight_decay;
  if (!rule_.adam()) {
    for (std::size_t i = 0; i < w_.size(); ++i) {
      const double g = decay != 0 ? grad[i] + decay * w_[i] : grad[i];
      if (v_.empty()) {
        w_[i] -= lr * g;
      } else {
        v_[i] = rule_.momentum * v_[i] + g;
        w_[i] -= lr * (rule_.nesterov ? rule_.momentum * v_[i] + g : v_[i]);
      }
    }
    return;
  }
  const double t = static_cast<double>(steps_);
  const double step_size = lr / (1 - std::pow(rule_.beta1, t)), root_bc2 = std::sqrt(1 - std::pow(rule_.beta2, t));
  const bool decoupled = rule_.optimizer == Optimizer::adamw;
  for (std::size_t i = 0; i < w_.size(); ++i) {
    double g = grad[i];
    if (decay != 0 && decoupled) w_[i] *= 1 - lr * decay;
    if (decay != 0 && !decoupled) g += decay * w_[i];
    v_[i] = rule_.beta1 * v_[i] + (1 - rule_.beta1) * g;
    s_[i] = rule_.beta2 * s_[i] + (1 - rule_.beta2) * g * g;
    w_[i] -= step_size * v_[i] / (std::sqrt(s_[i]) / root_bc2 + rule_.eps);
  }
}

std::vector<float> ReferenceEngine::outputs(const Dataset& data, Indices examples) {
  std::vector<std::vector<double>> acts;
  std::vector<double> logits;
  std::vector<float> out;
  for (std::uint32_t e : examples) {
    forward(w_, input_of(data, e), acts, logits);
    out.insert(out.end(), acts.back().begin(), acts.back().end());
  }
  return out;
}

double ReferenceEngine::example_loss(const std::vector<double>& w, const std::uint8_t* image, int label) const {
  std::vector<std::vector<double>> acts;
  std::vector<double> logits;
  forward(w, input_of(image), acts, logits);
  std::vector<double> target(spec_.classes(), 0.0);
  target[label] = 1.0;
  return loss_of(acts.back(), logits, target);
}

double ReferenceEngine::example_loss(const std::vector<double>& w, const Dataset& data, std::uint32_t e) const {
  std::vector<std::vector<double>> acts;
  std::vector<double> logits;
  forward(w, input_of(data, e), acts, logits);
  return loss_of(acts.back(), logits, target_of(data, e));
}

}  // namespace ptrain
