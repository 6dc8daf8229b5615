#pragma once
// CSV files of examples: one row an example, numeric feature columns and one label column.
// Parsed by libcsv (RFC 4180 quoting, strict); read through zlib, so a gzip-compressed file is
// read as such whatever its name. A header row is taken when asked for, or, when detecting,
// when some field of the first row is not a number where the second row's is. Tab-separated
// when the name ends in .tsv (or .tsv.gz). Refused, each with one line naming the file and the
// line: a missing or non-numeric value, a row of another width, a label that is not a class.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ptrain/core/aligned.hpp"
#include "ptrain/core/config.hpp"

namespace ptrain {

struct CsvFormat {
  CsvHeader header = CsvHeader::detect;
  // "last" (the default), "first", a column number counted from 1 (as cut and awk count), or a
  // name in the header row.
  std::string label_column = "last";
  // Regression: the columns that hold real-valued targets, in the order the net's outputs take
  // them, each in label_column's words; empty: the file's labels are classes.
  std::vector<std::string> target_columns;
  // Called after every MiB read: the file, bytes read so far (of the file as stored) and its size.
  std::function<void(const std::string& path, std::uint64_t done, std::uint64_t total)> progress;
};

// How label text becomes a class. Labels that are all whole numbers 0-255 are their classes;
// otherwise every label is a name, and the classes are the names in sorted order. The first
// file read decides (`decided` false on the way in); later files, and a model's data, use its
// names.
struct LabelCoding {
  bool decided = false;
  std::vector<std::string> names;  // class c's name; empty: labels are whole numbers
};

// Whether a label column must be there (training, evaluation), is skipped unread when there
// is one (prediction: a file of `expect_features` columns has none), or is not there (a file
// of features alone, or of targets alone, whose every column is a value).
enum class CsvLabels { required, ignored, none };

struct CsvShape {
  std::uint64_t count = 0;     // rows of data
  std::uint64_t features = 0;  // columns less the label column (or the target columns)
  bool has_labels = false;
  int targets = 0;  // regression: the target columns read
  // The header's names of the target columns (of every column when the file has no label
  // column); empty without a header.
  std::vector<std::string> names;
  std::string note;  // a warning worth printing (a header of numbers read as a class), or empty
};

// Appends the rows' features (float32, finite) to `features` and their classes to `labels`.
// `expect_features` (0: any) is the width a later file or a model requires. For a regression
// (format.target_columns named) each row's targets, in the order named, go to `targets` and
// its label is 0.
CsvShape append_csv(const std::string& path, const CsvFormat& format, CsvLabels want, std::uint64_t expect_features,
                    int classes, LabelCoding& coding, AlignedVector<float>& features, std::vector<std::uint8_t>& labels,
                    std::vector<float>* targets = nullptr);

// The same on text in memory (`name` for messages): what the fuzz target and tests use.
CsvShape append_csv_text(std::string_view text, const std::string& name, const CsvFormat& format, CsvLabels want,
                         std::uint64_t expect_features, int classes, LabelCoding& coding,
                         AlignedVector<float>& features, std::vector<std::uint8_t>& labels,
                         std::vector<float>* targets = nullptr);

// Whether a file's name says CSV: .csv, .tsv, either with .gz added.
bool csv_name(const std::string& path);

}  // namespace ptrain
