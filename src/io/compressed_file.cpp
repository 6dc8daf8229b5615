#include "ptrain/io/compressed_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "ptrain/core/errors.hpp"

namespace ptrain {
namespace {

constexpr std::size_t kRawChunk = std::size_t{1} << 17;
constexpr int kGzipOnly = 16 + MAX_WBITS;  // zlib: a gzip header and trailer, not zlib's own

}  // namespace

CompressedFile::CompressedFile(const std::string& path) : path_(path), in_(kRawChunk) {
  file_ = std::fopen(path.c_str(), "rb");
  if (!file_) throw DataError(path + ": cannot be opened: " + std::strerror(errno));
  if (!fill()) return;  // empty: no data
  gzip_ = z_.avail_in >= 2 && z_.next_in[0] == 0x1f && z_.next_in[1] == 0x8b;
  if (gzip_ && inflateInit2(&z_, kGzipOnly) != Z_OK) throw DataError(path + ": zlib could not start");
  in_member_ = gzip_;
}

CompressedFile::~CompressedFile() {
  if (gzip_) inflateEnd(&z_);
  if (file_) std::fclose(file_);
}

bool CompressedFile::fill() {
  if (z_.avail_in > 0) return true;
  const std::size_t got = std::fread(in_.data(), 1, in_.size(), file_);
  if (got == 0 && std::ferror(file_)) throw DataError(path_ + ": read failed: " + std::strerror(errno));
  raw_read_ += got;
  z_.next_in = in_.data();
  z_.avail_in = static_cast<uInt>(got);
  return got > 0;
}

// After a member's end: another member, the end of the file, or bytes that are not gzip data.
void CompressedFile::start_member_or_finish() {
  if (!fill()) {
    done_ = true;
    return;
  }
  if (z_.next_in[0] == 0x1f) {  // another member; inflate checks the rest of its header
    inflateReset(&z_);
    in_member_ = true;
    return;
  }
  std::uint64_t trailing = z_.avail_in;
  while (true) {
    z_.avail_in = 0;
    if (!fill()) break;
    trailing += z_.avail_in;
  }
  throw DataError(path_ + ": " + std::to_string(trailing) +
                  " bytes after the end of the gzip data that are not gzip data (a damaged or appended-to file)");
}

std::size_t CompressedFile::read(char* out, std::size_t n) {
  if (!gzip_) {
    std::size_t done = 0;
    while (done < n && fill()) {
      const std::size_t take = std::min<std::size_t>(n - done, z_.avail_in);
      std::memcpy(out + done, z_.next_in, take);
      z_.next_in += take;
      z_.avail_in -= static_cast<uInt>(take);
      done += take;
    }
    return done;
  }
  std::size_t done = 0;
  while (done < n && !done_) {
    if (!in_member_) {
      start_member_or_finish();
      continue;
    }
    if (!fill()) throw DataError(path_ + ": gzip data is truncated (the file ends inside it)");
    z_.next_out = reinterpret_cast<Bytef*>(out + done);
    z_.avail_out = static_cast<uInt>(std::min<std::size_t>(n - done, 1u << 30));
    const uInt before = z_.avail_out;
    const int rc = inflate(&z_, Z_NO_FLUSH);
    done += before - z_.avail_out;
    if (rc == Z_STREAM_END) in_member_ = false;
    if (rc == Z_STREAM_END || rc == Z_OK || (rc == Z_BUF_ERROR && z_.avail_in == 0)) continue;  // or more input
    throw DataError(path_ + ": gzip data is corrupt (" + (z_.msg ? z_.msg : "zlib error") + ")");
  }
  return done;
}

}  // namespace ptrain
