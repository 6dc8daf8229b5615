// The PGM reader on images written byte by byte: raw (P5) and plain (P2) files of the same
// pixels read alike, comments are skipped, 16-bit and small maxvals scale to 0-255 as computed by
// hand, and each malformed file is refused with one line naming it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ptrain/io/pgm.hpp"
#include "support.hpp"

namespace ptrain {
namespace {

std::vector<std::uint8_t> pixels_of(const GreyImage& img) { return {img.pixels.begin(), img.pixels.end()}; }

TEST(Pgm, RawAndPlainFilesOfTheSamePixelsReadAlike) {
  const std::string raw = std::string("P5\n# made by hand\n3 2\n255\n") + std::string("\x00\x10\x80\xff\x01\x7f", 6);
  const GreyImage a = decode_pgm(raw, "a.pgm");
  EXPECT_EQ(a.width, 3);
  EXPECT_EQ(a.height, 2);
  EXPECT_EQ(pixels_of(a), (std::vector<std::uint8_t>{0, 16, 128, 255, 1, 127}));
  const GreyImage b = decode_pgm("P2 3 2 # width and height\n255\n0 16 128\n255 1 127\n", "b.pgm");
  EXPECT_EQ(b.width, 3);
  EXPECT_EQ(b.height, 2);
  EXPECT_EQ(pixels_of(b), pixels_of(a));
}

TEST(Pgm, OtherMaxvalsScaleToBytesRounded) {
  // v · 255 / maxval, rounded: 2 of 7 is 73 (72.86), 7 of 15 is 119, a maxval is 255; 16-bit
  // values big-endian: 257 of 65535 is 1, 32768 is 128 (128.0002), 65535 is 255.
  EXPECT_EQ(pixels_of(decode_pgm("P2 3 1 7 0 2 7", "p2.pgm")), (std::vector<std::uint8_t>{0, 73, 255}));
  EXPECT_EQ(pixels_of(decode_pgm("P2 3 1 15 0 7 15", "p2.pgm")), (std::vector<std::uint8_t>{0, 119, 255}));
  const std::string wide = std::string("P5 3 1 65535\n") + std::string("\x01\x01\x80\x00\xff\xff", 6);
  EXPECT_EQ(pixels_of(decode_pgm(wide, "p5.pgm")), (std::vector<std::uint8_t>{1, 128, 255}));
}

TEST(Pgm, MalformedFilesAreRefusedWithOneLine) {
  auto refused = [](const std::string& bytes, const std::string& fragment) {
    test::expect_data_error([&] { decode_pgm(bytes, "bad.pgm"); }, fragment);
  };
  refused("GIF89a", "not a PGM image");
  refused("P3 1 1 255 0 0 0", "not a PGM image");
  refused("P5 2 2 255\n\x01\x02", "truncated: 2 bytes of pixels, 4 expected");
  refused("P2 2 1 15 3 16", "pixel value 16 exceeds maxval 15");
  refused("P2 1 1 0 0", "maxval 0 must be between 1 and 65535");
  refused("P2 1 1 70000 0", "maxval 70000");
  refused("P2 0 4 255", "size 0x4 is not usable");
  refused("P2 2", "ends before its height");
  refused("P2 1 1 255 7 8", "unexpected data after the pixels");
  refused("P5 1 1 255", "expected one whitespace character before the pixels");
  refused("P2 x 1 255", "expected width");
  refused("P2 99999999999 1 255", "width is too large");
}

TEST(Pgm, AFileThatCannotBeReadIsNamed) {
  test::TempDir dir;
  test::expect_data_error([&] { read_pgm((dir.path() / "missing.pgm").string()); }, "missing.pgm");
  test::expect_data_error([&] { read_pgm(dir.path().string()); }, dir.path().string());
  test::write_file(dir.path() / "one.pgm", {'P', '5', ' ', '1', ' ', '1', ' ', '2', '5', '5', ' ', 42});
  EXPECT_EQ(pixels_of(read_pgm((dir.path() / "one.pgm").string())), (std::vector<std::uint8_t>{42}));
}

}  // namespace
}  // namespace ptrain
