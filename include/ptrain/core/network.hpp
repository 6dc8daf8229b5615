#pragma once
// Where each parameter of a network (its NetSpec, config.hpp) lives, how they start, and the
// hash that names a set of them.
//
// Canonical parameter order (model files, weights_hash, gradients compared in tests):
// for each layer l = 0..L-1, W[l] as [out][in] rows, then b[l] — PyTorch's nn.Linear order.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <string>
#include <vector>

#include "ptrain/core/config.hpp"

namespace ptrain {

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

// Any initialisation (config.hpp's Init), drawn the same way.
std::vector<float> init_params(const std::vector<int>& sizes, Init init, std::uint64_t seed);

// FNV-1a 64 over the little-endian bytes of the float32 parameters in canonical order: equal
// hashes mean bitwise-equal models.
std::uint64_t weights_hash(std::span<const float> canonical);
// The same hash (64-bit FNV-1a) of any bytes: model files' payload checksum.
std::uint64_t bytes_hash(std::string_view bytes);

// A hash as it is printed and stored: 16 lowercase hex digits.
std::string hash_hex(std::uint64_t hash);

}  // namespace ptrain
