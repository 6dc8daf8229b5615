#include "ptrain/io/model_file.hpp"

#include "ptrain/core/config.hpp"
#include "ptrain/core/text_parsers.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "ptrain/io/atomic_file.hpp"
#include "ptrain/core/config.hpp"
#include "ptrain/core/errors.hpp"
#include "ptrain/io/file_checks.hpp"
#include "ptrain/core/network.hpp"

namespace ptrain {
namespace {

// The metadata's own checksum: every other entry as key, NUL, value, NUL, in key order.
std::uint64_t metadata_hash(const std::map<std::string, std::string>& metadata) {
  std::string text;
  for (const auto& [key, value] : metadata)
    if (key != "metadata_hash" && key != "payload_hash") text.append(key).append(1, '\0').append(value).append(1, '\0');
  return bytes_hash(text);
}

static_assert(std::endian::native == std::endian::little, "model files are little-endian, as is this host");

using nlohmann::json;

constexpr std::uint64_t kMaxHeaderBytes = 100u << 20;  // safetensors' own limit is 100 MB
constexpr std::uint64_t kMaxFileBytes = 1ull << 30;

const char* dtype_name(TensorType t) { return t == TensorType::f32 ? "F32" : "F64"; }
std::size_t dtype_size(TensorType t) { return t == TensorType::f32 ? 4 : 8; }

std::string tensor_name(std::size_t layer, const char* kind, const std::string& prefix = "") {
  return prefix + "layers." + std::to_string(layer) + "." + kind;
}

constexpr const char* kVelocityPrefix = "velocity.";
constexpr const char* kSecondMomentPrefix = "second_moment.";

struct TensorEntry {
  std::string name;
  std::vector<std::uint64_t> shape;
  std::uint64_t begin = 0, end = 0;
};

[[noreturn]] void bad(const std::string& name, const std::string& problem) { throw DataError(name + ": " + problem); }

// One tensor's header entry, checked for form; its place in the net is checked later.
TensorEntry parse_entry(const std::string& file, const std::string& key, const json& v, TensorType& dtype,
                        bool& dtype_seen) {
  if (!v.is_object()) bad(file, "tensor '" + key + "' is not a JSON object");
  if (!v.contains("dtype") || !v["dtype"].is_string()) bad(file, "tensor '" + key + "' has no dtype");
  const std::string d = v["dtype"];
  TensorType t;
  if (d == "F32")
    t = TensorType::f32;
  else if (d == "F64")
    t = TensorType::f64;
  else
    bad(file, "tensor '" + key + "' has dtype " + d + "; ptrain reads F32 and F64");
  if (dtype_seen && t != dtype) bad(file, "tensors mix dtypes F32 and F64");
  dtype = t;
  dtype_seen = true;
  TensorEntry e;
  e.name = key;
  if (!v.contains("shape") || !v["shape"].is_array()) bad(file, "tensor '" + key + "' has no shape");
  for (const json& s : v["shape"]) {
    if (!s.is_number_unsigned()) bad(file, "tensor '" + key + "' has a shape that is not non-negative integers");
    e.shape.push_back(s.get<std::uint64_t>());
  }
  const json* off = v.contains("data_offsets") ? &v["data_offsets"] : nullptr;
  if (!off || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
      !(*off)[1].is_number_unsigned())
    bad(file, "tensor '" + key + "' has no valid data_offsets [begin, end]");
  e.begin = (*off)[0].get<std::uint64_t>();
  e.end = (*off)[1].get<std::uint64_t>();
  if (e.end < e.begin) bad(file, "tensor '" + key + "' has data_offsets that end before they begin");
  return e;
}

}  // namespace

std::string encode_model_file(const ModelFile& model) {
  ParamLayout layout(model.sizes, 1);
  if (model.params.size() != layout.total || (!model.velocity.empty() && model.velocity.size() != layout.total) ||
      (!model.second_moment.empty() && (model.second_moment.size() != layout.total || model.velocity.empty())))
    throw std::logic_error("encode_model_file: parameter count mismatch");
  const std::size_t width = dtype_size(model.dtype);
  json header = json::object();
  json meta = json::object();
  for (const auto& [k, v] : model.metadata) meta[k] = v;
  header["__metadata__"] = meta;
  auto describe = [&](const std::string& prefix, std::size_t base) {
    for (std::size_t l = 0; l < layout.layers.size(); ++l) {
      const LayerSlot& s = layout.layers[l];
      const std::size_t w = base + s.weight, b = base + s.bias;
      header[tensor_name(l, "weight", prefix)] = {
          {"dtype", dtype_name(model.dtype)},
          {"shape", {s.out, s.in}},
          {"data_offsets", {w * width, (w + std::size_t(s.out) * s.in) * width}}};
      header[tensor_name(l, "bias", prefix)] = {
          {"dtype", dtype_name(model.dtype)}, {"shape", {s.out}}, {"data_offsets", {b * width, (b + s.out) * width}}};
    }
  };
  describe("", 0);
  if (!model.velocity.empty()) describe(kVelocityPrefix, layout.total);
  if (!model.second_moment.empty()) describe(kSecondMomentPrefix, 2 * layout.total);
  std::vector<double> values = model.params;
  values.insert(values.end(), model.velocity.begin(), model.velocity.end());
  values.insert(values.end(), model.second_moment.begin(), model.second_moment.end());
  std::string data(values.size() * width, '\0');
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (model.dtype == TensorType::f32) {
      const float f = static_cast<float>(values[i]);
      std::memcpy(data.data() + 4 * i, &f, 4);
    } else {
      std::memcpy(data.data() + 8 * i, &values[i], 8);
    }
  }
  if (is_ptrain_file(model.metadata)) {
    header["__metadata__"]["payload_hash"] = hash_hex(bytes_hash(data));
    header["__metadata__"]["metadata_hash"] = hash_hex(metadata_hash(model.metadata));
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  const std::uint64_t n = text.size();
  std::memcpy(out.data(), &n, 8);
  return out + text + data;
}

void save_model_file(const std::string& path, const ModelFile& model, const std::string& what) {
  write_file_atomically(path, encode_model_file(model), what);
}

namespace {

using TensorMap = std::map<std::string, TensorEntry>;

std::string metadata_text(const ModelFile& m, const std::string& key, const std::string& file) {
  auto it = m.metadata.find(key);
  if (it == m.metadata.end()) bad(file, "metadata lacks '" + key + "'");
  return it->second;
}

// What ptrain wrote, it can check: the format, the net, and the checksums of the weights and
// of the whole payload (velocity included), so a flipped bit is found before it is trained on.
// `payload` is the tensors' bytes as the table places them, in canonical order: ptrain writes
// them in that order, so a table whose names, shapes or offsets were altered (two tensors'
// data swapped) gives other bytes and fails the payload_hash.
void verify_ptrain_file(const ModelFile& m, std::string_view payload, const std::string& file) {
  const std::string format = metadata_text(m, "format", file);
  if (format != "ptrain") bad(file, "metadata format '" + format + "' is not ptrain's");
  const std::string version = metadata_text(m, "format_version", file);
  if (version != "1" && version != "2" && version != "3" && version != kModelFormatVersion)
    bad(file, "format_version '" + version + "' is not one this ptrain reads (1 to " + kModelFormatVersion + ")");
  auto layers = m.metadata.find("layers");
  if (layers != m.metadata.end() && layers->second != format_sizes(m.sizes, ','))
    bad(file, "metadata layers " + layers->second + " disagree with the tensors' shapes " + format_sizes(m.sizes, ','));
  if (version == "1") return;  // before checksums
  const std::string stored = metadata_text(m, "weights_hash", file);
  const std::vector<float> as_float(m.params.begin(), m.params.end());
  if (stored != hash_hex(weights_hash(as_float)))
    bad(file, "the weights do not match the stored weights_hash " + stored + " (the file is damaged)");
  const std::string payload_hash = metadata_text(m, "payload_hash", file);
  if (payload_hash != hash_hex(bytes_hash(payload)))
    bad(file, "the tensor data does not match the stored payload_hash " + payload_hash +
                  " (the file is damaged, or its tensor table was altered)");
  const std::string stored_metadata_hash = metadata_text(m, "metadata_hash", file);
  if (stored_metadata_hash != hash_hex(metadata_hash(m.metadata)))
    bad(file,
        "the metadata does not match the stored metadata_hash " + stored_metadata_hash + " (the file is damaged)");
}

// The JSON header after the 8-byte length `n`; its metadata into m, its tensor entries returned.
TensorMap read_header(const std::string& bytes, std::uint64_t n, const std::string& file, ModelFile& m) {
  json header = json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n), nullptr, false);
  if (header.is_discarded()) bad(file, "header is not valid JSON");
  if (!header.is_object()) bad(file, "header is not a JSON object");
  bool dtype_seen = false;
  TensorMap tensors;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object()) bad(file, "__metadata__ is not a JSON object");
      for (auto mt = it->begin(); mt != it->end(); ++mt) {
        if (!mt->is_string()) bad(file, "__metadata__ value '" + mt.key() + "' is not a string");
        m.metadata[mt.key()] = mt->get<std::string>();
      }
      continue;
    }
    tensors[it.key()] = parse_entry(file, it.key(), *it, m.dtype, dtype_seen);
  }
  if (tensors.empty()) bad(file, "holds no tensors");
  return tensors;
}

