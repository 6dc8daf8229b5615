#include "ptrain/io/npy.hpp"

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "ptrain/core/config.hpp"
#include "ptrain/core/errors.hpp"
#include "ptrain/core/float32_range.hpp"
#include "ptrain/io/file_checks.hpp"

namespace ptrain {
namespace {

constexpr std::string_view kMagic("\x93NUMPY", 6);
constexpr std::uint64_t kMaxHeader = 1 << 20;  // numpy writes a few dozen bytes; 64 KiB at most

std::uint32_t little_endian(const char* p, int bytes) {
  std::uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(p[i]);
  return v;
}

// The header dict, read as numpy writes it: keys 'descr', 'fortran_order' and 'shape' in any
// order, single- or double-quoted strings, a tuple of whole numbers.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& name) : s_(text), name_(name) {}

  NpyArray parse() {
    NpyArray a;
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    while (skip_space(), peek() != '}') {
      const std::string key = string_literal();
      expect(':');
      if (key == "descr") {
        descr(string_literal(), a);
        have_descr = true;
      } else if (key == "fortran_order") {
        if (word() != "False") fail("Fortran order (fortran_order: True) is not read; save it in C order");
        have_order = true;
      } else if (key == "shape") {
        a.shape = tuple();
        have_shape = true;
      } else {
        fail("unexpected key '" + key + "' in the header");
      }
      skip_space();
      if (peek() == ',') ++at_;
    }
    if (!have_descr || !have_order || !have_shape) fail("the header lacks descr, fortran_order or shape");
    return a;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const { throw DataError(name_ + ": " + why); }
  char peek() const { return at_ < s_.size() ? s_[at_] : '\0'; }
  void skip_space() {
    while (at_ < s_.size() && (s_[at_] == ' ' || s_[at_] == '\n' || s_[at_] == '\t')) ++at_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(std::string("malformed .npy header (expected '") + c + "')");
    ++at_;
  }
  std::string string_literal() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("malformed .npy header (expected a quoted string)");
    const std::size_t end = s_.find(quote, at_ + 1);
    if (end == std::string_view::npos) fail("malformed .npy header (an unterminated string)");
    std::string out(s_.substr(at_ + 1, end - at_ - 1));
    at_ = end + 1;
    return out;
  }
  std::string word() {
    skip_space();
    const std::size_t start = at_;
    while (at_ < s_.size() && std::isalpha(static_cast<unsigned char>(s_[at_]))) ++at_;
    return std::string(s_.substr(start, at_ - start));
  }
  std::vector<std::uint64_t> tuple() {
    expect('(');
    std::vector<std::uint64_t> dims;
    while (skip_space(), peek() != ')') {
      if (!std::isdigit(static_cast<unsigned char>(peek())))
        fail("malformed .npy header (a shape that is not whole numbers)");
      std::uint64_t v = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        if (v > (std::uint64_t{1} << 40)) fail("a dimension of the shape is too large");
        v = v * 10 + static_cast<std::uint64_t>(peek() - '0');
        ++at_;
      }
      dims.push_back(v);
      skip_space();
      if (peek() == 'L') ++at_;  // Python 2's long suffix
      skip_space();
      if (peek() == ',') ++at_;
      if (dims.size() > 8) fail("a shape of more than 8 dimensions");
    }
    ++at_;
    return dims;
  }
  void descr(const std::string& d, NpyArray& a) {
    if (d.size() < 3 || (d[0] != '<' && d[0] != '|' && d[0] != '=' && d[0] != '>'))
      fail("dtype '" + d + "' is not read (expected float32, float64 or an integer type)");
    if (d[0] == '>' && d.substr(2) != "1")
      fail("big-endian data (dtype '" + d + "') is not read; save it little-endian");
    a.kind = d[1];
    const std::string size = d.substr(2);
    a.item_size = size == "1" ? 1 : size == "2" ? 2 : size == "4" ? 4 : size == "8" ? 8 : 0;
    const bool ok = (a.kind == 'f' && (a.item_size == 4 || a.item_size == 8)) ||
                    ((a.kind == 'u' || a.kind == 'i') && a.item_size != 0);
    if (!ok) fail("dtype '" + d + "' is not read (expected float32, float64 or an integer type)");
  }

  std::string_view s_;
  const std::string& name_;
  std::size_t at_ = 0;
};

}  // namespace

std::uint64_t NpyArray::count() const {
  std::uint64_t n = 1;
  for (std::uint64_t d : shape) n *= d;  // each dimension ≤ 2^40 and the data checked against it
  return n;
}

double NpyArray::value(std::uint64_t i) const {
  const char* p = data.data() + i * item_size;
  switch (kind) {
    case 'f':
      if (item_size == 4) {
        float f;
        std::memcpy(&f, p, 4);
        return f;
      } else {
        double d;
        std::memcpy(&d, p, 8);
        return d;
      }
    case 'u': {
      std::uint64_t v = 0;
      std::memcpy(&v, p, item_size);  // little-endian host (x86-64)
      return static_cast<double>(v);
    }
    default: {
      std::uint64_t v = 0;
      std::memcpy(&v, p, item_size);
      const int shift = 64 - 8 * item_size;
      return static_cast<double>(static_cast<std::int64_t>(v << shift) >> shift);  // sign-extended
    }
  }
}

bool is_npy(std::string_view bytes) { return bytes.substr(0, kMagic.size()) == kMagic; }

