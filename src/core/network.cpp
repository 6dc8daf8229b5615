#include "ptrain/core/network.hpp"

#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "ptrain/core/rng.hpp"

namespace ptrain {

ParamLayout::ParamLayout(const std::vector<int>& sizes, std::size_t align_floats) {
  auto round_up = [&](std::size_t n) { return (n + align_floats - 1) / align_floats * align_floats; };
  for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
    LayerSlot s;
    s.in = sizes[l];
    s.out = sizes[l + 1];
    s.weight = total;
    total = round_up(total + static_cast<std::size_t>(s.in) * s.out);
    s.bias = total;
    total = round_up(total + static_cast<std::size_t>(s.out));
    layers.push_back(s);
  }
}

std::size_t canonical_param_count(const std::vector<int>& sizes) { return ParamLayout(sizes, 1).total; }

std::vector<float> init_blog(const std::vector<int>& sizes, std::uint64_t seed) {
  return init_params(sizes, Init::blog, seed);
}

std::vector<float> init_params(const std::vector<int>& sizes, Init init, std::uint64_t seed) {
  ParamLayout layout(sizes, 1);
  std::vector<float> p(layout.total);
  auto rng = make_stream(seed, Stream::init);
  for (const LayerSlot& s : layout.layers) {
    const std::size_t n = static_cast<std::size_t>(s.in) * s.out;
    if (init == Init::blog) {
      for (std::size_t i = 0; i < n; ++i) p[s.weight + i] = uniform01(rng) - 0.5f;
    } else {
      const float limit =
          static_cast<float>(init == Init::xavier ? std::sqrt(6.0 / (s.in + s.out)) : std::sqrt(6.0 / s.in));
      for (std::size_t i = 0; i < n; ++i) p[s.weight + i] = (2.0f * uniform01(rng) - 1.0f) * limit;
    }
    for (int j = 0; j < s.out; ++j) p[s.bias + j] = init == Init::blog ? 1.0f : 0.0f;
  }
  return p;
}

std::uint64_t bytes_hash(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char b : bytes) {
    h ^= b;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::uint64_t weights_hash(std::span<const float> canonical) {
  static_assert(std::endian::native == std::endian::little, "weights_hash assumes a little-endian host");
  return bytes_hash({reinterpret_cast<const char*>(canonical.data()), canonical.size_bytes()});
}

std::string hash_hex(std::uint64_t hash) {
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(hash));
  return out;
}

}  // namespace ptrain
