#pragma once
// A file read as plain bytes or, when it starts with gzip's magic (1f 8b), as the data its
// gzip members hold (concatenated members are one stream, as gzip -d reads them). zlib's gzread
// silently ignores bytes after the last member; here they are refused, naming how many, since
// a file with something appended is not the file the user thinks it is.
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace ptrain {

class CompressedFile {
 public:
  explicit CompressedFile(const std::string& path);  // DataError when it cannot be opened
  ~CompressedFile();
  CompressedFile(const CompressedFile&) = delete;
  CompressedFile& operator=(const CompressedFile&) = delete;

  // Up to n bytes of data; 0 only at its end. A DataError naming the file for corrupt or
  // truncated gzip data and for bytes after the last member.
  std::size_t read(char* out, std::size_t n);
  bool gzip() const { return gzip_; }
  std::uint64_t raw_bytes_read() const { return raw_read_; }  // of the file as stored (progress)

 private:
  bool fill();  // more raw bytes into in_; false at the end of the file
  void start_member_or_finish();

  std::string path_;
  std::FILE* file_ = nullptr;
  bool gzip_ = false, in_member_ = false, done_ = false;
  z_stream z_{};
  std::vector<unsigned char> in_;
  std::uint64_t raw_read_ = 0;
};

}  // namespace ptrain