// The net: layers.0 .. layers.L-1, each weight [out, in] and bias [out], chained; m.sizes from
// their shapes. Returns them in canonical order.
std::vector<const TensorEntry*> net_tensors(const TensorMap& tensors, const std::string& file, ModelFile& m) {
  std::vector<const TensorEntry*> ordered;
  for (std::size_t l = 0;; ++l) {
    auto w = tensors.find(tensor_name(l, "weight"));
    auto b = tensors.find(tensor_name(l, "bias"));
    if (w == tensors.end() && b == tensors.end()) break;
    if (w == tensors.end()) bad(file, "missing tensor " + tensor_name(l, "weight"));
    if (b == tensors.end()) bad(file, "missing tensor " + tensor_name(l, "bias"));
    const auto& ws = w->second.shape;
    const auto& bs = b->second.shape;
    if (ws.size() != 2 || ws[0] == 0 || ws[1] == 0 || ws[0] > 1'000'000 || ws[1] > 1'000'000)
      bad(file, tensor_name(l, "weight") + " must have shape [out, in] with sizes from 1 to 1000000");
    if (bs.size() != 1 || bs[0] != ws[0])
      bad(file, tensor_name(l, "bias") + " must have shape [" + std::to_string(ws[0]) + "]");
    if (l == 0) m.sizes.push_back(static_cast<int>(ws[1]));
    if (static_cast<std::uint64_t>(m.sizes.back()) != ws[1])
      bad(file, tensor_name(l, "weight") + " takes " + std::to_string(ws[1]) + " inputs but the layer before gives " +
                    std::to_string(m.sizes.back()));
    m.sizes.push_back(static_cast<int>(ws[0]));
    ordered.push_back(&w->second);
    ordered.push_back(&b->second);
  }
  if (ordered.empty()) bad(file, "missing tensor layers.0.weight");
  return ordered;
}

