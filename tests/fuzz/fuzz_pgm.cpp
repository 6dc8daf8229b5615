// libFuzzer target: the PGM reader of `ptrain predict` on arbitrary bytes.
#include <cstdint>
#include <string>

#include "ptrain/core/errors.hpp"
#include "ptrain/io/pgm.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    ptrain::decode_pgm(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
  } catch (const ptrain::DataError&) {
  }
  return 0;
}
