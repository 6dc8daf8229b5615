#pragma once
// PGM images (netpbm grey maps), plain (P2) and raw (P5), for `ptrain predict`.
#include <cstdint>
#include <string>
#include <vector>

#include "ptrain/core/aligned.hpp"

namespace ptrain {

struct GreyImage {
  int width = 0, height = 0;
  AlignedVector<std::uint8_t> pixels;  // row-major, scaled to 0–255 whatever the file's maxval (a Dataset's type)
};

// Throws DataError naming the file and what is wrong with it.
GreyImage read_pgm(const std::string& path);
GreyImage decode_pgm(const std::string& bytes, const std::string& name);

}  // namespace ptrain
