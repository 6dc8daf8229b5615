// The CSV reader on text written here: values and labels read back as written, the header
// and label column found, names mapped to classes, gzip read as such, and one line naming the
// file and the line for every file it refuses.
#include <gtest/gtest.h>
#include <zlib.h>

#include <fstream>
#include <functional>

#include "ptrain/core/errors.hpp"
#include "ptrain/io/csv.hpp"
#include "support.hpp"

namespace ptrain {
namespace {

using test::expect_data_error;

struct Read {
  CsvShape shape;
  AlignedVector<float> features;
  std::vector<std::uint8_t> labels;
  LabelCoding coding;
};

Read read(std::string_view text, CsvFormat format = {}, LabelCoding coding = {}, int classes = 256,
          CsvLabels want = CsvLabels::required, std::uint64_t expect = 0) {
  Read r;
  r.coding = std::move(coding);
  r.shape = append_csv_text(text, "t.csv", format, want, expect, classes, r.coding, r.features, r.labels);
  return r;
}

TEST(Csv, ReadsValuesAndWholeNumberLabelsAsWritten) {
  const Read r = read("1.5,-2,3e-1,7\n0.25, 4 ,\"5\",0\n");
  EXPECT_EQ(r.shape.count, 2u);
  EXPECT_EQ(r.shape.features, 3u);
  EXPECT_EQ(r.features, (AlignedVector<float>{1.5f, -2.0f, 0.3f, 0.25f, 4.0f, 5.0f}));
  EXPECT_EQ(r.labels, (std::vector<std::uint8_t>{7, 0}));
  EXPECT_TRUE(r.coding.decided);
  EXPECT_TRUE(r.coding.names.empty());
}

TEST(Csv, TakesWindowsLineEndsABomBlankLinesAndNoFinalNewline) {
  const Read r = read(
      "\xEF\xBB\xBF"
      "a,b,label\r\n1,2,1\r\n\r\n3,4,0");
  EXPECT_EQ(r.features, (AlignedVector<float>{1, 2, 3, 4}));
  EXPECT_EQ(r.labels, (std::vector<std::uint8_t>{1, 0}));
}

TEST(Csv, DetectsAHeaderOnlyWhereTheSecondRowIsNumeric) {
  EXPECT_EQ(read("x,y,label\n1,2,0\n").shape.count, 1u);
  EXPECT_EQ(read("1,2,0\n3,4,1\n").shape.count, 2u);  // all numbers: no header
  // Names in the label column of both rows: data, not a header.
  EXPECT_EQ(read("1,2,cat\n3,4,dog\n").shape.count, 2u);
  // scikit-learn's own header (rows, columns, class names) is shorter than the rows: skipped.
  const Read wine = read("2,2,class_0,class_1\n1,2,0\n3,4,1\n");
  EXPECT_EQ(wine.shape.count, 2u);
  EXPECT_EQ(wine.labels, (std::vector<std::uint8_t>{0, 1}));
  CsvFormat yes;
  yes.header = CsvHeader::yes;
  EXPECT_EQ(read("1,2,0\n3,4,1\n", yes).shape.count, 1u);
  CsvFormat no;
  no.header = CsvHeader::no;
  expect_data_error([&] { read("x,y,label\n1,2,0\n", no); }, "line 1: column 1: 'x' is not a number");
}

TEST(Csv, FindsTheLabelColumnByPositionOrName) {
  CsvFormat f;
  f.label_column = "first";
  EXPECT_EQ(read("3,1,2\n", f).labels, (std::vector<std::uint8_t>{3}));
  f.label_column = "2";
  Read r = read("3,1,2\n", f);
  EXPECT_EQ(r.labels, (std::vector<std::uint8_t>{1}));
  EXPECT_EQ(r.features, (AlignedVector<float>{3, 2}));
  f.label_column = "kind";
  r = read("a,kind,b\n5,1,6\n", f);
  EXPECT_EQ(r.labels, (std::vector<std::uint8_t>{1}));
  EXPECT_EQ(r.features, (AlignedVector<float>{5, 6}));
  f.label_column = "4";
  expect_data_error([&] { read("3,1,2\n", f); }, "--label-column 4: the rows have 3 columns");
  f.label_column = "species";
  expect_data_error([&] { read("a,kind,b\n5,1,6\n", f); }, "'species': not in the header row (a, kind, b)");
  expect_data_error([&] { read("5,1,6\n", f); }, "the file has no header row to name it");
}

TEST(Csv, MapsNamedLabelsToClassesInSortedOrderAndLaterFilesByThoseNames) {
  Read r = read("1,dog\n2,cat\n3,emu\n4,cat\n");
  EXPECT_EQ(r.coding.names, (std::vector<std::string>{"cat", "dog", "emu"}));
  EXPECT_EQ(r.labels, (std::vector<std::uint8_t>{1, 0, 2, 0}));
  // A test file with only some of the classes keeps the training file's numbering.
  Read test = read("5,emu\n", {}, r.coding);
  EXPECT_EQ(test.labels, (std::vector<std::uint8_t>{2}));
  expect_data_error([&] { read("5,fox\n", {}, r.coding); },
                    "line 1: label 'fox' is not one of the classes (cat, dog, emu)");
  // Whole-number labels decided by the training file: a name later is refused.
  LabelCoding numbers;
  numbers.decided = true;
  expect_data_error([&] { read("5,cat\n", {}, numbers); }, "label 'cat' is not a whole number from 0 to 255");
  // Mixed: one label is not a number, so every label is a name ("1" < "cat").
  EXPECT_EQ(read("1,1\n2,cat\n").coding.names, (std::vector<std::string>{"1", "cat"}));
}

TEST(Csv, RefusesLabelsPastTheClassesOrNotClassesAtAll) {
  expect_data_error([] { read("1,0\n2,5\n", {}, {}, 3); }, "line 2: label 5 is class 5, outside 0-2");
  expect_data_error([] { read("1,b\n2,c\n3,a\n", {}, {}, 2); }, "line 2: label 'c' is class 2, outside 0-1");
  expect_data_error([] { read("1,0\n2,2.5\n"); }, "line 2: label 2.5 is not a whole number from 0 to 255");
  expect_data_error([] { read("1,0\n2,300\n"); }, "line 2: label 300 is not a whole number");
  std::string many;
  for (int i = 0; i < 257; ++i) many += "1,n" + std::to_string(i) + "\n";
  expect_data_error([&] { read(many); }, "257 distinct labels; at most 256 classes");
}

TEST(Csv, RefusesBadValuesNamingLineAndColumn) {
  expect_data_error([] { read("a,b,label\n1,2,0\n3,,1\n"); }, "t.csv: line 3: column 2 (b): a missing value");
  expect_data_error([] { read("1,2,0\n3,x4,1\n"); }, "line 2: column 2: 'x4' is not a number");
  expect_data_error([] { read("1,2,0\n3,4\n"); }, "line 2: 2 values, but line 1 has 3");
  expect_data_error([] { read("1,2,0\n3,inf,1\n"); }, "line 2: column 2: inf is not a finite float32");
  expect_data_error([] { read("1,2,0\n3,1e39,1\n"); }, "is not a finite float32");
  expect_data_error([] { read("1,2,0\n3,4,\n"); }, "line 2: column 3: a missing label");
  expect_data_error([] { read("1,2,0\n3,\"4,1\n"); }, "line 2: malformed CSV");
  expect_data_error([] { read("1,2,0\n3,\"4\"x,1\n"); }, "line 2: malformed CSV");
  expect_data_error([] { read(""); }, "t.csv: no rows of data");
  expect_data_error([] { read("a,b\n"); }, "line 1: column 1: 'a' is not a number");  // one row: no header
  expect_data_error([] { read("0\n1\n"); }, "line 1: one column, the labels: there are no features");
  expect_data_error([] { read("1,2,0\n", {}, {}, 256, CsvLabels::required, 3); }, "line 1: 3 columns, but 3 features");
}

TEST(Csv, PredictionSkipsTheLabelColumnWhenThereIsOne) {
  Read with = read("1,2,cat\n3,4,dog\n", {}, {}, 256, CsvLabels::ignored, 2);
  EXPECT_EQ(with.features, (AlignedVector<float>{1, 2, 3, 4}));
  EXPECT_TRUE(with.labels.empty());
  Read without = read("1,2\n3,4\n", {}, {}, 256, CsvLabels::ignored, 2);
  EXPECT_EQ(without.features, (AlignedVector<float>{1, 2, 3, 4}));
  EXPECT_FALSE(without.shape.has_labels);
  expect_data_error([] { read("1,2,3,4\n", {}, {}, 256, CsvLabels::ignored, 2); },
                    "4 columns, but 2 features (and optionally a label column) are expected");
}

TEST(Csv, ReadsGzipAndTabSeparatedFilesAndNamesTheFileInEveryRefusal) {
  test::TempDir dir;
  const std::string gz = (dir.path() / "d.csv.gz").string(), tsv = (dir.path() / "d.tsv").string();
  const std::string text = "a,b,label\n1.5,2,1\n3,4,0\n";
  gzFile f = gzopen(gz.c_str(), "wb");
  gzwrite(f, text.data(), static_cast<unsigned>(text.size()));
  gzclose(f);
  test::write_file(tsv, {'1', '\t', '2', '\t', '1', '\n'});
  Read r;
  std::uint64_t reported = 0;
  CsvFormat format;
  format.progress = [&](const std::string&, std::uint64_t done, std::uint64_t) { reported = done; };
  r.shape = append_csv(gz, format, CsvLabels::required, 0, 256, r.coding, r.features, r.labels);
  EXPECT_EQ(r.features, (AlignedVector<float>{1.5f, 2, 3, 4}));
  EXPECT_EQ(r.labels, (std::vector<std::uint8_t>{1, 0}));
  EXPECT_GT(reported, 0u);
  Read t;
  t.shape = append_csv(tsv, {}, CsvLabels::required, 0, 256, t.coding, t.features, t.labels);
  EXPECT_EQ(t.features, (AlignedVector<float>{1, 2}));
  // A gzip stream cut short is a damaged file, not a shorter one.
  std::ifstream in(gz, std::ios::binary);
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
  bytes.resize(bytes.size() - 12);
  test::write_file(gz, bytes);
  expect_data_error([&] { append_csv(gz, {}, CsvLabels::required, 0, 256, t.coding, t.features, t.labels); },
                    gz + ": ");
  expect_data_error(
      [&] {
        append_csv((dir.path() / "none.csv").string(), {}, CsvLabels::required, 0, 256, t.coding, t.features, t.labels);
      },
      "none.csv: file not found");
}

}  // namespace
}  // namespace ptrain

