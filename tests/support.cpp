#include "support.hpp"

#include "ptrain/core/errors.hpp"

#include <unistd.h>
#include <zip.h>

#include <iomanip>
#include <tuple>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>

namespace ptrain::test {

Dataset synthetic_dataset(std::size_t count, int image_size, int classes, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<int>> prototypes(classes, std::vector<int>(image_size));
  for (auto& p : prototypes)
    for (int& v : p) v = static_cast<int>(rng() % 256);
  Dataset d;
  d.image_size = image_size;
  d.pixels.resize(count * image_size);
  d.labels.resize(count);
  for (std::size_t n = 0; n < count; ++n) {
    int label = static_cast<int>(n % classes);
    d.labels[n] = static_cast<std::uint8_t>(label);
    for (int i = 0; i < image_size; ++i) {
      int noisy = prototypes[label][i] + static_cast<int>(rng() % 121) - 60;
      d.pixels[n * image_size + i] = static_cast<std::uint8_t>(std::clamp(noisy, 0, 255));
    }
  }
  return d;
}

Dataset as_float_features(Dataset d) {
  d.features.resize(d.pixels.size());
  for (std::size_t i = 0; i < d.pixels.size(); ++i) d.features[i] = (static_cast<float>(d.pixels[i]) - 127.5f) / 64.0f;
  d.pixels.clear();
  d.float_inputs = true;
  return d;
}

Dataset as_regression(Dataset d, int target_count, std::uint64_t seed) {
  d = as_float_features(std::move(d));
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> noise(-0.1, 0.1);
  d.target_count = target_count;
  d.targets.resize(d.size() * target_count);
  for (std::size_t n = 0; n < d.size(); ++n) {
    const float* x = d.row(n);
    for (int j = 0; j < target_count; ++j) {
      const double x0 = x[j % d.image_size], x1 = x[(j + 1) % d.image_size];
      d.targets[n * target_count + j] = static_cast<float>(2.0 * std::sin(x0) + x0 * x1 - 0.5 * j + noise(rng));
    }
    d.labels[n] = 0;
  }
  return d;
}

std::vector<std::uint32_t> iota_indices(std::size_t n) {
  std::vector<std::uint32_t> v(n);
  std::iota(v.begin(), v.end(), 0u);
  return v;
}

std::vector<std::uint8_t> idx_bytes(std::uint32_t magic, const std::vector<std::uint32_t>& dims,
                                    const std::vector<std::uint8_t>& payload) {
  std::vector<std::uint8_t> out;
  auto word = [&](std::uint32_t w) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(w >> shift));
  };
  word(magic);
  for (std::uint32_t d : dims) word(d);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

std::vector<std::uint8_t> npy_bytes(const std::string& descr, const std::string& shape,
                                    const std::vector<std::uint8_t>& data, bool fortran) {
  std::ostringstream dict;
  dict << "{'descr': '" << descr << "', 'fortran_order': " << (fortran ? "True" : "False") << ", 'shape': " << shape
       << ", }";
  std::string header = dict.str();
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  const std::string magic("\x93NUMPY\x01\x00", 8);
  std::string bytes = magic;
  bytes += static_cast<char>(header.size() & 0xFF);
  bytes += static_cast<char>(header.size() >> 8);
  bytes += header;
  bytes.append(data.begin(), data.end());
  return std::vector<std::uint8_t>(bytes.begin(), bytes.end());
}

std::vector<std::uint8_t> float_bytes(std::span<const float> values) {
  std::vector<std::uint8_t> out;
  for (float v : values) {
    std::uint32_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(bits >> shift));
  }
  return out;
}

void write_float_rows_set(const std::filesystem::path& dir, const std::string& name, std::size_t train,
                          std::size_t test, int features, int classes, std::uint64_t seed) {
  std::filesystem::create_directories(dir);
  const Dataset all = as_float_features(synthetic_dataset(train + test, features, classes, seed));
  auto slice = [&](std::size_t begin, std::size_t n, const std::string& role) {
    const std::vector<float> f(all.features.begin() + begin * features, all.features.begin() + (begin + n) * features);
    const std::vector<std::uint8_t> lb(all.labels.begin() + begin, all.labels.begin() + begin + n);
    const auto count = static_cast<std::uint32_t>(n);
    write_file(dir / (name + "-" + role + "-images"),
               idx_bytes(0x0D02, {count, static_cast<std::uint32_t>(features)}, float_bytes(f)));
    write_file(dir / (name + "-" + role + "-labels"), idx_bytes(2049, {count}, lb));
  };
  slice(0, train, "train");
  slice(train, test, "test");
}

