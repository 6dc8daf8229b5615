#pragma once
// What a network is: its layer sizes, the arithmetic recipe, and where each parameter lives.
//
// Canonical parameter order (model files, weights_hash, gradients compared in tests):
// for each layer l = 0..L-1, W[l] as [out][in] rows, then b[l] — PyTorch's nn.Linear order.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ptrain {

// Hidden-layer units.
enum class Activation { sigmoid, tanh, relu };
// mse: sigmoid outputs, loss ½‖a − t‖² (the blog's). xent: softmax outputs, cross-entropy
// −log softmax(z)_label, whose output delta is softmax − target.
enum class Loss { mse, xent };
// blog: uniform [−0.5, 0.5), biases 1. xavier: uniform ±√(6/(in+out)), he: uniform ±√(6/in),
// biases 0 for both.
enum class Init { blog, xavier, he };

const char* name_of(Activation a);
const char* name_of(Loss l);
const char* name_of(Init i);
// Throw UsageError naming the option and the accepted values.
Activation parse_activation(const std::string& text);
Loss parse_loss(const std::string& text);
Init parse_init(const std::string& text);

// The blog's arithmetic is the default; `blog_derivative` reproduces the post's defect of
// taking sigmoid's derivative of the activation again, σ(a)(1−σ(a)) instead of a(1−a).
struct NetSpec {
  std::vector<int> sizes{784, 112, 16, 10};
  double input_scale = 1.0 / 255.0;  // 1.0 feeds raw 0–255 pixels, as the post does
  bool blog_derivative = false;
  Activation hidden = Activation::sigmoid;
  Loss loss = Loss::mse;

  int num_layers() const { return static_cast<int>(sizes.size()) - 1; }
  int inputs() const { return sizes.front(); }
  int classes() const { return sizes.back(); }
  std::string describe() const;  // "784-112-16-10"
};

// Offsets of one layer's tensors inside a flat parameter buffer.
struct LayerSlot {
  int in = 0, out = 0;
  std::size_t weight = 0;  // offset of W (out × in, row-major)
  std::size_t bias = 0;    // offset of b (out)
};

// Where every tensor sits in a flat buffer. With `align_floats` > 1 each tensor starts on a
// multiple of it (padding stays zero); with 1 the layout is the canonical, packed one.
struct ParamLayout {
  std::vector<LayerSlot> layers;
  std::size_t total = 0;

  ParamLayout() = default;
  ParamLayout(const std::vector<int>& sizes, std::size_t align_floats);
};

std::size_t canonical_param_count(const std::vector<int>& sizes);

// The blog's initialisation: weights uniform in [-0.5, 0.5), biases 1.0, drawn from `seed`
// in canonical order. Returned canonical (packed).
std::vector<float> init_blog(const std::vector<int>& sizes, std::uint64_t seed);

// Any of the initialisations above, drawn the same way.
std::vector<float> init_params(const std::vector<int>& sizes, Init init, std::uint64_t seed);

// FNV-1a 64 over the little-endian bytes of the float32 parameters in canonical order,
// as 16 hex digits: equal hashes mean bitwise-equal models.
std::string weights_hash(std::span<const float> canonical);

// "784,112,16,10" with separator ','; "784-112-16-10" with '-'.
std::string format_sizes(const std::vector<int>& sizes, char separator);

// Parses "784,112,16,10"; throws UsageError naming the problem.
std::vector<int> parse_layers(const std::string& text);

}  // namespace ptrain
