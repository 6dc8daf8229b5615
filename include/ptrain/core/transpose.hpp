#pragma once
// Matrices transposed in 16 × 16 blocks: each cache line written is filled while it is in L1
// (row by row, every element written would go to another line).
#include <algorithm>
#include <cstddef>

namespace ptrain {

// dst[c·dst_stride + r] = row(r)[c] for rows [r_begin, r_end) and columns [0, cols), where
// row(r) points at row r (a matrix's, or one image's bytes among a batch's).
template <class Row, class T>
void transpose_rows(Row&& row, int r_begin, int r_end, int cols, T* dst, std::size_t dst_stride) {
  constexpr int kBlock = 16;
  for (int r0 = r_begin; r0 < r_end; r0 += kBlock)
    for (int c0 = 0; c0 < cols; c0 += kBlock)
      for (int c = c0; c < std::min(cols, c0 + kBlock); ++c)
        for (int r = r0; r < std::min(r_end, r0 + kBlock); ++r) dst[std::size_t(c) * dst_stride + r] = row(r)[c];
}

// dst[c][r] = src[r][c] for a rows × cols row-major matrix.
template <class T>
void transpose(const T* src, int rows, int cols, T* dst) {
  transpose_rows([src, cols](int r) { return src + std::size_t(r) * cols; }, 0, rows, cols, dst, std::size_t(rows));
}

}  // namespace ptrain