namespace {

// Examples [begin, begin + n) of `all` as .npy files' bytes: features <f4 (n × F), labels <i8.
std::pair<std::vector<std::uint8_t>, std::vector<std::uint8_t>> npy_slice(const Dataset& all, std::size_t begin,
                                                                          std::size_t n) {
  const std::size_t f = static_cast<std::size_t>(all.image_size);
  const std::vector<float> x(all.features.begin() + begin * f, all.features.begin() + (begin + n) * f);
  const std::vector<std::int64_t> y(all.labels.begin() + begin, all.labels.begin() + begin + n);
  std::ostringstream x_shape, y_shape;
  x_shape << "(" << n << ", " << f << ")";
  y_shape << "(" << n << ",)";
  return {npy_bytes("<f4", x_shape.str(), le_bytes(x)), npy_bytes("<i8", y_shape.str(), le_bytes(y))};
}

}  // namespace

void write_npy_set(const std::filesystem::path& dir, std::size_t train, std::size_t test, int features, int classes,
                   std::uint64_t seed) {
  std::filesystem::create_directories(dir);
  const Dataset all = as_float_features(synthetic_dataset(train + test, features, classes, seed));
  for (auto [begin, n, role] : {std::tuple{std::size_t{0}, train, "train"}, std::tuple{train, test, "test"}}) {
    const auto [x, y] = npy_slice(all, begin, n);
    write_file(dir / (std::string("x_") + role + ".npy"), x);
    write_file(dir / (std::string("y_") + role + ".npy"), y);
  }
}

void write_npz(const std::filesystem::path& path,
               const std::vector<std::pair<std::string, std::vector<std::uint8_t>>>& arrays, bool deflate) {
  int error = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  if (!z) throw std::runtime_error("cannot write " + path.string());
  for (const auto& [name, bytes] : arrays) {
    zip_source_t* src = zip_source_buffer(z, bytes.data(), bytes.size(), 0);
    const zip_int64_t at = zip_file_add(z, (name + ".npy").c_str(), src, ZIP_FL_ENC_UTF_8);
    if (at < 0) throw std::runtime_error("cannot add " + name + " to " + path.string());
    zip_set_file_compression(z, static_cast<zip_uint64_t>(at), deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0);
  }
  if (zip_close(z) != 0) throw std::runtime_error("cannot write " + path.string());
}

void write_npz_set(const std::filesystem::path& path, std::size_t train, std::size_t test, int features, int classes,
                   std::uint64_t seed, bool deflate) {
  const Dataset all = as_float_features(synthetic_dataset(train + test, features, classes, seed));
  const auto [x_train, y_train] = npy_slice(all, 0, train);
  const auto [x_test, y_test] = npy_slice(all, train, test);
  write_npz(path, {{"x_train", x_train}, {"y_train", y_train}, {"x_test", x_test}, {"y_test", y_test}}, deflate);
}

void write_csv_set(const std::filesystem::path& dir, const std::string& name, std::size_t train, std::size_t test,
                   int features, int classes, std::uint64_t seed, const std::vector<std::string>& label_names) {
  std::filesystem::create_directories(dir);
  const Dataset all = as_float_features(synthetic_dataset(train + test, features, classes, seed));
  for (auto [begin, n, role] : {std::tuple{std::size_t{0}, train, "train"}, std::tuple{train, test, "test"}}) {
    std::ofstream out(dir / (name + "-" + role + ".csv"));
    for (int f = 0; f < features; ++f) out << "f" << f + 1 << ",";
    out << "label\n" << std::setprecision(17);
    for (std::size_t e = begin; e < begin + n; ++e) {
      for (int f = 0; f < features; ++f) out << static_cast<double>(all.row(e)[f]) << ",";
      const int label = all.labels[e];
      out << (label_names.empty() ? std::to_string(label) : label_names[static_cast<std::size_t>(label)]) << "\n";
    }
    if (!out) throw std::runtime_error("cannot write " + name + " CSV files in " + dir.string());
  }
}

