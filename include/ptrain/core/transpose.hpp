#pragma once
// A float matrix transposed in 16 × 16 blocks: each cache line written is filled while it is in
// L1 (row by row, every float written would go to another line).
#include <algorithm>
#include <cstddef>

namespace ptrain {

// dst[c][r] = src[r][c] for a rows × cols row-major matrix.
inline void transpose(const float* src, int rows, int cols, float* dst) {
  constexpr int kBlock = 16;
  for (int r0 = 0; r0 < rows; r0 += kBlock)
    for (int c0 = 0; c0 < cols; c0 += kBlock)
      for (int c = c0; c < std::min(cols, c0 + kBlock); ++c)
        for (int r = r0; r < std::min(rows, r0 + kBlock); ++r)
          dst[std::size_t(c) * rows + r] = src[std::size_t(r) * cols + c];
}

}  // namespace ptrain
