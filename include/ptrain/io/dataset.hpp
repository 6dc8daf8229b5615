#pragma once
// Images kept as bytes (55 MB for all of MNIST) and converted to floats per chunk, plus the
// index lists that split them into train, validation and test sets.
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "ptrain/core/aligned.hpp"
#include "ptrain/io/idx.hpp"

namespace ptrain {

// An example's inputs are either bytes (pixels, scaled by the net's input_scale as they are
// read) or floats (features, used as they are: any scaling was applied when they were loaded).
struct Dataset {
  std::vector<std::uint8_t> pixels;  // size() × image_size, when !float_inputs
  std::vector<float> features;       // size() × image_size, when float_inputs
  std::vector<std::uint8_t> labels;
  int image_size = 0;                // inputs per example
  bool float_inputs = false;

  std::size_t size() const { return labels.size(); }
  const std::uint8_t* image(std::size_t i) const { return pixels.data() + i * static_cast<std::size_t>(image_size); }
  const float* row(std::size_t i) const { return features.data() + i * static_cast<std::size_t>(image_size); }

  // Asks for the images' cache lines (into L2) without waiting: called a step ahead, their
  // memory latency hides behind that step's arithmetic. An image need not start on a line, so
  // its last byte is asked for too.
  void prefetch(std::span<const std::uint32_t> examples) const {
    if (image_size <= 0) return;
    const std::size_t bytes = std::size_t(image_size) * (float_inputs ? sizeof(float) : 1);
    for (std::uint32_t e : examples) {
      const char* p = float_inputs ? reinterpret_cast<const char*>(row(e)) : reinterpret_cast<const char*>(image(e));
      for (std::size_t i = 0; i < bytes; i += kCacheLine) __builtin_prefetch(p + i, 0, 2);
      __builtin_prefetch(p + bytes - 1, 0, 2);
    }
  }
};

// IDX pairs by role: the training file's images come first, then the test file's, then the
// validation file's (the last two may be absent).
struct MnistData {
  Dataset all;
  std::size_t train_file_count = 0;
  std::size_t test_file_count = 0;
  std::size_t val_file_count = 0;
  std::uint32_t rows = 0, cols = 0;  // each image's shape
};

// Where a run's data comes from: IDX image and label files by role. Either a folder with
// MNIST's four names (`folder` set), or files named one by one (--train, --test, --val), each
// images file with its labels file beside it.
struct DataFiles {
  std::string folder;
  std::string train_images, train_labels, test_images, test_labels, val_images, val_labels;
  std::string name() const { return folder.empty() ? train_images : folder; }  // for messages
  std::string describe() const;  // the folder, or "FILE (train), FILE (test), FILE (validation)"
};

DataFiles mnist_folder_files(const std::string& dir);

// A features file's inputs appended to `d` (pixels or features): IDX, bytes or float32, or
// NumPy .npy (float32 features), told apart by their magic bytes.
IdxInputs append_inputs(const std::string& path, Dataset& d);

// Files named by role; each labels file is found beside its images file by name (EMNIST's and
// MNIST's convention: "images" → "labels", "idx3" → "idx1"), a DataError when it is not there.
DataFiles role_files(const std::string& train, const std::string& test, const std::string& val);

// Reads every pair; labels must be below `classes`; every images file must have one shape.
MnistData load_data_files(const DataFiles& files, int classes);

// The files in `files` that a run reads, labels included (for the input/output path checks).
std::vector<std::string> listed_files(const DataFiles& files);

// What a model file records of its data, to know it again: the folder as given (or the files
// by role: "data_train", "data_test", "data_val"), the images' counts and shape, and a hash of
// every label ("data_dir", "data_images", "data_labels_hash"), and the shape a predicted image
// must have ("image_shape", rows x columns).
std::map<std::string, std::string> data_metadata(const MnistData& data, const DataFiles& files);
// The files a model's metadata records (empty when it recorded none).
DataFiles recorded_files(const std::map<std::string, std::string>& metadata);

// Where `recorded` (a model file's metadata) and `now` describe different data: "data_images
// 400+100 of 28x28 (the model's: 60000+10000 of 28x28)"; empty when they agree or the model
// recorded nothing.
std::string data_difference(const std::map<std::string, std::string>& recorded,
                            const std::map<std::string, std::string>& now);

// Reads train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
// t10k-labels-idx1-ubyte (or the '.idx3-ubyte' spellings) from `dir`.
MnistData load_mnist(const std::string& dir, int classes);


struct Split {
  std::vector<std::uint32_t> train, val, test;
};

// All images shuffled with the seed, then 70% train, 10% validation, 20% test.
Split seed_split(std::size_t total, std::uint64_t seed);

// The training file trains, its last `val_size` images validate, the test file tests; a
// validation file, when there is one, validates instead (val_size is then 0).
Split standard_split(const MnistData& data, std::size_t val_size);

}  // namespace ptrain
