#include "ptrain/io/dataset.hpp"

#include <filesystem>
#include <numeric>

#include "ptrain/core/errors.hpp"
#include "ptrain/io/idx.hpp"
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

const char* const kMnistStems[][2] = {{"train-images", "idx3-ubyte"}, {"train-labels", "idx1-ubyte"},
                                      {"t10k-images", "idx3-ubyte"}, {"t10k-labels", "idx1-ubyte"}};

// Appends one images/labels pair to `d`; returns the images' header.
IdxShape append_pair(const std::string& dir, const std::string& prefix, int classes, Dataset& d) {
  std::string image_path = find_file(dir, prefix + "-images", "idx3-ubyte");
  std::string label_path = find_file(dir, prefix + "-labels", "idx1-ubyte");
  IdxShape shape = append_idx_images(image_path, d.pixels);
  std::vector<std::uint8_t> labels = read_idx_labels(label_path, classes);
  if (shape.count != labels.size())
    throw DataError(image_path + ": holds " + std::to_string(shape.count) + " images but " + label_path + " holds " +
                    std::to_string(labels.size()) + " labels");
  d.labels.insert(d.labels.end(), labels.begin(), labels.end());
  return shape;
}

}  // namespace

std::vector<std::string> mnist_files(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& [stem, kind] : kMnistStems) files.push_back(find_file(dir, stem, kind));
  return files;
}

MnistData load_mnist(const std::string& dir, int classes) {
  std::error_code ec;
  if (!fs::exists(dir, ec))
    throw DataError("data folder '" + dir + "' not found; run tools/setup.sh to fetch MNIST, or pass --data-dir");
  if (!fs::is_directory(dir, ec)) throw DataError("data folder '" + dir + "' is not a folder");
  MnistData m;
  // One buffer for both files, sized from the files up front: growing it would briefly hold
  // two copies of the 55 MB of images. The readers still validate every header.
  m.all.pixels.reserve(idx_size_hint(find_file(dir, "train-images", "idx3-ubyte")) +
                       idx_size_hint(find_file(dir, "t10k-images", "idx3-ubyte")));
  const IdxShape train = append_pair(dir, "train", classes, m.all);
  const IdxShape test = append_pair(dir, "t10k", classes, m.all);
  m.train_file_count = train.count;
  m.test_file_count = test.count;
  if (train.rows != test.rows || train.cols != test.cols)
    throw DataError(dir + ": training images are " + std::to_string(train.rows) + "x" + std::to_string(train.cols) +
                    " but test images are " + std::to_string(test.rows) + "x" + std::to_string(test.cols));
  m.all.image_size = static_cast<int>(train.rows * train.cols);
  m.rows = train.rows;
  m.cols = train.cols;
  return m;
}

std::map<std::string, std::string> data_metadata(const MnistData& data, const std::string& dir) {
  const std::string_view labels(reinterpret_cast<const char*>(data.all.labels.data()), data.all.labels.size());
  const std::string shape = std::to_string(data.rows) + "x" + std::to_string(data.cols);
  return {{"data_dir", dir},
          {"data_images",
           std::to_string(data.train_file_count) + "+" + std::to_string(data.test_file_count) + " of " + shape},
          {"data_labels_hash", hash_hex(bytes_hash(labels))},
          {"image_shape", shape}};
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

Split standard_split(std::size_t train_file_count, std::size_t test_file_count, std::size_t val_size) {
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
  return s;
}

}  // namespace ptrain
