#pragma once
// IDX files (the MNIST container): a big-endian header, then raw unsigned bytes; plain or
// gzip-compressed. Every reader validates before it allocates, and throws DataError naming the
// file.
#include <cstdint>
#include <string>
#include <vector>

#include "ptrain/core/aligned.hpp"

namespace ptrain {

inline constexpr std::uint32_t kIdxImagesMagic = 2051;         // 0x00000803: ubyte, 3 dimensions
inline constexpr std::uint32_t kIdxLabelsMagic = 2049;         // 0x00000801: ubyte, 1 dimension
inline constexpr std::uint32_t kIdxFloatValuesMagic = 0x0D01;  // float32, 1 dimension: N (one target each)
inline constexpr std::uint32_t kIdxFloatRowsMagic = 0x0D02;    // float32 (big-endian), 2 dimensions: N × features
inline constexpr std::uint32_t kIdxFloatImagesMagic = 0x0D03;  // float32, 3 dimensions: N × rows × columns

struct IdxShape {
  std::uint32_t count = 0, rows = 0, cols = 0;
};

struct IdxImages : IdxShape {
  AlignedVector<std::uint8_t> pixels;  // count × rows × cols
};

// Appends the file's pixels to `pixels` and returns its header. Several files land in one
// buffer without a copy when its capacity is reserved first.
IdxShape append_idx_images(const std::string& path, AlignedVector<std::uint8_t>& pixels);

IdxImages read_idx_images(const std::string& path);

// An IDX inputs file of either kind: unsigned-byte images (0x0803) appended to `pixels`, or
// float32 rows (0x0D02, N × F, read as F×1 images) or images (0x0D03) appended to `features`;
// `floats` says which. A float that is not finite is refused with its index.
struct IdxInputs : IdxShape {
  bool floats = false;
};
IdxInputs append_idx_inputs(const std::string& path, AlignedVector<std::uint8_t>& pixels,
                            AlignedVector<float>& features);

// About how many bytes the file holds once decompressed: a capacity hint, never trusted.
std::uint64_t idx_size_hint(const std::string& path);

// Regression targets: float32 values (0x0D01, N: one each) or rows (0x0D02, N × T: T each),
// every one finite; `count` and `per_example` get N and T.
std::vector<float> read_idx_targets(const std::string& path, std::uint32_t& count, std::uint32_t& per_example);

// Labels must be below `classes`.
std::vector<std::uint8_t> read_idx_labels(const std::string& path, int classes);

}  // namespace ptrain
