#include "ptrain/idx.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "ptrain/errors.hpp"

namespace ptrain {
namespace {

namespace fs = std::filesystem;

// Opens `path` as a regular file and returns its length; every failure names the file.
std::ifstream open_checked(const std::string& path, std::uint64_t& length) {
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) throw DataError(path + ": file not found");
  if (fs::is_directory(st)) throw DataError(path + ": is a folder, expected an IDX file");
  if (!fs::is_regular_file(st)) throw DataError(path + ": not a regular file");
  length = fs::file_size(path, ec);
  if (ec) throw DataError(path + ": cannot read its size: " + ec.message());
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot open: " + std::strerror(errno));
  return in;
}

std::uint32_t big_endian(const unsigned char* b) {
  return std::uint32_t{b[0]} << 24 | std::uint32_t{b[1]} << 16 | std::uint32_t{b[2]} << 8 | b[3];
}

void read_exact(std::ifstream& in, void* dst, std::uint64_t n, const std::string& path) {
  in.read(static_cast<char*>(dst), static_cast<std::streamsize>(n));
  if (static_cast<std::uint64_t>(in.gcount()) != n) throw DataError(path + ": read failed (file truncated or unreadable)");
}

// Reads the header words; `words` counts the magic plus the dimensions.
std::vector<std::uint32_t> read_header(std::ifstream& in, std::uint64_t length, int words, std::uint32_t magic,
                                       const char* what, const std::string& path) {
  if (length == 0) throw DataError(path + ": empty file, expected IDX " + what);
  if (length < 4u * words)
    throw DataError(path + ": truncated IDX header (" + std::to_string(length) + " bytes, need " +
                    std::to_string(4 * words) + ")");
  std::vector<unsigned char> raw(4u * words);
  read_exact(in, raw.data(), raw.size(), path);
  std::vector<std::uint32_t> h(words);
  for (int i = 0; i < words; ++i) h[i] = big_endian(raw.data() + 4 * i);
  if (h[0] != magic)
    throw DataError(path + ": wrong magic number " + std::to_string(h[0]) + " (expected " + std::to_string(magic) +
                    " for IDX " + what + ")");
  return h;
}

void check_length(std::uint64_t length, std::uint64_t header, std::uint64_t payload, const std::string& path,
                  const std::string& claim) {
  if (length != header + payload)
    throw DataError(path + ": header claims " + claim + " (" + std::to_string(header + payload) +
                    " bytes) but the file has " + std::to_string(length) + " bytes");
}

}  // namespace

IdxShape append_idx_images(const std::string& path, std::vector<std::uint8_t>& pixels) {
  std::uint64_t length = 0;
  std::ifstream in = open_checked(path, length);
  auto h = read_header(in, length, 4, kIdxImagesMagic, "images", path);
  IdxShape shape{h[1], h[2], h[3]};
  if (shape.rows == 0 || shape.cols == 0)
    throw DataError(path + ": image dimensions " + std::to_string(shape.rows) + "x" + std::to_string(shape.cols) +
                    " must be positive");
  // 32-bit factors: the product fits in 64 bits, so this check cannot overflow.
  std::uint64_t image_bytes = std::uint64_t{shape.rows} * shape.cols;
  if (image_bytes > (1u << 24)) throw DataError(path + ": image of " + std::to_string(image_bytes) + " pixels is too large");
  check_length(length, 16, shape.count * image_bytes, path,
               std::to_string(shape.count) + " images of " + std::to_string(shape.rows) + "x" + std::to_string(shape.cols));
  const std::size_t start = pixels.size();
  pixels.resize(start + shape.count * image_bytes);
  read_exact(in, pixels.data() + start, shape.count * image_bytes, path);
  return shape;
}

IdxImages read_idx_images(const std::string& path) {
  IdxImages out;
  static_cast<IdxShape&>(out) = append_idx_images(path, out.pixels);
  return out;
}

std::vector<std::uint8_t> read_idx_labels(const std::string& path, int classes) {
  std::uint64_t length = 0;
  std::ifstream in = open_checked(path, length);
  auto h = read_header(in, length, 2, kIdxLabelsMagic, "labels", path);
  check_length(length, 8, h[1], path, std::to_string(h[1]) + " labels");
  std::vector<std::uint8_t> labels(h[1]);
  read_exact(in, labels.data(), labels.size(), path);
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (labels[i] >= classes)
      throw DataError(path + ": label " + std::to_string(labels[i]) + " at index " + std::to_string(i) +
                      " is outside 0-" + std::to_string(classes - 1));
  return labels;
}

}  // namespace ptrain
