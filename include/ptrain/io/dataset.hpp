#pragma once
// Images kept as bytes (55 MB for all of MNIST) and converted to floats per chunk, plus the
// index lists that split them into train, validation and test sets.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ptrain/core/aligned.hpp"
#include "ptrain/core/prefetch.hpp"
#include "ptrain/io/csv.hpp"
#include "ptrain/io/idx.hpp"
#include "ptrain/io/npz.hpp"

namespace ptrain {

// An example's inputs are either bytes (pixels, scaled by the net's input_scale as they are
// read) or floats (features, used as they are: any scaling was applied when they were loaded).
// Both on huge pages where they fill one (AlignedVector): a batch draws its examples from all
// over the set, on 4 KiB pages a TLB miss each (ptrain --profile's forward phase shows it).
//
// A regression's examples have real-valued targets (target_count of them each) and labels of 0:
// the labels still count the examples and group them (one group), so splits and indices work
// alike for both tasks.
struct Dataset {
  AlignedVector<std::uint8_t> pixels;  // size() × image_size, when !float_inputs
  AlignedVector<float> features;       // size() × image_size, when float_inputs
  std::vector<std::uint8_t> labels;
  std::vector<float> targets;  // size() × target_count, for regression
  int target_count = 0;        // 0: classification
  int image_size = 0;          // inputs per example
  bool float_inputs = false;
  // Or the examples where a caller keeps them (a NumPy array), read in place: the caller keeps
  // them alive and unchanged while the data set is used; pixels and features then stay empty.
  const std::uint8_t* pixel_view = nullptr;
  const float* feature_view = nullptr;
  const float* target_view = nullptr;
  // Or float features as a CSR matrix the caller keeps (SciPy's): example i's non-zeros are
  // sparse_values[k] at column sparse_columns[k], k in [sparse_offsets[i], sparse_offsets[i + 1]).
  // Never densified whole: the engines densify a batch's rows as they read them (dense_row).
  const float* sparse_values = nullptr;
  const std::int32_t* sparse_columns = nullptr;
  const std::int64_t* sparse_offsets = nullptr;

  std::size_t size() const { return labels.size(); }
  bool sparse() const { return sparse_offsets != nullptr; }
  // Example i's features into out[0, image_size): zeros, plus each stored entry (a column stored
  // twice is summed, as SciPy reads it).
  void dense_row(std::size_t i, float* out) const {
    std::fill(out, out + image_size, 0.0f);
    for (std::int64_t k = sparse_offsets[i]; k < sparse_offsets[i + 1]; ++k) out[sparse_columns[k]] += sparse_values[k];
  }
  const std::uint8_t* image(std::size_t i) const {
    return (pixel_view ? pixel_view : pixels.data()) + i * static_cast<std::size_t>(image_size);
  }
  const float* row(std::size_t i) const {
    return (feature_view ? feature_view : features.data()) + i * static_cast<std::size_t>(image_size);
  }
  const float* target(std::size_t i) const {
    return (target_view ? target_view : targets.data()) + i * static_cast<std::size_t>(target_count);
  }

