// libFuzzer target: the .npy reader on arbitrary bytes: the header parsed, every value read as
// features and as labels would be. Anything but a result or a DataError is a bug.
#include <cstdint>
#include <string_view>

#include "ptrain/core/errors.hpp"
#include "ptrain/io/npy.hpp"

// Every value read lands here, so that the reads cannot be optimised away.
double fuzz_npy_sum = 0;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const ptrain::NpyArray a = ptrain::decode_npy(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
    for (std::uint64_t i = 0; i < a.count(); ++i) fuzz_npy_sum += a.value(i);
  } catch (const ptrain::DataError&) {
  }
  return 0;
}