namespace ptrain {
namespace {

// scikit-learn's diabetes data separates values by single spaces, others by runs of spaces and
// tabs: read as the comma-separated text of the same values reads.
TEST(Csv, ReadsWhitespaceSeparatedRowsAsTheSameCommaSeparatedOnes) {
  const Read spaced = read(
      "\xEF\xBB\xBF"
      "59 2 32.1  101.0 1\n48\t1 21.6 87.0 0\r\n\n  72 2 30.5 93.0   1");
  const Read commas = read("59,2,32.1,101.0,1\n48,1,21.6,87.0,0\n72,2,30.5,93.0,1\n");
  EXPECT_EQ(spaced.shape.count, 3u);
  EXPECT_EQ(spaced.features, commas.features);
  EXPECT_EQ(spaced.labels, commas.labels);
  const Read named = read("age sex bmi bp y\n59 2 32.1 101.0 1\n48 1 21.6 87.0 0\n", {CsvHeader::detect, "y", {}, {}});
  EXPECT_EQ(named.features, (AlignedVector<float>{59, 2, 32.1f, 101, 48, 1, 21.6f, 87}));
  EXPECT_EQ(named.labels, (std::vector<std::uint8_t>{1, 0}));
  expect_data_error([] { read("1 2 3\n4 x 6\n"); }, "t.csv: line 2: column 2: 'x' is not a number");
  expect_data_error([] { read("1 2 3\n\n4 5\n"); }, "line 3: 2 values, but line 1 has 3");
  // A comma, tab or quote on the first line keeps the CSV rules, spaces inside fields and all.
  const Read csv = read("first name,b,label\n1,2,0\n");
  EXPECT_EQ(csv.features, (AlignedVector<float>{1, 2}));
}

}  // namespace
}  // namespace ptrain

namespace ptrain {
namespace {

// Boston's CSV as scikit-learn ships it: a line of sizes, then the names, then the rows.
TEST(Csv, SkipsScikitLearnsLineOfSizesBeforeTheNames) {
  const Read r = read("3,2,,\n\"A\",\"B\",\"Y\"\n0.5,18,1\n0.25,0,0\n1,2,1\n", {CsvHeader::detect, "Y", {}, {}});
  EXPECT_EQ(r.shape.count, 3u);
  EXPECT_EQ(r.features, (AlignedVector<float>{0.5f, 18, 0.25f, 0, 1, 2}));
  EXPECT_EQ(r.labels, (std::vector<std::uint8_t>{1, 0, 1}));
  // Two whole numbers followed by data are data.
  EXPECT_EQ(read("3,2,1\n4,5,0\n").shape.count, 2u);
}

}  // namespace
}  // namespace ptrain
