#pragma once
// NumPy's .npy files (format versions 1-3): a magic string, a header that is a Python dict
// literal ({'descr': '<f4', 'fortran_order': False, 'shape': (N, F), }), then the data in C
// order. Read here: little-endian (or byte-sized) float32, float64, unsigned and signed
// integers of 1, 2, 4 or 8 bytes. Refused, each with one line naming the file: Fortran order,
// big-endian data, object and other dtypes, a shape the data does not fill, and a header
// that is not such a dict. Every DataError names the file.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ptrain/core/aligned.hpp"

namespace ptrain {

struct NpyArray {
  std::vector<std::uint64_t> shape;
  char kind = 'f';                      // 'f' float, 'u' unsigned, 'i' signed
  int item_size = 4;                    // bytes
  std::string_view data;                // into the decoded buffer: product(shape) × item_size bytes
  std::uint64_t count() const;          // the product of the shape (1 for a 0-d array)
  double value(std::uint64_t i) const;  // element i, as a double
};

// Whether `bytes` start as a .npy file does.
bool is_npy(std::string_view bytes);

// Parses an in-memory .npy file; the array views `bytes`, which must outlive it.
NpyArray decode_npy(std::string_view bytes, const std::string& name);

// A file's bytes (refused when it is not a readable regular file).
std::string read_whole_file(const std::string& path);

// Features: a 2-D array N × F (or N × R × C, whose rows then have R·C values), as float32
// appended to `features`; every value finite. Returns {N, R, C} (C = 1 for 2-D).
struct NpyShape {
  std::uint64_t count = 0, rows = 0, cols = 0;
};
NpyShape append_npy_features(const std::string& path, AlignedVector<float>& features);
NpyShape append_npy_features(const NpyArray& a, const std::string& name, AlignedVector<float>& features);

// Labels: a 1-D array of whole numbers 0-255 (integers, or floats holding whole numbers), each
// below `classes`, as read_idx_labels requires.
std::vector<std::uint8_t> read_npy_labels(const std::string& path, int classes);
std::vector<std::uint8_t> npy_labels(const NpyArray& a, const std::string& name, int classes);

// Regression targets: a 1-D array (one target each) or N × T, of any dtype read here, each
// value a finite float32; `per_example` gets T.
std::vector<float> npy_targets(const NpyArray& a, const std::string& name, std::uint64_t& per_example);

}  // namespace ptrain
