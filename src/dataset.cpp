#include "ptrain/dataset.hpp"

#include <filesystem>
#include <numeric>

#include "ptrain/errors.hpp"
#include "ptrain/idx.hpp"
#include "ptrain/rng.hpp"

namespace ptrain {
namespace {

namespace fs = std::filesystem;

// MNIST mirrors spell the names two ways: 'train-images-idx3-ubyte' and 'train-images.idx3-ubyte'.
std::string find_file(const std::string& dir, const std::string& stem, const std::string& kind) {
  for (const std::string& name : {stem + "-" + kind, stem + "." + kind}) {
    fs::path p = fs::path(dir) / name;
    std::error_code ec;
    if (fs::exists(p, ec)) return p.string();
  }
  return (fs::path(dir) / (stem + "-" + kind)).string();  // the reader reports it missing
}

struct Pair {
  IdxImages images;
  std::vector<std::uint8_t> labels;
};

Pair read_pair(const std::string& dir, const std::string& prefix, int classes) {
  Pair p;
  std::string image_path = find_file(dir, prefix + "-images", "idx3-ubyte");
  std::string label_path = find_file(dir, prefix + "-labels", "idx1-ubyte");
  p.images = read_idx_images(image_path);
  p.labels = read_idx_labels(label_path, classes);
  if (p.images.count != p.labels.size())
    throw DataError(image_path + ": holds " + std::to_string(p.images.count) + " images but " + label_path + " holds " +
                    std::to_string(p.labels.size()) + " labels");
  return p;
}

}  // namespace

MnistData load_mnist(const std::string& dir, int classes) {
  std::error_code ec;
  if (!fs::exists(dir, ec))
    throw DataError("data folder '" + dir + "' not found; run tools/setup.sh to fetch MNIST, or pass --data-dir");
  if (!fs::is_directory(dir, ec)) throw DataError("data folder '" + dir + "' is not a folder");
  Pair train = read_pair(dir, "train", classes);
  Pair test = read_pair(dir, "t10k", classes);
  if (train.images.rows != test.images.rows || train.images.cols != test.images.cols)
    throw DataError(dir + ": training images are " + std::to_string(train.images.rows) + "x" +
                    std::to_string(train.images.cols) + " but test images are " + std::to_string(test.images.rows) +
                    "x" + std::to_string(test.images.cols));
  MnistData m;
  m.train_file_count = train.images.count;
  m.test_file_count = test.images.count;
  m.all.image_size = static_cast<int>(train.images.rows * train.images.cols);
  m.all.pixels = std::move(train.images.pixels);
  m.all.pixels.insert(m.all.pixels.end(), test.images.pixels.begin(), test.images.pixels.end());
  m.all.labels = std::move(train.labels);
  m.all.labels.insert(m.all.labels.end(), test.labels.begin(), test.labels.end());
  return m;
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
