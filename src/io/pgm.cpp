#include "ptrain/io/pgm.hpp"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "ptrain/core/errors.hpp"
#include "ptrain/io/file_checks.hpp"

namespace ptrain {
namespace {

constexpr std::uint64_t kMaxPixels = 1u << 24;

class Reader {
 public:
  Reader(const std::string& bytes, const std::string& name) : b_(bytes), name_(name) {}

  // The next header or plain-pixel number; '#' starts a comment up to the end of the line.
  std::uint64_t number(const char* what) {
    skip_space_and_comments();
    std::uint64_t v = 0;
    std::size_t start = pos_;
    while (pos_ < b_.size() && std::isdigit(static_cast<unsigned char>(b_[pos_]))) {
      v = v * 10 + static_cast<unsigned>(b_[pos_++] - '0');
      if (v > 1'000'000'000) fail(std::string(what) + " is too large");
    }
    if (pos_ == start)
      fail(pos_ >= b_.size() ? std::string("ends before its ") + what : std::string("expected ") + what);
    return v;
  }
  void skip_space_and_comments() {
    while (pos_ < b_.size()) {
      if (b_[pos_] == '#')
        while (pos_ < b_.size() && b_[pos_] != '\n') ++pos_;
      else if (std::isspace(static_cast<unsigned char>(b_[pos_])))
        ++pos_;
      else
        break;
    }
  }
  [[noreturn]] void fail(const std::string& problem) const { throw DataError(name_ + ": " + problem); }

  const std::string& b_;
  const std::string& name_;
  std::size_t pos_ = 0;
};

}  // namespace

GreyImage decode_pgm(const std::string& bytes, const std::string& name) {
  Reader r(bytes, name);
  if (bytes.size() < 2 || bytes[0] != 'P' || (bytes[1] != '2' && bytes[1] != '5'))
    r.fail("not a PGM image (expected the magic P2 or P5)");
  const bool raw = bytes[1] == '5';
  r.pos_ = 2;
  GreyImage img;
  const std::uint64_t w = r.number("width"), h = r.number("height"), maxval = r.number("maxval");
  if (w == 0 || h == 0 || w * h > kMaxPixels)
    r.fail("size " + std::to_string(w) + "x" + std::to_string(h) + " is not usable");
  if (maxval == 0 || maxval > 65535) r.fail("maxval " + std::to_string(maxval) + " must be between 1 and 65535");
  img.width = static_cast<int>(w);
  img.height = static_cast<int>(h);
  img.pixels.resize(w * h);
  auto scaled = [&](std::uint64_t v) {
    if (v > maxval) r.fail("pixel value " + std::to_string(v) + " exceeds maxval " + std::to_string(maxval));
    return static_cast<std::uint8_t>((v * 255 + maxval / 2) / maxval);
  };
  if (raw) {
    if (r.pos_ >= bytes.size() || !std::isspace(static_cast<unsigned char>(bytes[r.pos_])))
      r.fail("expected one whitespace character before the pixels");
    ++r.pos_;
    const std::uint64_t width = maxval < 256 ? 1 : 2;
    const std::uint64_t need = w * h * width;
    if (bytes.size() - r.pos_ < need)
      r.fail("truncated: " + std::to_string(bytes.size() - r.pos_) + " bytes of pixels, " + std::to_string(need) +
             " expected");
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + r.pos_);
    for (std::uint64_t i = 0; i < w * h; ++i)
      img.pixels[i] = scaled(width == 1 ? p[i] : (std::uint64_t{p[2 * i]} << 8 | p[2 * i + 1]));
    r.pos_ += need;
  } else {
    for (std::uint64_t i = 0; i < w * h; ++i) img.pixels[i] = scaled(r.number("pixel value"));
  }
  r.skip_space_and_comments();
  if (r.pos_ != bytes.size()) r.fail("unexpected data after the pixels");
  return img;
}

GreyImage read_pgm(const std::string& path) {
  if (const std::string problem = input_problem(path); !problem.empty()) throw DataError(path + ": " + problem);
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size > 64u << 20) throw DataError(path + ": unreadable or too large for a PGM image");
  std::ifstream in(path, std::ios::binary);
  std::string bytes(size, '\0');
  if (!in || !in.read(bytes.data(), static_cast<std::streamsize>(size)))
    throw DataError(path + ": cannot read: " + std::strerror(errno));
  return decode_pgm(bytes, path);
}

}  // namespace ptrain
