#include "ptrain/io/dataset.hpp"

#include <filesystem>
#include <fstream>
#include <numeric>

#include "ptrain/core/errors.hpp"
#include "ptrain/io/idx.hpp"
#include "ptrain/io/npy.hpp"
#include "ptrain/core/network.hpp"
#include "ptrain/core/rng.hpp"

namespace ptrain {
namespace {

namespace fs = std::filesystem;

// Mirrors spell the names 'train-images-idx3-ubyte' or 'train-images.idx3-ubyte', and most ship
// them gzip-compressed with '.gz' added (the reader tells gzip by its magic bytes, not the name).
// Two spellings of one file present is refused: which one the user meant is not ours to guess.
std::string find_file(const std::string& dir, const std::string& stem, const std::string& kind) {
  std::string found;
  for (const std::string& name : {stem + "-" + kind, stem + "." + kind, stem + "-" + kind + ".gz", stem + "." + kind + ".gz"}) {
    fs::path p = fs::path(dir) / name;
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(p, ec))) continue;
    if (!found.empty())
      throw DataError(dir + ": both " + fs::path(found).filename().string() + " and " + name +
                      " are there; keep one of them");
    found = p.string();
  }
  return found.empty() ? (fs::path(dir) / (stem + "-" + kind)).string() : found;  // the reader reports it missing
}

// Appends one images/labels pair to `d`; returns the images' header.
// Whether the file starts as a .npy does (else it is read as IDX, whose reader names problems).
bool npy_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[6] = {};
  return in.read(head, 6) && is_npy(std::string_view(head, 6));
}

IdxShape append_pair(const std::string& image_path, const std::string& label_path, int classes, Dataset& d) {
  const bool first = d.labels.empty() && d.pixels.empty() && d.features.empty();
  const IdxInputs shape = append_inputs(image_path, d);
  if (!first && shape.floats != d.float_inputs)
    throw DataError(image_path + ": holds " + (shape.floats ? "float32 values" : "bytes") + " but the training file " +
                    (d.float_inputs ? "float32 values" : "bytes") + "; every file must hold one kind");
  d.float_inputs = shape.floats;
  std::vector<std::uint8_t> labels =
      npy_file(label_path) ? read_npy_labels(label_path, classes) : read_idx_labels(label_path, classes);
  if (shape.count != labels.size())
    throw DataError(image_path + ": holds " + std::to_string(shape.count) + " images but " + label_path + " holds " +
                    std::to_string(labels.size()) + " labels");
  d.labels.insert(d.labels.end(), labels.begin(), labels.end());
  return shape;
}

// The labels file beside a features file: the last "images" in its name becomes "labels" and
// "idx3" becomes "idx1" (train-images-idx3-ubyte → train-labels-idx1-ubyte); failing that, a
// leading x becomes y (NumPy's x_train.npy → y_train.npy).
std::string labels_beside(const std::string& images) {
  const fs::path path(images);
  std::string name = path.filename().string();
  const std::size_t at = name.rfind("images");
  if (at == std::string::npos && !name.empty() && (name[0] == 'x' || name[0] == 'X')) {
    name[0] = 'y';
    return (path.parent_path() / name).string();
  }
  if (at == std::string::npos)
    throw DataError(images + ": no labels file can be named after it (expected 'images' in the name, as in "
                    "train-images-idx3-ubyte, or a leading x, as in x_train.npy)");
  name.replace(at, 6, "labels");
  if (const std::size_t idx3 = name.find("idx3"); idx3 != std::string::npos) name.replace(idx3, 4, "idx1");
  return (path.parent_path() / name).string();
}

}  // namespace

// A features file's inputs: IDX (bytes or float32) or .npy (always float32 features).
IdxInputs append_inputs(const std::string& path, Dataset& d) {
  if (!npy_file(path)) return append_idx_inputs(path, d.pixels, d.features);
  const NpyShape s = append_npy_features(path, d.features);
  IdxInputs in;
  in.floats = true;
  in.count = static_cast<std::uint32_t>(s.count);
  in.rows = static_cast<std::uint32_t>(s.rows);
  in.cols = static_cast<std::uint32_t>(s.cols);
  if (s.count > 0xFFFFFFFFu) throw DataError(path + ": more than 2^32 examples");
  return in;
}

DataFiles mnist_folder_files(const std::string& dir) {
  DataFiles f;
  f.folder = dir;
  f.train_images = find_file(dir, "train-images", "idx3-ubyte");
  f.train_labels = find_file(dir, "train-labels", "idx1-ubyte");
  f.test_images = find_file(dir, "t10k-images", "idx3-ubyte");
  f.test_labels = find_file(dir, "t10k-labels", "idx1-ubyte");
  return f;
}

DataFiles role_files(const std::string& train, const std::string& test, const std::string& val) {
  DataFiles f;
  f.train_images = train;
  f.train_labels = labels_beside(train);
  if (!test.empty()) f.test_images = test, f.test_labels = labels_beside(test);
  if (!val.empty()) f.val_images = val, f.val_labels = labels_beside(val);
  return f;
}

std::string DataFiles::describe() const {
  if (!folder.empty()) return folder;
  std::string s = train_images;
  s += " (train)";
  for (auto [path, role] : {std::pair{&test_images, " (test)"}, std::pair{&val_images, " (validation)"}})
    if (!path->empty()) {
      s += ", ";
      s += *path;
      s += role;
    }
  return s;
}

