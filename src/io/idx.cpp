#include "ptrain/io/idx.hpp"

#include <zlib.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <optional>
#include <cstring>
#include <filesystem>
#include <memory>

#include "ptrain/core/config.hpp"
#include "ptrain/core/errors.hpp"
#include "ptrain/io/file_checks.hpp"

namespace ptrain {
namespace {

namespace fs = std::filesystem;

// Deflate expands at most ~1032:1, so a gzip file of n bytes holds at most this much.
constexpr std::uint64_t kMaxDeflateRatio = 1032;
// Payloads are read in steps of this size, so memory grows only as real data arrives.
constexpr std::uint64_t kReadStep = 4u << 20;

// The last 4 bytes of a gzip file: the uncompressed size mod 2^32 (RFC 1952's ISIZE).
std::optional<std::uint32_t> gzip_trailer_size(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return std::nullopt;
  unsigned char tail[4];
  const bool ok = std::fseek(f, -4, SEEK_END) == 0 && std::fread(tail, 1, 4, f) == 4;
  std::fclose(f);
  if (!ok) return std::nullopt;
  return std::uint32_t{tail[0]} | std::uint32_t{tail[1]} << 8 | std::uint32_t{tail[2]} << 16 |
         std::uint32_t{tail[3]} << 24;
}

// An IDX file's bytes, plain or gzip-compressed (told apart by the gzip magic 1f 8b, not by the
// name). Every failure names the file.
class IdxSource {
 public:
  explicit IdxSource(const std::string& path) : path_(path) {
    if (const std::string problem = input_problem(path); !problem.empty()) throw DataError(path + ": " + problem);
    std::error_code ec;
    length_ = fs::file_size(path, ec);
    if (ec) throw DataError(path + ": cannot read its size: " + ec.message());
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw DataError(path + ": cannot open: " + std::strerror(errno));
    unsigned char magic[2] = {0, 0};
    const std::size_t got = std::fread(magic, 1, 2, f);
    gzip_ = got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    if (gzip_) {
      std::fclose(f);
      gz_ = gzopen(path.c_str(), "rb");
      if (!gz_) throw DataError(path + ": cannot open: " + std::strerror(errno));
      gzbuffer(gz_, 256 * 1024);
    } else {
      std::rewind(f);
      file_ = f;
    }
  }
  ~IdxSource() {
    if (gz_) gzclose(gz_);
    if (file_) std::fclose(file_);
  }
  IdxSource(const IdxSource&) = delete;
  IdxSource& operator=(const IdxSource&) = delete;

  // Up to n bytes; fewer only at the end of the data.
  std::uint64_t read(void* dst, std::uint64_t n) {
    if (!gzip_) {
      const std::size_t got = std::fread(dst, 1, n, file_);
      if (got < n && std::ferror(file_)) throw DataError(path_ + ": read failed: " + std::strerror(errno));
      return got;
    }
    std::uint64_t done = 0;
    while (done < n) {
      const unsigned step = static_cast<unsigned>(std::min<std::uint64_t>(n - done, 1u << 30));
      const int got = gzread(gz_, static_cast<char*>(dst) + done, step);
      if (got < 0) gzip_failure();
      if (got == 0) {
        int err = Z_OK;
        gzerror(gz_, &err);
        if (err != Z_OK && err != Z_STREAM_END) gzip_failure();
        break;
      }
      done += static_cast<unsigned>(got);
    }
    return done;
  }

  bool gzip() const { return gzip_; }
  std::uint64_t file_length() const { return length_; }
  const std::string& path() const { return path_; }

 private:
  [[noreturn]] void gzip_failure() {
    int err = Z_OK;
    const char* msg = gzerror(gz_, &err);
    throw DataError(path_ + ": gzip data is corrupt or truncated (" + (msg && *msg ? msg : "zlib error") + ")");
  }