// A checkpoint's optimizer state, tensor for tensor like the net's: the velocity (or Adam's
// first moment), then Adam's second moment, each appended to `ordered` when there; returns how
// many groups of the net's tensors were added. Any other tensor is refused.
int add_state_tensors(const TensorMap& tensors, const std::string& file, std::vector<const TensorEntry*>& ordered) {
  const std::size_t main_tensors = ordered.size();
  int groups = 0;
  for (const char* prefix : {kVelocityPrefix, kSecondMomentPrefix}) {
    if (!tensors.count(std::string(prefix) + "layers.0.weight")) break;  // a second moment needs a first
    for (std::size_t t = 0; t < main_tensors; ++t) {
      const std::string name = prefix + ordered[t]->name;
      auto v = tensors.find(name);
      if (v == tensors.end()) bad(file, "missing tensor " + name);
      if (v->second.shape != ordered[t]->shape) bad(file, name + " must have the shape of " + ordered[t]->name);
      ordered.push_back(&v->second);
    }
    ++groups;
  }
  if (ordered.size() == tensors.size()) return groups;
  for (const auto& named : tensors)
    if (std::none_of(ordered.begin(), ordered.end(), [&](const TensorEntry* e) { return e == &named.second; }))
      bad(file, "unexpected tensor '" + named.first + "' (ptrain writes layers.<l>.weight and layers.<l>.bias)");
  return groups;
}

