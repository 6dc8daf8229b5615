// The IDX reader on small valid files and on every malformed case: each must be refused with
// a DataError whose message names the file and the problem.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <fstream>

#include "ptrain/io/dataset.hpp"
#include "ptrain/core/errors.hpp"
#include "ptrain/io/idx.hpp"
#include "support.hpp"

namespace ptrain {
namespace {

using test::idx_bytes;
using test::write_file;

class Idx : public ::testing::Test {
 protected:
  std::string file(const std::string& name, const std::vector<std::uint8_t>& bytes) {
    auto p = dir_.path() / name;
    write_file(p, bytes);
    return p.string();
  }
  test::TempDir dir_;
};

// Expects a DataError mentioning every fragment in `fragments`.
template <class F>
void expect_refused(F&& read, std::initializer_list<std::string> fragments) {
  try {
    read();
    ADD_FAILURE() << "accepted; expected a DataError mentioning '" << *fragments.begin() << "'";
  } catch (const DataError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << "message is not one line: " << what;
    for (const std::string& f : fragments) EXPECT_NE(what.find(f), std::string::npos) << "message: " << what;
  }
}

TEST_F(Idx, ReadsValidImagesAndLabels) {
  std::vector<std::uint8_t> px{0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255};
  IdxImages im = read_idx_images(file("im", idx_bytes(2051, {2, 2, 3}, px)));
  EXPECT_EQ(im.count, 2u);
  EXPECT_EQ(im.rows, 2u);
  EXPECT_EQ(im.cols, 3u);
  EXPECT_EQ(std::vector<std::uint8_t>(im.pixels.begin(), im.pixels.end()), px);
  EXPECT_EQ(read_idx_labels(file("lb", idx_bytes(2049, {3}, {9, 0, 4})), 10), (std::vector<std::uint8_t>{9, 0, 4}));
}

// IDX's float32 type: big-endian values, rows (0x0D02, N × F) or images (0x0D03); the bytes
// below are written by hand (0x3F800000 is 1.0f, 0xC0490FDB is −π as a float).
TEST_F(Idx, ReadsFloat32RowsAndImages) {
  const std::vector<std::uint8_t> values{0x3F, 0x80, 0x00, 0x00, 0xC0, 0x49, 0x0F, 0xDB, 0x00, 0x00, 0x00, 0x00,
                                         0x42, 0xC8, 0x00, 0x00, 0x3E, 0x80, 0x00, 0x00, 0xBF, 0x00, 0x00, 0x00};
  AlignedVector<std::uint8_t> pixels;
  AlignedVector<float> features;
  IdxInputs rows = append_idx_inputs(file("rows", idx_bytes(0x0D02, {2, 3}, values)), pixels, features);
  EXPECT_TRUE(rows.floats);
  EXPECT_EQ(rows.count, 2u);
  EXPECT_EQ(rows.rows * rows.cols, 3u);
  EXPECT_EQ(features, (AlignedVector<float>{1.0f, -3.14159274f, 0.0f, 100.0f, 0.25f, -0.5f}));
  EXPECT_TRUE(pixels.empty());
  IdxInputs images = append_idx_inputs(file("images", idx_bytes(0x0D03, {1, 2, 3}, values)), pixels, features);
  EXPECT_EQ(images.rows, 2u);
  EXPECT_EQ(images.cols, 3u);
  EXPECT_EQ(features.size(), 12u);  // appended
  IdxInputs bytes = append_idx_inputs(file("bytes", idx_bytes(2051, {1, 1, 2}, {7, 9})), pixels, features);
  EXPECT_FALSE(bytes.floats);
  EXPECT_EQ(pixels, (AlignedVector<std::uint8_t>{7, 9}));
}

TEST_F(Idx, RefusesNonFiniteAndShortFloat32Files) {
  AlignedVector<std::uint8_t> pixels;
  AlignedVector<float> features;
  const auto nan = file("nan", idx_bytes(0x0D02, {1, 2}, {0x3F, 0x80, 0, 0, 0x7F, 0xC0, 0, 0}));
  expect_refused([&] { append_idx_inputs(nan, pixels, features); }, {nan, "value 1 of example 0 is not a finite"});
  const auto shortf = file("short", idx_bytes(0x0D02, {2, 2}, {0x3F, 0x80, 0, 0}));
  expect_refused([&] { append_idx_inputs(shortf, pixels, features); }, {shortf, "2 rows of 2 float32 values"});
  const auto empty = file("empty", idx_bytes(0x0D02, {3, 0}, {}));
  expect_refused([&] { append_idx_inputs(empty, pixels, features); }, {empty, "0 values an example"});
  const auto other = file("other", idx_bytes(0x0E02, {1, 1}, {0, 0, 0, 0, 0, 0, 0, 0}));  // float64: not read
  expect_refused([&] { append_idx_inputs(other, pixels, features); }, {other, "wrong magic number"});
}

TEST_F(Idx, AcceptsZeroImages) { EXPECT_EQ(read_idx_images(file("im", idx_bytes(2051, {0, 28, 28}, {}))).count, 0u); }

TEST_F(Idx, RefusesWrongMagic) {
  auto p = file("im", idx_bytes(2049, {1, 1, 1}, {7}));
  expect_refused([&] { read_idx_images(p); }, {p, "wrong magic number 2049", "2051"});
  auto q = file("lb", idx_bytes(2051, {1}, {7}));
  expect_refused([&] { read_idx_labels(q, 10); }, {q, "wrong magic number 2051", "2049"});
}

TEST_F(Idx, RefusesEmptyAndTruncatedHeaders) {
  auto empty = file("empty", {});
  expect_refused([&] { read_idx_images(empty); }, {empty, "empty file"});
  auto short_header = file("short", {0, 0, 8, 3, 0, 0});
  expect_refused([&] { read_idx_images(short_header); }, {short_header, "truncated IDX header"});
}

TEST_F(Idx, RefusesPayloadShorterOrLongerThanHeaderSays) {
  auto truncated = file("t", idx_bytes(2051, {3, 2, 2}, std::vector<std::uint8_t>(11)));
  expect_refused([&] { read_idx_images(truncated); }, {truncated, "header claims 3 images of 2x2", "27 bytes"});
  auto trailing = file("x", idx_bytes(2049, {2}, {1, 2, 3}));
  expect_refused([&] { read_idx_labels(trailing, 10); }, {trailing, "header claims 2 labels"});
}

TEST_F(Idx, RefusesBillionsOfImagesBeforeAllocating) {
  auto p = file("huge", idx_bytes(2051, {4'000'000'000u, 28, 28}, std::vector<std::uint8_t>(784)));
  expect_refused([&] { read_idx_images(p); }, {p, "header claims 4000000000 images"});
  auto q = file("huge_dims", idx_bytes(2051, {1, 65535, 65535}, {1, 2, 3}));
  expect_refused([&] { read_idx_images(q); }, {q, "too large"});
}

TEST_F(Idx, RefusesZeroDimensions) {
  auto p = file("zero", idx_bytes(2051, {5, 0, 28}, {}));
  expect_refused([&] { read_idx_images(p); }, {p, "dimensions 0x28"});
}

TEST_F(Idx, RefusesLabelsOutsideTheClasses) {
  auto p = file("lb", idx_bytes(2049, {4}, {1, 2, 10, 3}));
  expect_refused([&] { read_idx_labels(p, 10); }, {p, "label 10 at index 2", "outside 0-9"});
}

TEST_F(Idx, RefusesMissingFileAndFolder) {
  auto missing = (dir_.path() / "nope").string();
  expect_refused([&] { read_idx_images(missing); }, {missing, "not found"});
  std::filesystem::create_directory(dir_.path() / "sub");
  auto folder = (dir_.path() / "sub").string();
  expect_refused([&] { read_idx_labels(folder, 10); }, {folder, "is a folder"});
}

TEST_F(Idx, RefusesUnreadableFile) {
  if (geteuid() == 0) GTEST_SKIP() << "root reads files whatever their mode";
  auto p = file("locked", idx_bytes(2049, {1}, {1}));
  chmod(p.c_str(), 0);
  expect_refused([&] { read_idx_labels(p, 10); }, {p, "cannot open"});
}

TEST_F(Idx, LoadMnistJoinsTrainAndTestAndChecksCounts) {
  test::write_fake_mnist(dir_.path(), 30, 12, 1);
  MnistData m = load_mnist(dir_.path().string(), 10);
  EXPECT_EQ(m.train_file_count, 30u);
  EXPECT_EQ(m.test_file_count, 12u);
  EXPECT_EQ(m.all.size(), 42u);
  EXPECT_EQ(m.all.image_size, 784);
  Dataset expected = test::synthetic_dataset(42, 784, 10, 1);
  EXPECT_EQ(m.all.pixels, expected.pixels);
  EXPECT_EQ(m.all.labels, expected.labels);

  // Image and label counts that disagree.
  write_file(dir_.path() / "t10k-labels-idx1-ubyte", idx_bytes(2049, {11}, std::vector<std::uint8_t>(11)));
  expect_refused([&] { load_mnist(dir_.path().string(), 10); }, {"t10k-images-idx3-ubyte", "12 images", "11 labels"});
}

TEST_F(Idx, LoadMnistAcceptsTheDottedSpelling) {
  test::write_fake_mnist(dir_.path(), 5, 5, 2);
  for (std::string stem : {"train-images", "t10k-images"})
    std::filesystem::rename(dir_.path() / (stem + "-idx3-ubyte"), dir_.path() / (stem + ".idx3-ubyte"));
  EXPECT_EQ(load_mnist(dir_.path().string(), 10).all.size(), 10u);
}

TEST_F(Idx, LoadMnistRefusesMissingFolder) {
  auto missing = (dir_.path() / "absent").string();
  expect_refused([&] { load_mnist(missing, 10); }, {missing, "not found", "tools/setup.sh"});
}

std::vector<std::uint8_t> gzipped(const std::vector<std::uint8_t>& raw) {
  uLongf size = compressBound(raw.size()) + 32;
  std::vector<std::uint8_t> out(size);
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);  // +16: a gzip wrapper
  z.next_in = const_cast<Bytef*>(raw.data());
  z.avail_in = static_cast<uInt>(raw.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

TEST_F(Idx, ReadsGzipByItsMagicBytesWhateverTheName) {
  std::vector<std::uint8_t> px(3 * 4 * 5);
  for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<std::uint8_t>(i * 7);
  IdxImages im = read_idx_images(file("no-gz-suffix", gzipped(idx_bytes(2051, {3, 4, 5}, px))));
  EXPECT_EQ(im.count, 3u);
  EXPECT_EQ(std::vector<std::uint8_t>(im.pixels.begin(), im.pixels.end()), px);
  EXPECT_EQ(read_idx_labels(file("lb.gz", gzipped(idx_bytes(2049, {2}, {3, 9}))), 10),
            (std::vector<std::uint8_t>{3, 9}));
}

TEST_F(Idx, RefusesCorruptOrTruncatedGzip) {
  std::vector<std::uint8_t> z = gzipped(idx_bytes(2051, {50, 28, 28}, std::vector<std::uint8_t>(50 * 784, 9)));
  std::vector<std::uint8_t> corrupt = z;
  for (std::size_t i = 12; i < corrupt.size() - 8; i += 3) corrupt[i] ^= 0x5a;
  auto c = file("corrupt.gz", corrupt);
  expect_refused([&] { read_idx_images(c); }, {c, "gzip data is corrupt or truncated"});
  auto t = file("truncated.gz", std::vector<std::uint8_t>(z.begin(), z.begin() + z.size() / 2));
  expect_refused([&] { read_idx_images(t); }, {t});
  auto tail = file("no-trailer.gz", std::vector<std::uint8_t>(z.begin(), z.end() - 4));
  expect_refused([&] { read_idx_images(tail); }, {tail, "gzip"});
}

TEST_F(Idx, RefusesGzipWhoseHeaderDisagreesWithItsData) {
  auto short_data = file("short.gz", gzipped(idx_bytes(2051, {10, 28, 28}, std::vector<std::uint8_t>(9 * 784))));
  expect_refused([&] { read_idx_images(short_data); }, {short_data, "header claims 10 images", "gzip trailer"});
  auto long_data = file("long.gz", gzipped(idx_bytes(2049, {3}, {1, 2, 3, 4})));
  expect_refused([&] { read_idx_labels(long_data, 10); }, {long_data, "gzip trailer"});
  // A trailer forged to agree with the false header: the data still runs out, or zlib's own
  // length check fails, before the claim is met.
  std::vector<std::uint8_t> forged = gzipped(idx_bytes(2051, {10, 28, 28}, std::vector<std::uint8_t>(9 * 784)));
  const std::uint32_t claimed = 16 + 10 * 784;
  for (int b = 0; b < 4; ++b) forged[forged.size() - 4 + b] = static_cast<std::uint8_t>(claimed >> (8 * b));
  auto forged_file = file("forged.gz", forged);
  expect_refused([&] { read_idx_images(forged_file); }, {forged_file});
  // Bytes appended after a valid gzip stream.
  std::vector<std::uint8_t> appended = gzipped(idx_bytes(2049, {3}, {1, 2, 3}));
  appended.insert(appended.end(), {'j', 'u', 'n', 'k', '!'});
  auto appended_file = file("appended.gz", appended);
  expect_refused([&] { read_idx_labels(appended_file, 10); }, {appended_file, "after the gzip stream"});
  auto billions =
      file("billions.gz", gzipped(idx_bytes(2051, {3'000'000'000u, 28, 28}, std::vector<std::uint8_t>(784))));
  expect_refused([&] { read_idx_images(billions); }, {billions, "cannot hold that much"});
}

TEST_F(Idx, LoadMnistReadsGzipFilesWithEitherSpelling) {
  test::write_fake_mnist(dir_.path(), 6, 4, 3);
  for (const auto& [from, to] :
       std::vector<std::pair<std::string, std::string>>{{"train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"},
                                                        {"train-labels-idx1-ubyte", "train-labels.idx1-ubyte.gz"},
                                                        {"t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte.gz"}}) {
    std::ifstream in(dir_.path() / from, std::ios::binary);
    std::vector<std::uint8_t> raw((std::istreambuf_iterator<char>(in)), {});
    write_file(dir_.path() / to, gzipped(raw));
    std::filesystem::remove(dir_.path() / from);
  }
  MnistData m = load_mnist(dir_.path().string(), 10);
  Dataset expected = test::synthetic_dataset(10, 784, 10, 3);
  EXPECT_EQ(m.all.pixels, expected.pixels);
  EXPECT_EQ(m.all.labels, expected.labels);
}

}  // namespace
}  // namespace ptrain
