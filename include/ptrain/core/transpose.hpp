#pragma once
// Matrices transposed in blocks (16 × 16; floats 8 × 8 in registers): each cache line written
// is filled while it is in L1 (row by row, every element written would go to another line).
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace ptrain {

// The side of a block; a caller cutting a transposition into shares cuts at multiples of it.
inline constexpr int kTransposeBlock = 16;

// dst[c·dst_stride + r] = row(r)[c] for rows [r_begin, r_end) and columns [c_begin, c_end),
// where row(r) points at row r (a matrix's, or one image's bytes among a batch's).
template <class Row, class T>
void transpose_rows(Row&& row, int r_begin, int r_end, int c_begin, int c_end, T* dst, std::size_t dst_stride) {
  constexpr int kBlock = kTransposeBlock;
  for (int r0 = r_begin; r0 < r_end; r0 += kBlock)
    for (int c0 = c_begin; c0 < c_end; c0 += kBlock)
      for (int c = c0; c < std::min(c_end, c0 + kBlock); ++c)
        for (int r = r0; r < std::min(r_end, r0 + kBlock); ++r) dst[std::size_t(c) * dst_stride + r] = row(r)[c];
}

#if defined(__AVX__)
// One 8 × 8 block of floats in AVX registers: pairs of rows interleaved, pairs of pairs
// shuffled, then the 128-bit halves swapped.
inline void transpose_8x8(const float* src, std::size_t src_stride, float* dst, std::size_t dst_stride) {
  __m256 r[8], t[8], s[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * src_stride);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    s[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    s[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    s[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    s[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    _mm256_storeu_ps(dst + i * dst_stride, _mm256_permute2f128_ps(s[i], s[i + 4], 0x20));
    _mm256_storeu_ps(dst + (i + 4) * dst_stride, _mm256_permute2f128_ps(s[i], s[i + 4], 0x31));
  }
}
#endif

// dst[c][r] = src[r][c] for a rows × cols row-major matrix. Floats go 8 × 8 through AVX
// registers where the build has AVX (ptrain's always do: they need FMA), 8 rows at a time
// along the longer side, each of the 8 read or written in order: 16 × 16 blocks thrash L1's
// sets when the other side's rows are 4 KiB apart (perf/bench_kernels transpose_floats, at the
// wide net's 128 × 1024 and back).
template <class T>
void transpose(const T* src, int rows, int cols, T* dst) {
  auto row = [src, cols](int r) { return src + std::size_t(r) * cols; };
  int whole_rows = 0, whole_cols = 0;
#if defined(__AVX__)
  if constexpr (std::is_same_v<T, float>) {
    whole_rows = rows / 8 * 8;
    whole_cols = cols / 8 * 8;
    auto block = [&](int r, int c) {
      transpose_8x8(row(r) + c, std::size_t(cols), dst + std::size_t(c) * rows + r, std::size_t(rows));
    };
    if (cols >= rows)
      for (int r = 0; r < whole_rows; r += 8)
        for (int c = 0; c < whole_cols; c += 8) block(r, c);
    else
      for (int c = 0; c < whole_cols; c += 8)
        for (int r = 0; r < whole_rows; r += 8) block(r, c);
  }
#endif
  transpose_rows(row, 0, whole_rows, whole_cols, cols, dst, std::size_t(rows));
  transpose_rows(row, whole_rows, rows, 0, cols, dst, std::size_t(rows));
}

// Bytes, as transpose_rows, in 16 × 16 blocks transposed in registers (SSE2: every x86-64).
// Four rounds each interleave register i with i + 8 byte by byte; each round rotates an
// element's 8-bit address (row, column) left by one, so four swap its row and column. 64
// unpacks a block where the loop above moved its 256 bytes one at a time (3 GB/s); the rows and
// columns past the last whole block go through that loop.
template <class Row>
void transpose_byte_rows(Row&& row, int r_begin, int r_end, int c_begin, int c_end, std::uint8_t* dst,
                         std::size_t dst_stride) {
  constexpr int kBlock = kTransposeBlock;
  const int whole_rows = r_begin + (r_end - r_begin) / kBlock * kBlock;
  const int whole_cols = c_begin + (c_end - c_begin) / kBlock * kBlock;
  for (int r0 = r_begin; r0 < whole_rows; r0 += kBlock)
    for (int c0 = c_begin; c0 < whole_cols; c0 += kBlock) {
      __m128i x[kBlock], y[kBlock];
      for (int r = 0; r < kBlock; ++r) x[r] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row(r0 + r) + c0));
      for (int round = 0; round < 4; ++round) {
        for (int i = 0; i < kBlock / 2; ++i) {
          y[2 * i] = _mm_unpacklo_epi8(x[i], x[i + kBlock / 2]);
          y[2 * i + 1] = _mm_unpackhi_epi8(x[i], x[i + kBlock / 2]);
        }
        std::copy_n(y, kBlock, x);
      }
      for (int c = 0; c < kBlock; ++c)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + std::size_t(c0 + c) * dst_stride + r0), x[c]);
    }
  transpose_rows(row, r_begin, whole_rows, whole_cols, c_end, dst, dst_stride);
  transpose_rows(row, whole_rows, r_end, c_begin, c_end, dst, dst_stride);
}

}  // namespace ptrain
