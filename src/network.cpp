#include "ptrain/network.hpp"

#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <sstream>

#include "ptrain/errors.hpp"
#include "ptrain/rng.hpp"

namespace ptrain {

std::string format_sizes(const std::vector<int>& sizes, char separator) {
  std::string s;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    if (i) s += separator;
    s += std::to_string(sizes[i]);
  }
  return s;
}

std::string NetSpec::describe() const { return format_sizes(sizes, '-'); }

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
      const float limit = static_cast<float>(
          init == Init::xavier ? std::sqrt(6.0 / (s.in + s.out)) : std::sqrt(6.0 / s.in));
      for (std::size_t i = 0; i < n; ++i) p[s.weight + i] = (2.0f * uniform01(rng) - 1.0f) * limit;
    }
    for (int j = 0; j < s.out; ++j) p[s.bias + j] = init == Init::blog ? 1.0f : 0.0f;
  }
  return p;
}

const char* name_of(Activation a) { return a == Activation::sigmoid ? "sigmoid" : a == Activation::tanh ? "tanh" : "relu"; }
const char* name_of(Loss l) { return l == Loss::mse ? "mse" : "xent"; }
const char* name_of(Init i) { return i == Init::blog ? "blog" : i == Init::xavier ? "xavier" : "he"; }

Activation parse_activation(const std::string& t) {
  if (t == "sigmoid") return Activation::sigmoid;
  if (t == "tanh") return Activation::tanh;
  if (t == "relu") return Activation::relu;
  throw UsageError("--activation '" + t + "': expected sigmoid, tanh or relu");
}

Loss parse_loss(const std::string& t) {
  if (t == "mse") return Loss::mse;
  if (t == "xent") return Loss::xent;
  throw UsageError("--loss '" + t + "': expected mse or xent");
}

Init parse_init(const std::string& t) {
  if (t == "blog") return Init::blog;
  if (t == "xavier") return Init::xavier;
  if (t == "he") return Init::he;
  throw UsageError("--init '" + t + "': expected blog, xavier or he");
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