  // Asks for the images' cache lines (into L2) without waiting: called a step ahead, their
  // memory latency hides behind that step's arithmetic.
  void prefetch(std::span<const std::uint32_t> examples) const {
    if (image_size <= 0 || sparse()) return;  // a sparse row is read in order when densified
    const std::size_t bytes = std::size_t(image_size) * (float_inputs ? sizeof(float) : 1);
    for (std::uint32_t e : examples)
      prefetch_bytes<2>(float_inputs ? static_cast<const void*>(row(e)) : static_cast<const void*>(image(e)), bytes);
  }
};

// IDX pairs by role: the training file's images come first, then the test file's, then the
// validation file's (the last two may be absent).
struct MnistData {
  Dataset all;
  LabelCoding coding;  // whole-number labels, or the classes' names (CSV labels that are text)
  std::size_t train_file_count = 0;
  std::size_t test_file_count = 0;
  std::size_t val_file_count = 0;
  std::uint32_t rows = 0, cols = 0;       // each image's shape
  std::vector<std::string> notes;         // warnings from the readers, for the run to print
  std::vector<std::string> target_names;  // regression: the targets' names, when the training file names them
};

// How the data files are read beyond their formats: a CSV's header and label column, an .npz's
// arrays ("{role}" in a name becomes train, test or validation's "val"; empty: by role, as
// npz_keys_for says). A model records them, so eval, predict and resume read alike.
// A regression reads real-valued targets where a classification reads labels: a CSV's target
// columns (csv.target_columns), an .npz's labels array, or a targets file.
struct ReadFormat {
  CsvFormat csv;
  NpzKeys npz_keys;
  Task task = Task::classification;
  bool regression() const { return task == Task::regression; }
};

// Where a run's data comes from: files by role. Either a folder with MNIST's four names
// (`folder` set), or files named one by one (--train, --test, --val): an IDX or .npy features
// file with its labels file beside it, or a CSV or .npz file holding both (its labels "file"
// is then the same file).
struct DataFiles {
  std::string folder;
  std::string train_images, train_labels, test_images, test_labels, val_images, val_labels;
  ReadFormat format;
  std::string train_role = "train";  // the role whose .npz arrays the first file gives ("test" for eval --test)
  std::string name() const { return folder.empty() ? train_images : folder; }  // for messages
  std::string describe() const;  // the folder, or "FILE (train), FILE (test), FILE (validation)"
};

DataFiles mnist_folder_files(const std::string& dir);

// A features file's inputs appended to `d` (pixels or features), for prediction: IDX (bytes or
// float32), .npy or .npz (told apart by their magic bytes), CSV (by its name; a label column
// there is skipped, and none need be there). `expect_features` (0: any) is the model's inputs.
// `csv_labels` says whether a CSV's label (or target) columns may be there (skipped unread) or
// are not (a features file whose targets are in a file of their own).
IdxInputs append_inputs(const std::string& path, Dataset& d, const ReadFormat& format, std::uint64_t expect_features,
                        CsvLabels csv_labels = CsvLabels::ignored);

// Files named by role; each IDX or .npy labels file is found beside its features file by name
// (EMNIST's and MNIST's convention: "images" → "labels", "idx3" → "idx1"; NumPy's: x → y), a
// DataError when it cannot be named.
// A regression's targets files by role (--train-targets, …), when they are not the features'
// files or beside them; empty: found as labels are.
struct RoleTargets {
  std::string train, test, val;
};
DataFiles role_files(const std::string& train, const std::string& test, const std::string& val,
                     const ReadFormat& format = {}, const RoleTargets& targets = {});

// Reads every pair; labels must be below `classes`; every features file must have one shape.
// `coding` is a model's, when it brings one; else the training file decides it.
MnistData load_data_files(const DataFiles& files, int classes, const LabelCoding& coding = {});

// The files in `files` that a run reads, labels included (for the input/output path checks).
std::vector<std::string> listed_files(const DataFiles& files);

// What a model file records of its data, to know it again: the folder as given (or the files
// by role: "data_train", "data_test", "data_val"), the images' counts and shape, and a hash of
// every label ("data_dir", "data_images", "data_labels_hash"), and the shape a predicted image
// must have ("image_shape", rows x columns).
// Also how they were read ("csv_header", "csv_label_column", "npz_keys") and, for labels that
// were names, the classes' names ("class_names", a JSON array).
std::map<std::string, std::string> data_metadata(const MnistData& data, const DataFiles& files);
// The files a model's metadata records (empty when it recorded none), and how they were read.
DataFiles recorded_files(const std::map<std::string, std::string>& metadata);
ReadFormat recorded_format(const std::map<std::string, std::string>& metadata);
// A JSON array of percent-encoded names a model records under `key` (empty when absent); a
// DataError naming `path` when malformed.
std::vector<std::string> recorded_names(const std::map<std::string, std::string>& metadata, const std::string& key,
                                        const std::string& path);
// Class names as a JSON array, each percent-encoded (name_encoding.hpp): what model files and
// JSON reports hold.
nlohmann::json encoded_names(const std::vector<std::string>& names);
// "FEATURES,LABELS" (--npz-keys); a UsageError when it is not two names.
NpzKeys parse_npz_keys(const std::string& text);
// The classes' names a model records (decided: whole numbers when it records none); a
// DataError naming `path` when they are malformed.
LabelCoding recorded_coding(const std::map<std::string, std::string>& metadata, const std::string& path);

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
