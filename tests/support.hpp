#pragma once
// Shared by the tests: synthetic data sets, IDX files written byte by byte, temporary
// folders, and the per-tensor comparison that names the tensor and the worst element.
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "ptrain/io/dataset.hpp"
#include "ptrain/core/network.hpp"
#include "ptrain/engine/parallel_engine.hpp"
#include <gtest/gtest.h>

namespace ptrain::test {

// `count` images of `image_size` pixels: each class has a random prototype, each image is its
// class's prototype plus noise, so a small net can learn it. Labels cycle through `classes`.
Dataset synthetic_dataset(std::size_t count, int image_size, int classes, std::uint64_t seed);
// The same examples as float features, (byte − 127.5) / 64: values in [−2, 2], as standardised
// features are.
Dataset as_float_features(Dataset d);
// The same examples as float features with `target_count` real-valued targets each, smooth
// functions of the features plus noise (labels become 0): a regression's data.
Dataset as_regression(Dataset d, int target_count, std::uint64_t seed);

std::vector<std::uint32_t> iota_indices(std::size_t n);

// Raw IDX bytes: header words big-endian, then the payload.
std::vector<std::uint8_t> idx_bytes(std::uint32_t magic, const std::vector<std::uint32_t>& dims,
                                    const std::vector<std::uint8_t>& payload);
void write_file(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes);
// A .npy file as the format's documentation describes it (version 1): the magic, the header
// dict padded with spaces to a multiple of 64 bytes and ended by a newline, then `data`.
std::vector<std::uint8_t> npy_bytes(const std::string& descr, const std::string& shape,
                                    const std::vector<std::uint8_t>& data, bool fortran = false);
// Values as little-endian bytes of their own type.
template <class T>
std::vector<std::uint8_t> le_bytes(const std::vector<T>& values) {
  std::vector<std::uint8_t> out(values.size() * sizeof(T));
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}
// float32 values as IDX stores them: big-endian, 4 bytes each.
std::vector<std::uint8_t> float_bytes(std::span<const float> values);
// Writes NAME-train-images / NAME-test-images (IDX float32 rows, N × features, magic 0x0D02)
// and their labels files beside them: `train` and `test` synthetic examples as float features.
void write_float_rows_set(const std::filesystem::path& dir, const std::string& name, std::size_t train,
                          std::size_t test, int features, int classes, std::uint64_t seed);
// The same examples as NumPy files: x_train.npy (<f4, N × features), y_train.npy (<i8), and
// x_test.npy, y_test.npy.
void write_npy_set(const std::filesystem::path& dir, std::size_t train, std::size_t test, int features, int classes,
                   std::uint64_t seed);
// A zip archive written by libzip, an entry NAME.npy for each array, stored or deflated (as
// np.savez and np.savez_compressed write them).
void write_npz(const std::filesystem::path& path,
               const std::vector<std::pair<std::string, std::vector<std::uint8_t>>>& arrays, bool deflate);
// The same examples in one .npz: x_train, y_train, x_test, y_test.
void write_npz_set(const std::filesystem::path& path, std::size_t train, std::size_t test, int features, int classes,
                   std::uint64_t seed, bool deflate);
// The same examples as CSV: NAME-train.csv and NAME-test.csv, a header row (f1, …, label), every
// value printed exactly (17 digits), the label last: its number, or label_names[label].
void write_csv_set(const std::filesystem::path& dir, const std::string& name, std::size_t train, std::size_t test,
                   int features, int classes, std::uint64_t seed, const std::vector<std::string>& label_names = {});

// Writes train-/t10k- images and labels (28×28, 10 classes unless given) for `train` and
// `test` synthetic images.
void write_fake_mnist(const std::filesystem::path& dir, std::size_t train, std::size_t test, std::uint64_t seed,
                      std::uint32_t rows = 28, std::uint32_t cols = 28, int classes = 10);

// Expects `read` to throw a DataError of one line that contains `fragment` (a reader's refusal).
void expect_data_error(const std::function<void()>& read, const std::string& fragment);

// A fresh folder under the system's temporary folder, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Names each canonical tensor ("layers.0.weight", …) with its span, for per-tensor checks.
struct TensorSpan {
  std::string name;
  std::size_t offset, size;
};
std::vector<TensorSpan> canonical_tensors(const std::vector<int>& sizes);

// Checks |got − want| ≤ atol·max|want| + rtol·|want| element by element, per tensor; on failure
// the message names the tensor, the worst index and both values.
::testing::AssertionResult tensors_close(const std::vector<int>& sizes, const std::vector<double>& got,
                                         const std::vector<double>& want, double atol, double rtol);

// The parallel engine's mean gradient of `batch` in canonical order, through its phases: the
// chunks, then the dense sum of their factored gradients. Adds the summed loss to *loss_sum.
std::vector<double> parallel_mean_gradient(ParallelEngine& engine, const Dataset& data, Indices batch,
                                           double* loss_sum);

}  // namespace ptrain::test
