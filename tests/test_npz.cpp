// The .npz reader on archives NumPy wrote (tests/files) and on archives libzip writes here,
// stored and deflated: arrays read back as written, each role's arrays found by name, and one
// line naming the file for every archive it refuses.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>

#include "ptrain/core/errors.hpp"
#include "ptrain/io/npy.hpp"
#include "ptrain/io/npz.hpp"
#include "support.hpp"

namespace ptrain {
namespace {

using test::expect_data_error;

const std::string kFiles = PTRAIN_TEST_FILES;

std::vector<float> features(const NpzArchive& npz, const std::string& key) {
  const std::string bytes = npz.npy_bytes(key);
  AlignedVector<float> out;
  append_npy_features(decode_npy(bytes, key), key, out);
  return {out.begin(), out.end()};
}

std::vector<std::uint8_t> labels(const NpzArchive& npz, const std::string& key) {
  const std::string bytes = npz.npy_bytes(key);
  return npy_labels(decode_npy(bytes, key), key, 256);
}

TEST(Npz, ReadsWhatNumpyWroteDeflatedAndStored) {
  const NpzArchive c = NpzArchive::read(kFiles + "/numpy_savez_compressed.npz");
  EXPECT_EQ(features(c, "x_train"), (std::vector<float>{0.5f, -1.25f, 3, 4, 1e-3f, 7}));
  EXPECT_EQ(labels(c, "y_train"), (std::vector<std::uint8_t>{2, 0, 1}));
  EXPECT_EQ(features(c, "x_test"), (std::vector<float>{1, 2}));
  EXPECT_EQ(labels(c, "y_test"), (std::vector<std::uint8_t>{1}));
  const NpzKeys test = npz_keys_for(c, "test", {});
  EXPECT_EQ(test.features, "x_test");
  EXPECT_EQ(test.labels, "y_test");
  const NpzArchive s = NpzArchive::read(kFiles + "/numpy_savez.npz");
  EXPECT_EQ(s.arrays(), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(features(s, "x"), (std::vector<float>{0.5f, -1.25f, 3, 4, 1e-3f, 7}));
  EXPECT_EQ(npz_keys_for(s, "train", {}).features, "x");  // no x_train: x and y
}

TEST(Npz, ReadsArchivesLibzipWritesStoredOrDeflated) {
  test::TempDir dir;
  const auto x = test::npy_bytes("<f4", "(2, 2)", test::le_bytes(std::vector<float>{1, 2, 3, 4}));
  const auto y = test::npy_bytes("<i8", "(2,)", test::le_bytes(std::vector<std::int64_t>{1, 0}));
  for (bool deflate : {false, true}) {
    const auto path = dir.path() / (deflate ? "d.npz" : "s.npz");
    test::write_npz(path, {{"images_train", x}, {"labels_train", y}}, deflate);
    const NpzArchive npz = NpzArchive::read(path.string());
    const NpzKeys k = npz_keys_for(npz, "train", {"images_train", "labels_train"});
    EXPECT_EQ(features(npz, k.features), (std::vector<float>{1, 2, 3, 4}));
    EXPECT_EQ(labels(npz, k.labels), (std::vector<std::uint8_t>{1, 0}));
    expect_data_error([&] { npz_keys_for(npz, "train", {}); },
                      "no x_train/y_train (or x/y) arrays for the train role; it has images_train, labels_train");
    expect_data_error(
        [&] {
          npz_keys_for(npz, "train", {"images_train", "y"});
        },
        "has no array 'y' (named by --npz-keys)");
  }
}

TEST(Npz, RefusesDamagedArchivesNamingTheFile) {
  test::TempDir dir;
  const auto path = dir.path() / "a.npz";
  const auto x = test::npy_bytes("<f4", "(2, 2)", test::le_bytes(std::vector<float>{1, 2, 3, 4}));
  test::write_npz(path, {{"x", x}}, false);
  std::ifstream in(path, std::ios::binary);
  const std::vector<std::uint8_t> good((std::istreambuf_iterator<char>(in)), {});
  // A flipped bit in a stored array: the CRC finds it.
  std::vector<std::uint8_t> bad = good;
  bad[30 + 5 + x.size() - 1] ^= 0x40;  // the local header (30 bytes + "x.npy"), then the data's last byte
  test::write_file(path, bad);
  expect_data_error([&] { NpzArchive::read(path.string()).npy_bytes("x"); }, path.string() + ": x.npy: ");
  // Cut short: the central directory is gone.
  test::write_file(path, std::vector<std::uint8_t>(good.begin(), good.begin() + static_cast<long>(good.size() / 2)));
  expect_data_error([&] { NpzArchive::read(path.string()); }, path.string() + ": not a readable .npz (zip) archive");
  test::write_file(path, {'P', 'K', 3, 4, 0, 0});
  expect_data_error([&] { NpzArchive::read(path.string()); }, "not a readable .npz (zip) archive");
  // An entry that is not a .npy file.
  test::write_npz(path, {{"x", {'h', 'e', 'l', 'l', 'o'}}}, true);
  const NpzArchive npz = NpzArchive::read(path.string());
  expect_data_error([&] { decode_npy(npz.npy_bytes("x"), path.string() + ":x"); }, "a.npz:x: not a .npy file");
  expect_data_error([&] { npz.npy_bytes("z"); }, "has no array 'z'");
}

}  // namespace
}  // namespace ptrain
