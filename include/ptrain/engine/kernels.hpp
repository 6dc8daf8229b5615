#pragma once
// The float32 arithmetic of the parallel engine, as twins with one signature:
// `simd::` (xsimd; what the engine runs) and `plain::` (obvious loops; what the kernel tests
// and benchmarks compare against). A "chunk" holds K examples as K rows.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace ptrain::kernels {

// A pixel byte's input value for each byte value, float(v)·scale: what a conversion pass would
// write, and what the `_pixels` kernels read bytes through (or compute in the lanes).
inline std::array<float, 256> pixel_table(float scale) {
  std::array<float, 256> table;
  for (int v = 0; v < 256; ++v) table[v] = static_cast<float>(v) * scale;
  return table;
}

// One Adam or AdamW step's constants, computed once a step (t is the step's number). From a
// parameter's gradient sum s: g = inv_batch·s, plus decay·w (Adam's L2; 0 for AdamW); w ←
// shrink·w (AdamW: 1 − lr·λ; else 1); m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²;
// w ← w − step_size·(m / (√v / root_bc2 + ε)), step_size = lr/(1−β₁ᵗ), root_bc2 = √(1−β₂ᵗ).
struct AdamStep {
  float inv_batch, beta1, one_minus_beta1, beta2, one_minus_beta2, step_size, root_bc2, eps, decay, shrink;
};

namespace simd {
#include "ptrain/engine/kernel_signatures.inc"
const char* instruction_set();  // xsimd's name for what these kernels run, e.g. "avx512bw"
int lanes();                    // floats in one of their vectors: 4, 8 or 16
// Rows a forward over `columns` columns runs in full tiles only when it gets a multiple of them.
int tile_rows(int columns);
std::string library_version();  // "xsimd 8.1.0"
}  // namespace simd
namespace plain {
#include "ptrain/engine/kernel_signatures.inc"
}
}  // namespace ptrain::kernels