std::vector<std::string> listed_files(const DataFiles& f) {
  std::vector<std::string> out;
  for (const std::string* p : {&f.train_images, &f.train_labels, &f.test_images, &f.test_labels, &f.val_images,
                               &f.val_labels})
    if (!p->empty()) out.push_back(*p);
  return out;
}

MnistData load_data_files(const DataFiles& files, int classes) {
  std::error_code ec;
  if (!files.folder.empty()) {
    if (!fs::exists(files.folder, ec))
      throw DataError("data folder '" + files.folder + "' not found; run tools/setup.sh to fetch MNIST, or pass --data-dir");
    if (!fs::is_directory(files.folder, ec)) throw DataError("data folder '" + files.folder + "' is not a folder");
  }
  MnistData m;
  // One buffer for every file, sized from the files up front: growing it would briefly hold
  // two copies of the images. The readers still validate every header.
  std::uint64_t hint = 0;
  for (const std::string* p : {&files.train_images, &files.test_images, &files.val_images})
    if (!p->empty()) hint += idx_size_hint(*p);
  m.all.pixels.reserve(hint);
  const IdxShape train = append_pair(files.train_images, files.train_labels, classes, m.all);
  m.train_file_count = train.count;
  m.rows = train.rows;
  m.cols = train.cols;
  auto add = [&](const std::string& images, const std::string& labels, std::size_t& count) {
    if (images.empty()) return;
    const IdxShape s = append_pair(images, labels, classes, m.all);
    if (s.rows != train.rows || s.cols != train.cols)
      throw DataError(images + ": its images are " + std::to_string(s.rows) + "x" + std::to_string(s.cols) +
                      " but the training images are " + std::to_string(train.rows) + "x" + std::to_string(train.cols));
    count = s.count;
  };
  add(files.test_images, files.test_labels, m.test_file_count);
  add(files.val_images, files.val_labels, m.val_file_count);
  m.all.image_size = static_cast<int>(train.rows * train.cols);
  return m;
}

MnistData load_mnist(const std::string& dir, int classes) { return load_data_files(mnist_folder_files(dir), classes); }

std::map<std::string, std::string> data_metadata(const MnistData& data, const DataFiles& files) {
  const std::string_view labels(reinterpret_cast<const char*>(data.all.labels.data()), data.all.labels.size());
  const std::string shape = std::to_string(data.rows) + "x" + std::to_string(data.cols);
  std::string counts = std::to_string(data.train_file_count) + "+" + std::to_string(data.test_file_count);
  if (!files.val_images.empty()) {
    counts += '+';
    counts += std::to_string(data.val_file_count);
  }
  counts += " of ";
  counts += shape;
  std::map<std::string, std::string> m{{"data_images", counts},
                                       {"input_kind", data.all.float_inputs ? "float32" : "bytes"},
                                       {"data_labels_hash", hash_hex(bytes_hash(labels))},
                                       {"image_shape", shape}};
  if (!files.folder.empty()) {
    m["data_dir"] = files.folder;
  } else {
    m["data_train"] = files.train_images;
    if (!files.test_images.empty()) m["data_test"] = files.test_images;
    if (!files.val_images.empty()) m["data_val"] = files.val_images;
  }
  return m;
}

DataFiles recorded_files(const std::map<std::string, std::string>& metadata) {
  auto get = [&](const char* key) {
    auto it = metadata.find(key);
    return it == metadata.end() ? std::string() : it->second;
  };
  if (!get("data_train").empty()) return role_files(get("data_train"), get("data_test"), get("data_val"));
  if (!get("data_dir").empty()) return mnist_folder_files(get("data_dir"));
  return {};
}

std::string data_difference(const std::map<std::string, std::string>& recorded,
                            const std::map<std::string, std::string>& now) {
  for (const char* key : {"data_images", "data_labels_hash"}) {
    auto it = recorded.find(key);
    if (it != recorded.end() && it->second != now.at(key))
      return std::string(key) + " " + now.at(key) + " (the model's: " + it->second + ")";
  }
  return "";
}

Split seed_split(std::size_t total, std::uint64_t seed) {
  std::vector<std::uint32_t> order(total);
  std::iota(order.begin(), order.end(), 0u);
  auto rng = make_stream(seed, Stream::split);
  shuffle(order, rng);
  std::size_t n_train = total * 7 / 10, n_val = total / 10;
  Split s;
  s.train.assign(order.begin(), order.begin() + n_train);
  s.val.assign(order.begin() + n_train, order.begin() + n_train + n_val);
  s.test.assign(order.begin() + n_train + n_val, order.end());
  return s;
}

Split standard_split(const MnistData& data, std::size_t val_size) {
  const std::size_t train_file_count = data.train_file_count, test_file_count = data.test_file_count;
  if (val_size >= train_file_count)
    throw UsageError("--val-size " + std::to_string(val_size) + " leaves no training images (the training file has " +
                     std::to_string(train_file_count) + ")");
  Split s;
  std::size_t n_train = train_file_count - val_size;
  s.train.resize(n_train);
  std::iota(s.train.begin(), s.train.end(), 0u);
  s.val.resize(val_size);
  std::iota(s.val.begin(), s.val.end(), static_cast<std::uint32_t>(n_train));
  s.test.resize(test_file_count);
  std::iota(s.test.begin(), s.test.end(), static_cast<std::uint32_t>(train_file_count));
  if (data.val_file_count > 0) {  // the validation file validates, after the test file's images
    s.val.resize(data.val_file_count);
    std::iota(s.val.begin(), s.val.end(), static_cast<std::uint32_t>(train_file_count + test_file_count));
  }
  return s;
}

}  // namespace ptrain