void expect_data_error(const std::function<void()>& read, const std::string& fragment) {
  try {
    read();
    ADD_FAILURE() << "accepted; expected a DataError mentioning '" << fragment << "'";
  } catch (const DataError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    EXPECT_NE(what.find(fragment), std::string::npos) << what;
  }
}

void write_file(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw std::runtime_error("cannot write " + path.string());
}

void write_fake_mnist(const std::filesystem::path& dir, std::size_t train, std::size_t test, std::uint64_t seed,
                      std::uint32_t rows, std::uint32_t cols, int classes) {
  std::filesystem::create_directories(dir);
  const std::size_t size = std::size_t(rows) * cols;
  Dataset all = synthetic_dataset(train + test, static_cast<int>(size), classes, seed);
  auto slice = [&](std::size_t begin, std::size_t n, const std::string& prefix) {
    std::vector<std::uint8_t> px(all.pixels.begin() + begin * size, all.pixels.begin() + (begin + n) * size);
    std::vector<std::uint8_t> lb(all.labels.begin() + begin, all.labels.begin() + begin + n);
    const auto count = static_cast<std::uint32_t>(n);
    write_file(dir / (prefix + "-images-idx3-ubyte"), idx_bytes(2051, {count, rows, cols}, px));
    write_file(dir / (prefix + "-labels-idx1-ubyte"), idx_bytes(2049, {count}, lb));
  };
  slice(0, train, "train");
  slice(train, test, "t10k");
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "ptrain-test-XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::vector<TensorSpan> canonical_tensors(const std::vector<int>& sizes) {
  std::vector<TensorSpan> out;
  ParamLayout layout(sizes, 1);
  for (std::size_t l = 0; l < layout.layers.size(); ++l) {
    const LayerSlot& s = layout.layers[l];
    out.push_back({"layers." + std::to_string(l) + ".weight", s.weight, std::size_t(s.in) * s.out});
    out.push_back({"layers." + std::to_string(l) + ".bias", s.bias, std::size_t(s.out)});
  }
  return out;
}

::testing::AssertionResult tensors_close(const std::vector<int>& sizes, const std::vector<double>& got,
                                         const std::vector<double>& want, double atol, double rtol) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "sizes differ: " << got.size() << " vs " << want.size();
  for (const TensorSpan& t : canonical_tensors(sizes)) {
    double scale = 0;
    for (std::size_t i = 0; i < t.size; ++i) scale = std::max(scale, std::fabs(want[t.offset + i]));
    double worst_excess = 0;
    std::size_t worst = 0;
    bool failed = false;
    for (std::size_t i = 0; i < t.size; ++i) {
      double w = want[t.offset + i], g = got[t.offset + i];
      double excess = std::fabs(g - w) - (atol * scale + rtol * std::fabs(w));
      if (!(excess <= 0) && (!failed || excess > worst_excess || std::isnan(excess))) {
        failed = true;
        worst_excess = excess;
        worst = i;
      }
    }
    if (failed)
      return ::testing::AssertionFailure()
             << t.name << "[" << worst << "]: got " << got[t.offset + worst] << ", want " << want[t.offset + worst]
             << " (tensor max |want| " << scale << ", atol " << atol << "·max, rtol " << rtol << ")";
  }
  return ::testing::AssertionSuccess();
}

std::vector<double> parallel_mean_gradient(ParallelEngine& engine, const Dataset& data, Indices batch,
                                           double* loss_sum) {
  const int chunks = engine.chunk_count(batch.size()), B = static_cast<int>(batch.size());
  engine.run_chunks(data, batch, 0, chunks);
  if (loss_sum) *loss_sum += engine.loss_sum(0, chunks);
  AlignedVector<float> sum;
  engine.sum_gradients(0, B, sum);
  std::vector<double> mean;
  for (float g : engine.to_canonical(sum)) mean.push_back(double{g} / B);
  return mean;
}

}  // namespace ptrain::test