// Offsets: each tensor exactly its size, together tiling the `buffer` bytes, which end the file.
void check_offsets(std::vector<const TensorEntry*> by_offset, std::uint64_t width, std::uint64_t buffer,
                   const std::string& file) {
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  std::uint64_t expected = 0;
  for (const TensorEntry* e : by_offset) {
    std::uint64_t count = 1;
    for (std::uint64_t d : e->shape) count *= d;  // each factor ≤ 10⁶, two factors: no overflow
    if (e->end - e->begin != count * width)
      bad(file, "tensor '" + e->name + "' has " + std::to_string(e->end - e->begin) +
                    " bytes of data; its shape needs " + std::to_string(count * width));
    if (e->begin != expected)
      bad(file, "tensor '" + e->name + "' starts at byte " + std::to_string(e->begin) + " of the data; expected " +
                    std::to_string(expected) + " (tensors must be contiguous, without overlap)");
    expected = e->end;
  }
  if (expected > buffer)
    bad(file, "data is shorter than declared: " + std::to_string(buffer) + " bytes, tensors need " +
                  std::to_string(expected));
  if (expected < buffer)
    bad(file, std::to_string(buffer - expected) + " bytes after the last tensor (the data must end the file)");
}

// The tensor's values, refusing non-finite ones.
void read_values(const char* data, const TensorEntry& e, TensorType dtype, const std::string& file,
                 std::vector<double>& into) {
  const std::uint64_t width = dtype_size(dtype), count = (e.end - e.begin) / width;
  for (std::uint64_t i = 0; i < count; ++i) {
    double v;
    if (dtype == TensorType::f32) {
      float f;
      std::memcpy(&f, data + e.begin + 4 * i, 4);
      v = f;
    } else {
      std::memcpy(&v, data + e.begin + 8 * i, 8);
    }
    if (!std::isfinite(v)) bad(file, "tensor '" + e.name + "' holds a non-finite value at index " + std::to_string(i));
    into.push_back(v);
  }
}

}  // namespace

ModelFile decode_model_file(const std::string& bytes, const std::string& file) {
  if (bytes.size() < 8) bad(file, "too short for a safetensors header (" + std::to_string(bytes.size()) + " bytes)");
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  if (n > kMaxHeaderBytes) bad(file, "header length " + std::to_string(n) + " is absurdly large (limit 100 MB)");
  if (n > bytes.size() - 8)
    bad(file, "header length " + std::to_string(n) + " runs past the end of the " + std::to_string(bytes.size()) +
                  "-byte file");
  ModelFile m;
  const TensorMap tensors = read_header(bytes, n, file, m);
  std::vector<const TensorEntry*> ordered = net_tensors(tensors, file, m);
  const std::size_t main_tensors = ordered.size();
  add_state_tensors(tensors, file, ordered);
  check_offsets(ordered, dtype_size(m.dtype), bytes.size() - 8 - n, file);
  for (std::size_t t = 0; t < ordered.size(); ++t)
    read_values(bytes.data() + 8 + n, *ordered[t], m.dtype, file,
                t < main_tensors       ? m.params
                : t < 2 * main_tensors ? m.velocity
                                       : m.second_moment);
  if (is_ptrain_file(m.metadata)) {
    std::string canonical;
    canonical.reserve(bytes.size() - 8 - n);
    for (const TensorEntry* e : ordered) canonical.append(bytes, 8 + n + e->begin, e->end - e->begin);
    verify_ptrain_file(m, canonical, file);
  }
  return m;
}

ModelFile load_model_file(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (const std::string problem = input_problem(path); !problem.empty())
    throw DataError(path + ": " + (problem == "file not found" ? "model file not found" : problem));
  const std::uint64_t size = fs::file_size(path, ec);
  if (ec) throw DataError(path + ": cannot read its size: " + ec.message());
  if (size > kMaxFileBytes)
    throw DataError(path + ": " + std::to_string(size) + " bytes is too large for a model file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot open: " + std::strerror(errno));
  std::string bytes(size, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  if (static_cast<std::uint64_t>(in.gcount()) != size) throw DataError(path + ": read failed");
  return decode_model_file(bytes, path);
}

}  // namespace ptrain
