#include "ptrain/io/csv.hpp"

#include <csv.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <exception>
#include <filesystem>
#include <limits>
#include <map>
#include <span>

#include "ptrain/core/errors.hpp"
#include "ptrain/core/float32_range.hpp"
#include "ptrain/io/compressed_file.hpp"
#include "ptrain/io/file_checks.hpp"

namespace ptrain {
namespace {

constexpr std::size_t kMaxColumns = std::size_t{1} << 24;  // as many features as a .npy example may have
constexpr std::size_t kReadChunk = std::size_t{1} << 20;

std::string_view trimmed(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// A decimal number, as C's strtod reads one (without locale), leading '+' allowed.
bool parse_number(std::string_view s, double& v) {
  s = trimmed(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && end == s.data() + s.size();
}

// Extensions are matched without regard to case: DATA.CSV is a CSV.
std::string lower_case(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool whole_label(std::string_view s, std::uint8_t& out) {
  double v;
  if (!parse_number(s, v) || !(v >= 0 && v <= 255) || v != std::floor(v)) return false;
  out = static_cast<std::uint8_t>(v);
  return true;
}

// Reads rows as libcsv hands them over. libcsv is C: its callbacks must not throw, so the
// first problem is kept and thrown once csv_parse returns.
class CsvReader {
 public:
  CsvReader(const std::string& name, const CsvFormat& format, CsvLabels want, std::uint64_t expect_features,
            int classes, LabelCoding& coding, AlignedVector<float>& features, std::vector<std::uint8_t>& labels,
            std::vector<float>* targets)
      : name_(name),
        format_(format),
        want_(want),
        expect_features_(expect_features),
        classes_(classes),
        coding_(coding),
        features_(features),
        labels_(labels),
        targets_(targets),
        first_label_(labels.size()) {
    if (regression() && !targets_ && want_ == CsvLabels::required)
      throw std::logic_error("append_csv: target columns named without a place for the targets");
    csv_init(&parser_, CSV_STRICT | CSV_STRICT_FINI);
    const std::string lower = lower_case(std::filesystem::path(name).filename().string());
    tab_separated_ = lower.ends_with(".tsv") || lower.ends_with(".tsv.gz");
    if (tab_separated_) csv_set_delim(&parser_, CSV_TAB);
  }
  ~CsvReader() { csv_free(&parser_); }
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  // The first line with something on it decides how rows split (whitespace_separated); until
  // it is whole, the text waits.
  void feed(std::string_view text) {
    if (split_ == Split::undecided) {
      first_text_.append(text);
      const std::size_t content = first_text_.find_first_not_of(" \t\r\n");
      const std::size_t end = content == std::string::npos ? content : first_text_.find('\n', content);
      if (end == std::string::npos) return;
      decide_split(std::string_view(first_text_).substr(content, end - content));
      const std::string waiting = std::move(first_text_);
      return feed(waiting);
    }
    if (split_ == Split::whitespace) return feed_words(text);
    feed_csv(text);
  }

  // Feeds libcsv a line at a time, so that each row knows the line it started on.
  void feed_csv(std::string_view text) {
    if (line_ == 1 && at_line_start_ && text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // a UTF-8 BOM
    while (!text.empty()) {
      const std::size_t nl = text.find('\n');
      const std::string_view piece = text.substr(0, nl == std::string_view::npos ? text.size() : nl + 1);
      // A row starts on the first line with something on it after the last row ended (a
      // quoted field may carry it over many lines: an unclosed quote is reported here).
      if (!in_row_ && piece.find_first_not_of(" \t\r\n") != std::string_view::npos) {
        in_row_ = true;
        row_line_ = line_;
      }
      if (csv_parse(&parser_, piece.data(), piece.size(), on_field, on_row, this) != piece.size() && !error_)
        fail(line_, std::string("malformed CSV (") + csv_strerror(csv_error(&parser_)) + ")");
      if (error_) std::rethrow_exception(error_);
      at_line_start_ = nl != std::string_view::npos;
      if (at_line_start_) ++line_;
      text.remove_prefix(piece.size());
    }
  }

  CsvShape finish() {
    if (split_ == Split::undecided) {  // one line, without a line break after it
      const std::size_t content = first_text_.find_first_not_of(" \t\r\n");
      decide_split(content == std::string::npos ? "" : std::string_view(first_text_).substr(content));
      const std::string waiting = std::move(first_text_);
      feed(waiting);
    }
    if (split_ == Split::whitespace) {
      words_row(words_line_);  // the last line, when no line break ends it
      words_line_.clear();
    }
    if (csv_fini(&parser_, on_field, on_row, this) != 0 && !error_)
      fail(row_line_, "malformed CSV (a quoted field is not closed)");
    if (error_) std::rethrow_exception(error_);
    if (!first_.empty()) data_row(first_, first_line_);  // a file of one row has no header
    if (error_) std::rethrow_exception(error_);
    if (rows_ == 0) throw DataError(name_ + ": no rows of data");
    if (has_labels_ && want_ == CsvLabels::required && !regression()) decide_labels();
    CsvShape shape{
        rows_, width_ - label_columns(), has_labels_, has_labels_ ? static_cast<int>(target_at_.size()) : 0, {}, note_};
    if (header_.size() == width_) {
      if (want_ == CsvLabels::none)
        for (const std::string& h : header_) shape.names.emplace_back(trimmed(h));
      for (std::size_t c : target_at_) shape.names.emplace_back(trimmed(header_[c]));
    }
    return shape;
  }

 private:
  // Files such as scikit-learn's diabetes data separate values by spaces: a first line with
  // no comma, tab or quote but a space between two values says so. Those rows are split on
  // runs of spaces and tabs, without quoting.
  void decide_split(std::string_view first_line) {
    const std::size_t last = first_line.find_last_not_of(" \t\r");
    const std::string_view line = first_line.substr(0, last == std::string_view::npos ? 0 : last + 1);
    const bool spaced = line.find_first_of(",\t\"") == std::string_view::npos &&
                        line.find(' ') != std::string_view::npos && !tab_separated_;
    split_ = spaced ? Split::whitespace : Split::libcsv;
  }

  void feed_words(std::string_view text) {
    if (line_ == 1 && words_line_.empty() && text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
    while (!text.empty() && !error_) {
      const std::size_t nl = text.find('\n');
      words_line_.append(text.substr(0, nl));
      if (nl == std::string_view::npos) return;
      words_row(words_line_);
      words_line_.clear();
      ++line_;
      text.remove_prefix(nl + 1);
    }
    if (error_) std::rethrow_exception(error_);
  }

  // One line's words as a row (a blank line is none), as libcsv would hand them over.
  void words_row(std::string_view line) {
    std::size_t at = line.find_first_not_of(" \t\r");
    if (at == std::string_view::npos) return;
    row_line_ = line_;
    while (at != std::string_view::npos) {
      const std::size_t end = std::min(line.find_first_of(" \t\r", at), line.size());
      on_field(const_cast<char*>(line.data() + at), end - at, this);
      at = line.find_first_not_of(" \t\r", end);
    }
    on_row('\n', this);
    if (error_) std::rethrow_exception(error_);
  }

  static void on_field(void* s, std::size_t len, void* self) {
    auto* r = static_cast<CsvReader*>(self);
    if (r->error_) return;
    if (r->fields_ == kMaxColumns) return r->fail(r->row_line_, "more than 16777216 columns");
    if (r->fields_ == r->row_.size()) r->row_.emplace_back();
    r->row_[r->fields_++].assign(s ? static_cast<const char*>(s) : "", s ? len : 0);
  }
  static void on_row(int, void* self) {
    auto* r = static_cast<CsvReader*>(self);
    r->in_row_ = false;
    if (!r->error_) r->row_done();
    r->fields_ = 0;
  }

  void fail(std::uint64_t line, const std::string& why) {
    if (!error_) error_ = std::make_exception_ptr(DataError(name_ + ": line " + std::to_string(line) + ": " + why));
  }

  // The first row waits for the second to tell whether it is a header (detect), unless told.
  void row_done() {
    const std::span<const std::string> row(row_.data(), fields_);
    if (rows_ == 0 && !header_decided_) {
      if (format_.header != CsvHeader::detect) {
        header_decided_ = true;
        if (format_.header == CsvHeader::yes) return header_.assign(row.begin(), row.end());
      } else if (first_.empty()) {
        first_.assign(row.begin(), row.end());
        first_line_ = row_line_;
        return;
      } else if (is_sizes_line(first_) && no_numbers(row)) {
        first_.assign(row.begin(), row.end());  // the names: a header if the next row is numbers
        first_line_ = row_line_;
        return;
      } else {
        header_decided_ = true;
        if (looks_like_header(row)) {
          header_ = std::move(first_);
        } else {
          data_row(first_, first_line_);
        }
        first_.clear();
      }
    }
    data_row(row, row_line_);
  }

  // scikit-learn's short first line of sizes, "506,13,,,…" (Boston's), before a line of names:
  // two whole numbers, the rest empty. (Iris's "150,4,setosa,…" is a header by the rule below.)
  static bool is_sizes_line(std::span<const std::string> row) {
    auto whole = [](const std::string& f) {
      double v;
      return parse_number(f, v) && v >= 0 && v == std::floor(v);
    };
    return row.size() >= 2 && whole(row[0]) && whole(row[1]) &&
           std::all_of(row.begin() + 2, row.end(), [](const std::string& f) { return trimmed(f).empty(); });
  }

  static bool no_numbers(std::span<const std::string> row) {
    double v;
    return std::none_of(row.begin(), row.end(), [&](const std::string& f) { return parse_number(f, v); });
  }

  bool looks_like_header(std::span<const std::string> second) const {
    double v;
    for (std::size_t i = 0; i < std::min(first_.size(), second.size()); ++i)
      if (!parse_number(first_[i], v) && parse_number(second[i], v)) return true;
    return false;
  }

  void data_row(std::span<const std::string> row, std::uint64_t line) {
    if (error_) return;
    if (width_ == 0) shape_from(row.size(), line);
    if (error_) return;
    if (row.size() != width_)
      return fail(line, std::to_string(row.size()) + " values, but line " + std::to_string(width_line_) + " has " +
                            std::to_string(width_));
    for (std::size_t c = 0; c < row.size(); ++c) {
      if (has_labels_ && !target_slot_.empty() && target_slot_[c] >= 0) {
        if (want_ == CsvLabels::ignored) continue;
        float v = 0;
        if (!number_at(row[c], line, c, "target", v)) return;
        row_targets_[target_slot_[c]] = v;
        continue;
      }
      if (c == label_at_) {
        label(row[c], line);
        continue;
      }
      float v = 0;
      if (!number_at(row[c], line, c, "value", v)) return;
      features_.push_back(v);
    }
    if (has_labels_ && regression() && want_ != CsvLabels::ignored) {
      targets_->insert(targets_->end(), row_targets_.begin(), row_targets_.end());
      labels_.push_back(0);
    }
    ++rows_;
  }

  // Field c of a row as a finite float32, or false once the row's problem is kept.
  bool number_at(const std::string& field, std::uint64_t line, std::size_t c, const char* what, float& out) {
    double v;
    if (trimmed(field).empty()) return fail(line, "column " + column_name(c) + ": a missing " + what), false;
    if (!parse_number(field, v))
      return fail(line,
                  "column " + column_name(c) + ": '" + std::string(trimmed(field).substr(0, 40)) + "' is not a number"),
             false;
    if (!rounds_to_finite_float32(v))
      return fail(line, "column " + column_name(c) + ": " + std::string(trimmed(field)) + " is not a finite float32"),
             false;
    out = static_cast<float>(v);
    return true;
  }

  bool regression() const { return !format_.target_columns.empty() && want_ != CsvLabels::none; }
  std::size_t label_columns() const { return !has_labels_ ? 0 : regression() ? target_at_.size() : 1; }

  // The first data row sets the width, whether there is a label column, and which it is.
  void shape_from(std::size_t width, std::uint64_t line) {
    width_ = width;
    width_line_ = line;
    has_labels_ = want_ != CsvLabels::none && !(want_ == CsvLabels::ignored && expect_features_ == width);
    if (has_labels_ && regression())
      target_columns();
    else if (has_labels_)
      label_at_ = column_of(format_.label_column, "--label-column");
    if (error_) return;
    const std::size_t features = width - label_columns();
    if (features == 0)
      return fail(line, regression() ? "every column is a target: there are no features"
                                     : "one column, the labels: there are no features");
    const char* labels = regression() ? "the target columns" : "a label column";
    if (expect_features_ != 0 && features != expect_features_)
      fail(line, std::to_string(width) + " columns, but " + std::to_string(expect_features_) + " features" +
                     (want_ == CsvLabels::ignored ? " (and optionally " + std::string(labels) + ")"
                                                  : " and " + std::string(labels)) +
                     " are expected");
  }

  // Regression: where each named target column is; a column named twice is refused.
  void target_columns() {
    target_slot_.assign(width_, -1);
    for (const std::string& want : format_.target_columns) {
      const std::size_t c = column_of(want, "--target-columns");
      if (error_) return;
      if (target_slot_[c] >= 0) return fail(width_line_, "--target-columns names column " + column_name(c) + " twice");
      target_slot_[c] = static_cast<int>(target_at_.size());
      target_at_.push_back(c);
    }
    row_targets_.assign(target_at_.size(), 0.0f);
  }

  std::size_t column_of(const std::string& want, const std::string& option) {
    if (want == "last" || want.empty()) return width_ - 1;
    if (want == "first") return 0;
    if (std::all_of(want.begin(), want.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      const std::size_t n = want.size() > 9 ? 0 : std::stoul(want);
      if (n >= 1 && n <= width_) return n - 1;
      fail(width_line_, option + " " + want + ": the rows have " + std::to_string(width_) + " columns (1 to " +
                            std::to_string(width_) + ")");
      return 0;
    }
    for (std::size_t c = 0; c < header_.size() && header_.size() == width_; ++c)
      if (trimmed(header_[c]) == want) return c;
    std::string names;
    for (std::size_t c = 0; c < std::min<std::size_t>(header_.size(), 8); ++c) {
      names += c == 0 ? "" : ", ";
      names += trimmed(header_[c]);
    }
    fail(width_line_,
         option + " '" + want + "': " +
             (header_.empty()            ? std::string("the file has no header row to name it")
              : header_.size() != width_ ? "the header row has " + std::to_string(header_.size()) + " names for " +
                                               std::to_string(width_) + " columns"
                                         : "not in the header row (" + names + (header_.size() > 8 ? ", …)" : ")")));
    return 0;
  }

  std::string column_name(std::size_t c) const {
    std::string s = std::to_string(c + 1);
    if (header_.size() == width_ && !trimmed(header_[c]).empty()) {
      s += " (";
      s += trimmed(header_[c]).substr(0, 40);
      s += ')';
    }
    return s;
  }

  void label(std::string_view text, std::uint64_t line) {
    if (want_ == CsvLabels::ignored) return;
    text = trimmed(text);
    if (text.empty()) return fail(line, "column " + column_name(label_at_) + ": a missing label");
    std::uint8_t cls = 0;
    if (!coding_.decided) {  // decided once the whole file is read
      pending_.emplace_back(text);
      lines_.push_back(line);
    } else if (coding_.names.empty()) {
      if (!whole_label(text, cls))
        return fail(line, "label '" + std::string(text.substr(0, 40)) + "' is not a whole number from 0 to 255, as " +
                              "the training data's labels are");
    } else {
      const auto it = std::lower_bound(coding_.names.begin(), coding_.names.end(), text);
      if (it == coding_.names.end() || *it != text)
        return fail(line,
                    "label '" + std::string(text.substr(0, 40)) + "' is not one of the classes (" + some_names() + ")");
      cls = static_cast<std::uint8_t>(it - coding_.names.begin());
    }
    if (coding_.decided && cls >= classes_) return fail(line, out_of_range(cls));
    labels_.push_back(cls);
  }

  // The first file's labels: whole numbers are classes, else every label is a name.
  void decide_labels() {
    std::uint8_t cls = 0;
    const bool numbers =
        std::all_of(pending_.begin(), pending_.end(), [&](const std::string& s) { return whole_label(s, cls); });
    if (!coding_.decided && !numbers) refuse_numeric_labels();
    if (!coding_.decided && !numbers) {
      std::vector<std::string> names = pending_;
      std::sort(names.begin(), names.end());
      names.erase(std::unique(names.begin(), names.end()), names.end());
      if (names.size() > 256)
        throw DataError(name_ + ": " + std::to_string(names.size()) + " distinct labels; at most 256 classes");
      coding_.names = std::move(names);
      note_header_as_class();
    }
    coding_.decided = true;
    for (std::size_t i = 0; i < pending_.size(); ++i) {
      if (numbers) {
        whole_label(pending_[i], cls);
      } else {
        cls = static_cast<std::uint8_t>(std::lower_bound(coding_.names.begin(), coding_.names.end(), pending_[i]) -
                                        coding_.names.begin());
      }
      if (cls >= classes_) throw DataError(name_ + ": line " + std::to_string(lines_[i]) + ": " + out_of_range(cls));
      labels_[first_label_ + i] = cls;
    }
  }

  // A first row of numbers is data when the header is detected; if its label is then a class of
  // that row alone, the row was most likely a header (of numbers) and the class a mistake.
  void note_header_as_class() {
    if (format_.header != CsvHeader::detect || !header_.empty() || pending_.size() < 2) return;
    if (std::count(pending_.begin(), pending_.end(), pending_.front()) != 1) return;
    note_ = name_ + ": line " + std::to_string(lines_.front()) + " was read as data, and its label '" +
            pending_.front().substr(0, 40) +
            "' is a class of that row alone; if the line is a header, say --header yes";
  }

  // Labels that are all numbers, some not whole or past 255, are a regression's targets or the
  // wrong column, not names.
  // When none of them is a class, the column is a feature: the file has no label column.
  void refuse_numeric_labels() const {
    double v;
    for (std::size_t i = 0; i < pending_.size(); ++i)
      if (!parse_number(pending_[i], v)) return;
    std::uint8_t cls;
    const bool some_class =
        std::any_of(pending_.begin(), pending_.end(), [&](const std::string& s) { return whole_label(s, cls); });
    for (std::size_t i = 0; i < pending_.size(); ++i) {
      if (whole_label(pending_[i], cls)) continue;
      const std::string at = name_ + ": line " + std::to_string(lines_[i]) + ": ";
      if (some_class)
        throw DataError(at + "label " + pending_[i] +
                        " is not a whole number from 0 to 255 (labels are classes: whole numbers, or names)");
      throw DataError(at + "no label column: column " + column_name(label_at_) +
                      ", taken as the labels (--label-column " + format_.label_column + "), holds " + pending_[i] +
                      " and no row a class (labels are whole numbers 0-255, or names); a file of features alone has "
                      "nothing to train on");
    }
  }

  std::string out_of_range(std::uint8_t cls) const {
    return "label " + (coding_.names.empty() ? std::to_string(cls) : "'" + coding_.names[cls] + "'") + " is class " +
           std::to_string(cls) + ", outside 0-" + std::to_string(classes_ - 1);
  }

  std::string some_names() const {
    std::string s;
    for (std::size_t i = 0; i < std::min<std::size_t>(coding_.names.size(), 8); ++i) {
      s += i == 0 ? "" : ", ";
      s += coding_.names[i];
    }
    if (coding_.names.size() > 8) s += ", …";
    return s;
  }

  const std::string& name_;
  const CsvFormat& format_;
  CsvLabels want_;
  std::uint64_t expect_features_;
  int classes_;
  LabelCoding& coding_;
  AlignedVector<float>& features_;
  std::vector<std::uint8_t>& labels_;
  std::vector<float>* targets_;  // regression only
  std::size_t first_label_;
  std::vector<std::size_t> target_at_;  // regression: the target columns, in the order named
  std::vector<int> target_slot_;        // each column's place among them (−1: not a target)
  std::vector<float> row_targets_;      // the row's targets as they are read

  csv_parser parser_{};
  std::exception_ptr error_;
  std::uint64_t line_ = 1, row_line_ = 1, first_line_ = 0, width_line_ = 0, rows_ = 0;
  bool at_line_start_ = true, header_decided_ = false, has_labels_ = false, in_row_ = false, tab_separated_ = false;
  enum class Split { undecided, libcsv, whitespace } split_ = Split::undecided;
  std::string first_text_;  // the text before the first line is whole (Split::undecided)
  std::string words_line_;  // the line being read, whitespace-separated
  std::vector<std::string> row_, first_, header_;
  std::size_t fields_ = 0, width_ = 0, label_at_ = std::size_t(-1);
  std::vector<std::string> pending_;  // the labels' text, while the first file decides their coding
  std::string note_;                  // a warning for the user (CsvShape::note)
  std::vector<std::uint64_t> lines_;
};

}  // namespace

bool csv_name(const std::string& path) {
  const std::string name = lower_case(std::filesystem::path(path).filename().string());
  for (const char* ext : {".csv", ".tsv", ".csv.gz", ".tsv.gz"})
    if (name.ends_with(ext)) return true;
  return false;
}

CsvShape append_csv_text(std::string_view text, const std::string& name, const CsvFormat& format, CsvLabels want,
                         std::uint64_t expect_features, int classes, LabelCoding& coding,
                         AlignedVector<float>& features, std::vector<std::uint8_t>& labels,
                         std::vector<float>* targets) {
  CsvReader reader(name, format, want, expect_features, classes, coding, features, labels, targets);
  reader.feed(text);
  return reader.finish();
}

CsvShape append_csv(const std::string& path, const CsvFormat& format, CsvLabels want, std::uint64_t expect_features,
                    int classes, LabelCoding& coding, AlignedVector<float>& features, std::vector<std::uint8_t>& labels,
                    std::vector<float>* targets) {
  if (const std::string problem = input_problem(path); !problem.empty()) throw DataError(path + ": " + problem);
  std::error_code ec;
  const std::uint64_t total = std::filesystem::file_size(path, ec);
  CompressedFile in(path);  // plain, or gzip's data (by its magic, whatever the name says)
  CsvReader reader(path, format, want, expect_features, classes, coding, features, labels, targets);
  std::string chunk(kReadChunk, '\0');
  while (const std::size_t got = in.read(chunk.data(), chunk.size())) {
    reader.feed(std::string_view(chunk.data(), got));
    if (format.progress) format.progress(path, in.raw_bytes_read(), total);
  }
  return reader.finish();
}

}  // namespace ptrain
