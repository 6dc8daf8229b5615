// libFuzzer target: the CSV reader on arbitrary text, as a training file (labels decided by the
// file), as a prediction input (label column skipped), as a regression's file (two target
// columns, first and last) and as a file of values alone. Anything but a result or a DataError
// is a bug.
#include <cstdint>
#include <string_view>

#include "ptrain/core/errors.hpp"
#include "ptrain/io/csv.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (ptrain::CsvLabels want : {ptrain::CsvLabels::required, ptrain::CsvLabels::ignored}) {
    ptrain::LabelCoding coding;
    ptrain::AlignedVector<float> features;
    std::vector<std::uint8_t> labels;
    try {
      const ptrain::CsvShape s = ptrain::append_csv_text(
          text, "fuzz.csv", {}, want, want == ptrain::CsvLabels::ignored ? 3 : 0, 10, coding, features, labels);
      if (features.size() != s.count * s.features) __builtin_trap();
      if (want == ptrain::CsvLabels::required && labels.size() != s.count) __builtin_trap();
    } catch (const ptrain::DataError&) {
    }
  }
  for (ptrain::CsvLabels want : {ptrain::CsvLabels::required, ptrain::CsvLabels::none}) {
    ptrain::LabelCoding coding;
    ptrain::AlignedVector<float> features;
    std::vector<std::uint8_t> labels;
    std::vector<float> targets;
    ptrain::CsvFormat format;
    format.target_columns = {"last", "first"};
    try {
      const ptrain::CsvShape s =
          ptrain::append_csv_text(text, "fuzz.csv", format, want, 0, 10, coding, features, labels, &targets);
      if (features.size() != s.count * s.features) __builtin_trap();
      if (targets.size() != s.count * static_cast<std::size_t>(s.targets)) __builtin_trap();
      if (want == ptrain::CsvLabels::required && (s.targets != 2 || labels.size() != s.count)) __builtin_trap();
    } catch (const ptrain::DataError&) {
    }
  }
  return 0;
}
