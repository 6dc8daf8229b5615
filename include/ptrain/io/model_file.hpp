#pragma once
// Model files in the safetensors format: an 8-byte little-endian header length, a JSON header
// (padded with spaces to a multiple of 8), then the raw little-endian tensors, contiguous, the
// buffer ending at the end of the file. Tensors are named and shaped like PyTorch's nn.Linear
// layers, "layers.<l>.weight" [out, in] and "layers.<l>.bias" [out], in canonical order.
// `__metadata__` (string values only, as the format requires) holds the net and, for
// checkpoints, the training state; a checkpoint of a run with momentum also holds the velocity
// as "velocity.layers.<l>.weight" and ".bias", after the parameters; one of Adam's holds its
// first moment there and its second as "second_moment.layers.<l>.…", after that.
#include <charconv>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ptrain/core/errors.hpp"

namespace ptrain {

// 2: with payload_hash (a checksum of all tensor data) beside weights_hash. 3: names (paths,
// class names, column and array names) percent-encoded, so any bytes can be stored
// (name_encoding.hpp). 4: the task ("task": classification or regression; a regression's
// outputs are real-valued targets, which a reader of 3 would take for class scores, so it must
// refuse the file). Versions 1 to 3 are still read, as classifications.
inline constexpr const char* kModelFormatVersion = "4";

// Written by ptrain (metadata format = ptrain): checked on load against its own checksums.
inline bool is_ptrain_file(const std::map<std::string, std::string>& metadata) { return metadata.count("format") != 0; }

enum class TensorType { f32, f64 };

struct ModelFile {
  std::vector<int> sizes;                       // from the tensors' shapes
  std::vector<double> params;                   // canonical order
  std::vector<double> velocity;                 // momentum state ("velocity.layers.…"); may be empty
  std::vector<double> second_moment;            // Adam's ("second_moment.layers.…"); may be empty
  TensorType dtype = TensorType::f32;           // as stored
  std::map<std::string, std::string> metadata;  // __metadata__
};

// Bytes of a model file; F64 keeps a float64 engine's parameters exact (checkpoints of the
// scalar oracle), F32 is what other tools expect.
std::string encode_model_file(const ModelFile& model);

// Writes atomically; throws DataError naming `what`.
void save_model_file(const std::string& path, const ModelFile& model, const std::string& what);

// Validates everything before trusting it; throws DataError naming the file and the problem.
ModelFile load_model_file(const std::string& path);
ModelFile decode_model_file(const std::string& bytes, const std::string& name);

// The number in metadata[key]: nullopt when absent, a DataError naming `path` when malformed.
template <class T>
std::optional<T> metadata_number(const ModelFile& m, const std::string& key, const std::string& path) {
  auto it = m.metadata.find(key);
  if (it == m.metadata.end()) return std::nullopt;
  T v{};
  const std::string& s = it->second;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty())
    throw DataError(path + ": metadata '" + key + "' = '" + s + "' is not a number");
  return v;
}

}  // namespace ptrain