  std::string path_;
  std::uint64_t length_ = 0;
  bool gzip_ = false;
  gzFile gz_ = nullptr;
  std::FILE* file_ = nullptr;
};

std::uint32_t big_endian(const unsigned char* b) {
  return std::uint32_t{b[0]} << 24 | std::uint32_t{b[1]} << 16 | std::uint32_t{b[2]} << 8 | b[3];
}

// Reads the header words; `words` counts the magic plus the dimensions.
std::vector<std::uint32_t> read_header(IdxSource& src, int words, std::uint32_t magic, const char* what) {
  const std::string& path = src.path();
  if (src.file_length() == 0) throw DataError(path + ": empty file, expected IDX " + what);
  unsigned char raw[16];
  const std::uint64_t got = src.read(raw, 4u * words);
  if (got < 4u * words)
    throw DataError(path + ": truncated IDX header (" + std::to_string(got) + " bytes, need " +
                    std::to_string(4 * words) + ")");
  std::vector<std::uint32_t> h(words);
  for (int i = 0; i < words; ++i) h[i] = big_endian(raw + 4 * i);
  if (h[0] != magic)
    throw DataError(path + ": wrong magic number " + std::to_string(h[0]) + " (expected " + std::to_string(magic) +
                    " for IDX " + what + ")");
  return h;
}

// Appends exactly `payload` bytes to `out`, checking the claim against the file before any
// large allocation: a plain file's length must match exactly; a gzip file must be able to hold
// it, and is read in steps so that a false claim fails when the data runs out.
template <class Bytes>  // a std::vector of bytes, with any allocator
void read_payload(IdxSource& src, std::uint64_t header, std::uint64_t payload, const std::string& claim, Bytes& out) {
  const std::string& path = src.path();
  auto mismatch = [&](const std::string& actual) {
    return DataError(path + ": header claims " + claim + " (" + std::to_string(header + payload) + " bytes) but " +
                     actual);
  };
  if (!src.gzip() && src.file_length() != header + payload)
    throw mismatch("the file has " + std::to_string(src.file_length()) + " bytes");
  if (src.gzip() && payload > src.file_length() * kMaxDeflateRatio)
    throw mismatch("a gzip file of " + std::to_string(src.file_length()) + " bytes cannot hold that much");
  // gzip's trailer holds the data's size mod 2^32: a claim it contradicts (or bytes appended
  // after the stream, which end the file in something other than the trailer) is refused
  // before anything is decompressed.
  if (src.gzip())
    if (const std::optional<std::uint32_t> isize = gzip_trailer_size(path);
        isize && *isize != static_cast<std::uint32_t>(header + payload))
      throw mismatch("its gzip trailer gives the data as " + std::to_string(*isize) +
                     " bytes (mod 2^32): a false header, or data after the gzip stream");
  const std::size_t start = out.size();
  std::uint64_t done = 0;
  while (done < payload) {
    const std::uint64_t step = std::min(kReadStep, payload - done);
    out.resize(start + done + step);
    const std::uint64_t got = src.read(out.data() + start + done, step);
    done += got;
    if (got < step) throw mismatch("the data ends after " + std::to_string(header + done) + " bytes");
  }
  unsigned char extra;
  if (src.gzip() && src.read(&extra, 1) != 0) throw mismatch("the data goes on past that");
}

// `count` rows of `values` big-endian float32 values each, appended to `out`; every one finite.
template <class Floats>
void read_float_rows(IdxSource& src, std::uint64_t header, std::uint64_t count, std::uint64_t values, Floats& out) {
  std::vector<std::uint8_t> raw;
  read_payload(src, header, 4 * count * values,
               std::to_string(count) + " rows of " + std::to_string(values) + " float32 values", raw);
  const std::size_t start = out.size();
  out.resize(start + raw.size() / 4);
  for (std::size_t i = 0; i < raw.size() / 4; ++i) {
    const std::uint32_t bits = big_endian(raw.data() + 4 * i);
    float v;
    std::memcpy(&v, &bits, sizeof v);
    if (!std::isfinite(v))
      throw DataError(src.path() + ": value " + std::to_string(i % values) + " of example " +
                      std::to_string(i / values) + " is not a finite number");
    out[start + i] = v;
  }
}

}  // namespace

IdxShape append_idx_images(const std::string& path, AlignedVector<std::uint8_t>& pixels) {
  IdxSource src(path);
  auto h = read_header(src, 4, kIdxImagesMagic, "images");
  IdxShape shape{h[1], h[2], h[3]};
  if (shape.rows == 0 || shape.cols == 0)
    throw DataError(path + ": image dimensions " + std::to_string(shape.rows) + "x" + std::to_string(shape.cols) +
                    " must be positive");
  // 32-bit factors: the product fits in 64 bits, so this check cannot overflow.
  std::uint64_t image_bytes = std::uint64_t{shape.rows} * shape.cols;
  if (image_bytes > (1u << 24))
    throw DataError(path + ": image of " + std::to_string(image_bytes) + " pixels is too large");
  read_payload(
      src, 16, shape.count * image_bytes,
      std::to_string(shape.count) + " images of " + std::to_string(shape.rows) + "x" + std::to_string(shape.cols),
      pixels);
  return shape;
}

IdxInputs append_idx_inputs(const std::string& path, AlignedVector<std::uint8_t>& pixels,
                            AlignedVector<float>& features) {
  std::uint32_t magic = 0;
  {
    IdxSource probe(path);
    unsigned char raw[4];
    if (probe.read(raw, 4) == 4) magic = big_endian(raw);
  }
  if (magic != kIdxFloatRowsMagic && magic != kIdxFloatImagesMagic) {
    IdxInputs in;
    static_cast<IdxShape&>(in) = append_idx_images(path, pixels);  // names any other magic
    return in;
  }
  IdxSource src(path);
  const int dims = magic == kIdxFloatRowsMagic ? 2 : 3;
  auto h = read_header(src, dims + 1, magic, "float32 inputs");
  IdxInputs in;
  in.floats = true;
  in.count = h[1];
  in.rows = h[2];
  in.cols = dims == 3 ? h[3] : 1;
  const std::uint64_t values = std::uint64_t{in.rows} * in.cols;
  if (values == 0 || values > (1u << 24))
    throw DataError(path + ": " + std::to_string(values) + " values an example: must be 1 to 16777216");
  read_float_rows(src, 4u * (dims + 1), in.count, values, features);
  return in;
}

std::vector<float> read_idx_targets(const std::string& path, std::uint32_t& count, std::uint32_t& per_example) {
  std::uint32_t magic = 0;
  {
    IdxSource probe(path);
    unsigned char raw[4];
    if (probe.read(raw, 4) == 4) magic = big_endian(raw);
  }
  IdxSource src(path);
  const int dims = magic == kIdxFloatRowsMagic ? 2 : 1;
  auto h = read_header(src, dims + 1, dims == 2 ? kIdxFloatRowsMagic : kIdxFloatValuesMagic, "float32 targets");
  count = h[1];
  per_example = dims == 2 ? h[2] : 1;
  if (per_example == 0 || per_example > kMaxClasses)
    throw DataError(path + ": " + std::to_string(per_example) + " targets an example: must be 1 to " +
                    std::to_string(kMaxClasses));
  std::vector<float> targets;
  read_float_rows(src, 4u * (dims + 1), count, per_example, targets);
  return targets;
}

std::uint64_t idx_size_hint(const std::string& path) {
  std::error_code ec;
  const std::uint64_t size = fs::file_size(path, ec);
  if (ec || size < 18) return 0;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return 0;
  unsigned char head[2] = {0, 0};
  const bool gzip = std::fread(head, 1, 2, f) == 2 && head[0] == 0x1f && head[1] == 0x8b;
  std::fclose(f);
  if (!gzip) return size;
  // A hint, bounded by what deflate can hold; read_payload checks the claim against it.
  return std::min<std::uint64_t>(gzip_trailer_size(path).value_or(0), size * kMaxDeflateRatio);
}

IdxImages read_idx_images(const std::string& path) {
  IdxImages out;
  static_cast<IdxShape&>(out) = append_idx_images(path, out.pixels);
  return out;
}

std::vector<std::uint8_t> read_idx_labels(const std::string& path, int classes) {
  IdxSource src(path);
  auto h = read_header(src, 2, kIdxLabelsMagic, "labels");
  std::vector<std::uint8_t> labels;
  read_payload(src, 8, h[1], std::to_string(h[1]) + " labels", labels);
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (labels[i] >= classes)
      throw DataError(path + ": label " + std::to_string(labels[i]) + " at index " + std::to_string(i) +
                      " is outside 0-" + std::to_string(classes - 1));
  return labels;
}

}  // namespace ptrain
