#pragma once
// The float32 arithmetic of the parallel engine, as twins with one signature:
// `simd::` (xsimd; what the engine runs) and `plain::` (obvious loops; what the kernel tests
// and benchmarks compare against). A "chunk" holds K examples as K rows.
#include <cstddef>
#include <cstdint>
#include <string>

namespace ptrain::kernels {
namespace simd {
#include "ptrain/engine/kernel_signatures.inc"
const char* instruction_set();  // xsimd's name for what these kernels run, e.g. "avx512bw"
std::string library_version();  // "xsimd 8.1.0"
}
namespace plain {
#include "ptrain/engine/kernel_signatures.inc"
}
}  // namespace ptrain::kernels
