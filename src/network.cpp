#include "ptrain/network.hpp"

#include <bit>
#include <cstdio>
#include <cstring>
#include <limits>
#include <sstream>

#include "ptrain/errors.hpp"
#include "ptrain/rng.hpp"

namespace ptrain {

std::string NetSpec::describe() const {
  std::string s;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    if (i) s += '-';
    s += std::to_string(sizes[i]);
  }
  return s;
}

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
  ParamLayout layout(sizes, 1);
  std::vector<float> p(layout.total);
  auto rng = make_stream(seed, Stream::init);
  for (const LayerSlot& s : layout.layers) {
    for (std::size_t i = 0; i < static_cast<std::size_t>(s.in) * s.out; ++i) p[s.weight + i] = uniform01(rng) - 0.5f;
    for (int j = 0; j < s.out; ++j) p[s.bias + j] = 1.0f;
  }
  return p;
}

std::string weights_hash(std::span<const float> canonical) {
  static_assert(std::endian::native == std::endian::little, "weights_hash assumes a little-endian host");
  std::uint64_t h = 0xcbf29ce484222325ULL;
  const auto* bytes = reinterpret_cast<const unsigned char*>(canonical.data());
  for (std::size_t i = 0; i < canonical.size_bytes(); ++i) {
    h ^= bytes[i];
    h *= 0x100000001b3ULL;
  }
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

std::vector<int> parse_layers(const std::string& text) {
  std::vector<int> sizes;
  std::size_t start = 0;
  while (true) {
    std::size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (item.empty()) throw UsageError("--layers '" + text + "': empty item; expected sizes like 784,112,16,10");
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size()) throw UsageError("--layers '" + text + "': '" + item + "' is not a whole number");
    if (v <= 0 || v > 1'000'000)
      throw UsageError("--layers '" + text + "': size " + item + " must be between 1 and 1000000");
    sizes.push_back(static_cast<int>(v));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (sizes.size() < 2) throw UsageError("--layers '" + text + "': needs at least two sizes (inputs and outputs)");
  return sizes;
}

}  // namespace ptrain
