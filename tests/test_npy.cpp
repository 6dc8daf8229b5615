// The .npy reader on files written by hand after NumPy's format description: the values read
// back, and one clear line for every file it refuses.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "ptrain/core/errors.hpp"
#include "ptrain/io/npy.hpp"
#include "support.hpp"

namespace ptrain {
namespace {

using test::expect_data_error;
using test::le_bytes;
using test::npy_bytes;

class Npy : public ::testing::Test {
 protected:
  std::string file(const std::string& name, const std::vector<std::uint8_t>& bytes) {
    const auto p = dir_.path() / name;
    test::write_file(p, bytes);
    return p.string();
  }
  test::TempDir dir_;
};

TEST_F(Npy, ReadsFeaturesOfEveryNumericTypeAsFloat32) {
  const std::vector<float> f32{1.5f, -2.0f, 0.25f, 100.0f, -0.125f, 3.0f};
  AlignedVector<float> out;
  NpyShape s = append_npy_features(file("f4.npy", npy_bytes("<f4", "(3, 2)", le_bytes(f32))), out);
  EXPECT_EQ(s.count, 3u);
  EXPECT_EQ(s.rows * s.cols, 2u);
  EXPECT_EQ(std::vector<float>(out.begin(), out.end()), f32);
  append_npy_features(file("f8.npy", npy_bytes("<f8", "(1, 2)", le_bytes(std::vector<double>{0.1, -1e10}))), out);
  EXPECT_EQ(out[6], 0.1f);
  EXPECT_EQ(out[7], -1e10f);
  append_npy_features(file("u1.npy", npy_bytes("|u1", "(1, 3)", {0, 7, 255})), out);
  EXPECT_EQ(out[10], 255.0f);
  append_npy_features(file("i2.npy", npy_bytes("<i2", "(1, 2)", le_bytes(std::vector<std::int16_t>{-300, 42}))), out);
  EXPECT_EQ(out[11], -300.0f);
  s = append_npy_features(file("img.npy", npy_bytes("<f4", "(1, 2, 3)", le_bytes(f32))), out);
  EXPECT_EQ(s.rows, 2u);
  EXPECT_EQ(s.cols, 3u);
}

TEST_F(Npy, ReadsLabelsOfIntegerOrWholeFloatTypes) {
  EXPECT_EQ(
      read_npy_labels(file("i8.npy", npy_bytes("<i8", "(3,)", le_bytes(std::vector<std::int64_t>{2, 0, 25}))), 26),
      (std::vector<std::uint8_t>{2, 0, 25}));
  EXPECT_EQ(read_npy_labels(file("u1.npy", npy_bytes("|u1", "(2,)", {1, 255})), 256),
            (std::vector<std::uint8_t>{1, 255}));
  EXPECT_EQ(read_npy_labels(file("f8.npy", npy_bytes("<f8", "(2,)", le_bytes(std::vector<double>{3, 1}))), 4),
            (std::vector<std::uint8_t>{3, 1}));
}

TEST_F(Npy, ReadsFormatVersionTwo) {
  std::vector<std::uint8_t> v1 = npy_bytes("<f4", "(1, 1)", le_bytes(std::vector<float>{7}));
  const std::size_t header = v1[8] | v1[9] << 8;
  std::string v2("\x93NUMPY\x02\x00", 8);
  v2 += static_cast<char>(header);
  v2.append(3, '\0');
  v2.append(v1.begin() + 10, v1.end());
  AlignedVector<float> out;
  append_npy_features(file("v2.npy", std::vector<std::uint8_t>(v2.begin(), v2.end())), out);
  EXPECT_EQ(out, AlignedVector<float>{7});
}

TEST_F(Npy, RefusesWhatItCannotReadWithOneLine) {
  AlignedVector<float> out;
  auto features = [&](const std::string& name, const std::vector<std::uint8_t>& bytes) {
    const std::string p = file(name, bytes);
    return [p, &out] { append_npy_features(p, out); };
  };
  const std::vector<std::uint8_t> four = le_bytes(std::vector<float>{1, 2, 3, 4});
  expect_data_error(features("fortran.npy", npy_bytes("<f4", "(2, 2)", four, true)), "Fortran order");
  expect_data_error(features("big.npy", npy_bytes(">f4", "(2, 2)", four)), "big-endian");
  expect_data_error(features("object.npy", npy_bytes("|O", "(2, 2)", four)), "dtype '|O'");
  expect_data_error(features("complex.npy", npy_bytes("<c8", "(1, 2)", four)), "dtype '<c8'");
  expect_data_error(features("short.npy", npy_bytes("<f4", "(3, 2)", four)), "does not match the 16 bytes");
  expect_data_error(features("long.npy", npy_bytes("<f4", "(1, 2)", four)), "does not match the 16 bytes");
  expect_data_error(features("huge.npy", npy_bytes("<f4", "(1099511627776, 1099511627776)", four)), "does not match");
  expect_data_error(features("flat.npy", npy_bytes("<f4", "(4,)", four)), "must be a 2-D array");
  expect_data_error(
      features("nan.npy",
               npy_bytes("<f4", "(1, 2)", le_bytes(std::vector<float>{1, std::numeric_limits<float>::quiet_NaN()}))),
      "value 1 of example 0 is not a finite float32");
  expect_data_error(features("inf64.npy", npy_bytes("<f8", "(1, 1)", le_bytes(std::vector<double>{1e300}))),
                    "not a finite float32");
  expect_data_error(features("magic.npy", {'N', 'U', 'M', 'P', 'Y', 0, 0}), "not a .npy file");
  expect_data_error(features("header.npy", {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0xFF, 0xFF, '{'}), "header claims");
  expect_data_error(features("dict.npy", npy_bytes("<f4", "[2, 2]", four)), "malformed .npy header");
  expect_data_error(features("version.npy", {0x93, 'N', 'U', 'M', 'P', 'Y', 9, 0, 0, 0}), "version 9");
  const std::string two_d = file("labels2d.npy", npy_bytes("|u1", "(2, 1)", {1, 2}));
  expect_data_error([&] { read_npy_labels(two_d, 10); }, "labels must be a 1-D array");
  const std::string negative = file("neg.npy", npy_bytes("<i4", "(2,)", le_bytes(std::vector<std::int32_t>{1, -1})));
  expect_data_error([&] { read_npy_labels(negative, 10); }, "label -1.000000 at index 1 is not a whole number");
  const std::string big = file("big_label.npy", npy_bytes("|u1", "(2,)", {3, 12}));
  expect_data_error([&] { read_npy_labels(big, 10); }, "label 12 at index 1 is outside 0-9");
  const std::string half = file("half.npy", npy_bytes("<f4", "(1,)", le_bytes(std::vector<float>{0.5f})));
  expect_data_error([&] { read_npy_labels(half, 10); }, "at index 0 is not a whole number");
  expect_data_error([&] { read_npy_labels((dir_.path() / "absent.npy").string(), 10); }, "absent.npy");
}

}  // namespace
}  // namespace ptrain
