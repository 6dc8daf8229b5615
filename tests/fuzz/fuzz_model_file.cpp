// libFuzzer target: the safetensors model-file reader on arbitrary bytes. Anything but a model
// or a DataError is a bug.
#include <cstdint>
#include <string>

#include "ptrain/core/errors.hpp"
#include "ptrain/io/model_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    ptrain::decode_model_file(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
  } catch (const ptrain::DataError&) {
  }
  return 0;
}