NpyArray decode_npy(std::string_view bytes, const std::string& name) {
  if (!is_npy(bytes)) throw DataError(name + ": not a .npy file (no \\x93NUMPY magic)");
  if (bytes.size() < 10) throw DataError(name + ": truncated .npy header");
  const int major = static_cast<unsigned char>(bytes[6]);
  if (major < 1 || major > 3) throw DataError(name + ": .npy format version " + std::to_string(major) + " is not read");
  const int len_bytes = major == 1 ? 2 : 4;
  if (bytes.size() < 8u + len_bytes) throw DataError(name + ": truncated .npy header");
  const std::uint64_t header_len = little_endian(bytes.data() + 8, len_bytes);
  const std::uint64_t data_at = 8 + len_bytes + header_len;
  if (header_len > kMaxHeader || data_at > bytes.size())
    throw DataError(name + ": its .npy header claims " + std::to_string(header_len) + " bytes; the file has " +
                    std::to_string(bytes.size()));
  NpyArray a = HeaderParser(bytes.substr(8 + len_bytes, header_len), name).parse();
  const std::uint64_t have = bytes.size() - data_at, limit = have / static_cast<std::uint64_t>(a.item_size);
  auto mismatch = [&] {
    std::string shape;
    for (std::uint64_t d : a.shape) {
      if (!shape.empty()) shape += 'x';
      shape += std::to_string(d);
    }
    return DataError(name + ": its shape (" + shape + ") of " + std::to_string(a.item_size) +
                     "-byte values does not match the " + std::to_string(have) + " bytes of data");
  };
  std::uint64_t count = 1;
  for (std::uint64_t d : a.shape) count = d == 0 ? 0 : count;
  if (count != 0)
    for (std::uint64_t d : a.shape) {  // the product checked as it grows: it cannot overflow
      if (count > limit / d) throw mismatch();
      count *= d;
    }
  if (count * a.item_size != have) throw mismatch();
  a.data = bytes.substr(data_at, count * a.item_size);
  return a;
}

std::string read_whole_file(const std::string& path) {
  if (const std::string problem = input_problem(path); !problem.empty()) throw DataError(path + ": " + problem);
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  if (!in && !in.eof()) throw DataError(path + ": read failed");
  return std::move(s).str();
}

NpyShape append_npy_features(const NpyArray& a, const std::string& name, AlignedVector<float>& features) {
  if (a.shape.size() != 2 && a.shape.size() != 3)
    throw DataError(name +
                    ": features must be a 2-D array (examples × features) or 3-D (examples × rows × columns); "
                    "this one has " +
                    std::to_string(a.shape.size()) + " dimensions");
  NpyShape s{a.shape[0], a.shape[1], a.shape.size() == 3 ? a.shape[2] : 1};
  if (s.rows * s.cols == 0 || s.rows * s.cols > (1u << 24))
    throw DataError(name + ": " + std::to_string(s.rows * s.cols) + " values an example: must be 1 to 16777216");
  const std::uint64_t per = s.rows * s.cols;
  features.reserve(features.size() + a.count());
  for (std::uint64_t i = 0; i < a.count(); ++i) {
    const double v = a.value(i);
    if (!rounds_to_finite_float32(v))
      throw DataError(name + ": value " + std::to_string(i % per) + " of example " + std::to_string(i / per) +
                      " is not a finite float32");
    features.push_back(static_cast<float>(v));
  }
  return s;
}

NpyShape append_npy_features(const std::string& path, AlignedVector<float>& features) {
  const std::string bytes = read_whole_file(path);
  return append_npy_features(decode_npy(bytes, path), path, features);
}

std::vector<std::uint8_t> npy_labels(const NpyArray& a, const std::string& name, int classes) {
  if (a.shape.size() != 1)
    throw DataError(name + ": labels must be a 1-D array; this one has " + std::to_string(a.shape.size()) +
                    " dimensions");
  std::vector<std::uint8_t> labels(a.count());
  for (std::uint64_t i = 0; i < a.count(); ++i) {
    const double v = a.value(i);
    if (!(v >= 0 && v <= 255 && v == std::floor(v)))
      throw DataError(name + ": label " + std::to_string(v) + " at index " + std::to_string(i) +
                      " is not a whole number from 0 to 255");
    labels[i] = static_cast<std::uint8_t>(v);
    if (labels[i] >= classes)
      throw DataError(name + ": label " + std::to_string(labels[i]) + " at index " + std::to_string(i) +
                      " is outside 0-" + std::to_string(classes - 1));
  }
  return labels;
}

std::vector<float> npy_targets(const NpyArray& a, const std::string& name, std::uint64_t& per_example) {
  if (a.shape.size() != 1 && a.shape.size() != 2)
    throw DataError(name + ": targets must be a 1-D array (one each) or 2-D (N × targets); this one has " +
                    std::to_string(a.shape.size()) + " dimensions");
  per_example = a.shape.size() == 2 ? a.shape[1] : 1;
  if (per_example == 0 || per_example > kMaxClasses)
    throw DataError(name + ": " + std::to_string(per_example) + " targets an example: must be 1 to " +
                    std::to_string(kMaxClasses));
  std::vector<float> targets(a.count());
  for (std::uint64_t i = 0; i < a.count(); ++i) {
    const double v = a.value(i);
    if (!rounds_to_finite_float32(v))
      throw DataError(name + ": target " + std::to_string(i % per_example) + " of example " +
                      std::to_string(i / per_example) + " is " + std::to_string(v) + ", not a finite float32");
    targets[i] = static_cast<float>(v);
  }
  return targets;
}

std::vector<std::uint8_t> read_npy_labels(const std::string& path, int classes) {
  const std::string bytes = read_whole_file(path);
  return npy_labels(decode_npy(bytes, path), path, classes);
}

}  // namespace ptrain
