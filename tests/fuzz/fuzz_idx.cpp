// libFuzzer target: the IDX reader (plain and gzip) on arbitrary bytes. Each input is written
// to a file (the readers take paths) and read as images and as labels: anything but a result
// or a DataError — a crash, a leak, a sanitizer report, a huge allocation — is a bug.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "ptrain/core/errors.hpp"
#include "ptrain/io/idx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = "/tmp/ptrain-fuzz-idx-" + std::to_string(getpid());
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    ptrain::read_idx_images(path);
  } catch (const ptrain::DataError&) {
  }
  try {
    ptrain::read_idx_labels(path, 10);
  } catch (const ptrain::DataError&) {
  }
  try {
    ptrain::AlignedVector<std::uint8_t> pixels;
    ptrain::AlignedVector<float> features;
    ptrain::append_idx_inputs(path, pixels, features);
  } catch (const ptrain::DataError&) {
  }
  return 0;
}
