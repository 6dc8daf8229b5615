#include "ptrain/io/input_transform.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

#include "ptrain/core/errors.hpp"
#include "ptrain/core/float32_range.hpp"
#include "ptrain/core/text_parsers.hpp"

namespace ptrain {
namespace {

// Shortest text that reads back as the same float.
std::string joined(const std::vector<float>& values) {
  std::string s;
  char buf[32];
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) s += ',';
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, values[i]);
    s.append(buf, end);
  }
  return s;
}

std::vector<float> split_numbers(const std::string& text, const std::string& key, const std::string& path) {
  std::vector<float> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    float v = 0;
    const auto [end, ec] = std::from_chars(text.data() + start, text.data() + comma, v);
    if (ec != std::errc() || end != text.data() + comma || !std::isfinite(v))
      throw DataError(path + ": metadata '" + key + "' item " + std::to_string(out.size()) + " is not a finite number");
    out.push_back(v);
    start = comma + 1;
  }
  return out;
}

// A standard deviation this small relative to the mean is float32 rounding, not signal.
constexpr double kConstantBelow = 1e-6;

// Each column's mean and 1 / standard deviation over `rows` of `n` values each (row(e) gives
// example e's), as --standardize computes them for features and for targets alike.
template <class RowOf>
void standardize_columns(int n, const std::vector<std::uint32_t>& rows, RowOf row, std::vector<float>& shift,
                         std::vector<float>& factor) {
  std::vector<double> sum(n, 0.0), sum_sq(n, 0.0);
  for (std::uint32_t e : rows)
    for (int i = 0; i < n; ++i) sum[i] += row(e)[i];
  shift.resize(n);
  factor.resize(n);
  const double count = static_cast<double>(std::max<std::size_t>(rows.size(), 1));
  for (int i = 0; i < n; ++i) shift[i] = static_cast<float>(sum[i] / count);
  for (std::uint32_t e : rows)  // a second pass about the mean: no cancellation
    for (int i = 0; i < n; ++i) {
      const double d = row(e)[i] - sum[i] / count;
      sum_sq[i] += d * d;
    }
  for (int i = 0; i < n; ++i) {
    const double sd = std::sqrt(sum_sq[i] / count), mean = sum[i] / count;
    factor[i] = sd >= kConstantBelow * std::max(std::abs(mean), 1.0) ? static_cast<float>(1.0 / sd) : 1.0f;
  }
}

// `count` values, x ← (x − shift[i])·factor[i] in column i, in place; values viewed in a caller's
// memory (`view`) stay as they are: the transformed ones are a copy.
template <class Values>
void shift_and_scale(Values& values, const float*& view, std::size_t count, const std::vector<float>& shift,
                     const std::vector<float>& factor) {
  if (view) {
    values.assign(view, view + count);
    view = nullptr;
  }
  const std::size_t n = shift.size();
  for (std::size_t j = 0; j < values.size(); ++j) values[j] = (values[j] - shift[j % n]) * factor[j % n];
}

// Shift and factor from a model's metadata keys `shift_key` and `factor_key`, `n` of each.
bool read_transform(const std::map<std::string, std::string>& metadata, const std::string& shift_key,
                    const std::string& factor_key, int n, const std::string& path, std::vector<float>& shift,
                    std::vector<float>& factor) {
  auto s = metadata.find(shift_key), f = metadata.find(factor_key);
  if (s == metadata.end() && f == metadata.end()) return false;
  if (s == metadata.end() || f == metadata.end())
    throw DataError(path + ": metadata has one of " + shift_key + " and " + factor_key + " without the other");
  shift = split_numbers(s->second, shift_key, path);
  factor = split_numbers(f->second, factor_key, path);
  if (static_cast<int>(shift.size()) != n || static_cast<int>(factor.size()) != n)
    throw DataError(path + ": metadata " + shift_key + "/" + factor_key + " hold " + std::to_string(shift.size()) +
                    "/" + std::to_string(factor.size()) + " values for " + std::to_string(n) +
                    (shift_key == "input_shift" ? " inputs" : " targets"));
  for (float v : factor)
    if (v == 0) throw DataError(path + ": metadata " + factor_key + " holds a zero");
  return true;
}

}  // namespace

InputTransform InputTransform::standardize(const Dataset& data, const std::vector<std::uint32_t>& rows) {
  InputTransform t;
  standardize_columns(
      data.image_size, rows, [&](std::uint32_t e) { return data.row(e); }, t.shift, t.factor);
  return t;
}

InputTransform InputTransform::scale(int features, double x) {
  if (const std::string why = float32_range_problem(x); !why.empty())
    throw UsageError("--scale " + round_trip_text(x) + ": " + why);
  return {std::vector<float>(features, 0.0f), std::vector<float>(features, static_cast<float>(x))};
}

void InputTransform::apply(Dataset& data) const {
  if (empty()) return;
  if (data.sparse())  // shifting would fill in every zero: the matrix made dense
    throw UsageError(
        "these examples are a sparse matrix, and the model standardizes or scales its inputs; pass them "
        "dense");
  shift_and_scale(data.features, data.feature_view, data.size() * static_cast<std::size_t>(data.image_size), shift,
                  factor);
}

void InputTransform::add_to(std::map<std::string, std::string>& metadata) const {
  if (empty()) return;
  metadata["input_shift"] = joined(shift);
  metadata["input_factor"] = joined(factor);
}

InputTransform InputTransform::from(const std::map<std::string, std::string>& metadata, int features,
                                    const std::string& path) {
  InputTransform t;
  read_transform(metadata, "input_shift", "input_factor", features, path, t.shift, t.factor);
  return t;
}

TargetTransform TargetTransform::standardize(const Dataset& data, const std::vector<std::uint32_t>& rows) {
  TargetTransform t;
  standardize_columns(
      data.target_count, rows, [&](std::uint32_t e) { return data.target(e); }, t.shift, t.factor);
  return t;
}

void TargetTransform::apply(Dataset& data) const {
  if (empty()) return;
  shift_and_scale(data.targets, data.target_view, data.size() * static_cast<std::size_t>(data.target_count), shift,
                  factor);
}

void TargetTransform::add_to(std::map<std::string, std::string>& metadata) const {
  if (empty()) return;
  metadata["target_shift"] = joined(shift);
  metadata["target_factor"] = joined(factor);
}

TargetTransform TargetTransform::from(const std::map<std::string, std::string>& metadata, int targets,
                                      const std::string& path) {
  TargetTransform t;
  read_transform(metadata, "target_shift", "target_factor", targets, path, t.shift, t.factor);
  return t;
}

namespace {

// check_feature_range over a sparse matrix's stored entries (a zero is in range).
void check_sparse_range(const Dataset& data, const std::string& name, float limit) {
  for (std::size_t i = 0; i < data.size(); ++i)
    for (std::int64_t k = data.sparse_offsets[i]; k < data.sparse_offsets[i + 1]; ++k)
      if (!(std::abs(data.sparse_values[k]) <= limit)) {
        char value[32];
        std::snprintf(value, sizeof value, "%.3g", static_cast<double>(data.sparse_values[k]));
        throw UsageError(name + ": feature " + std::to_string(data.sparse_columns[k] + 1) + " of example " +
                         std::to_string(i) + " is " + value +
                         ", beyond 1.8e19, whose square (gradients, Adam's moments) overflows float32");
      }
}

}  // namespace

void check_feature_range(const Dataset& data, const std::string& name) {
  const float limit = std::sqrt(std::numeric_limits<float>::max());
  const std::size_t n = static_cast<std::size_t>(data.image_size);
  const float* values = data.feature_view ? data.feature_view : data.features.data();
  if (!data.float_inputs || n == 0) return;
  if (data.sparse()) return check_sparse_range(data, name, limit);
  for (std::size_t j = 0; j < data.size() * n; ++j)
    if (!(std::abs(values[j]) <= limit)) {
      char value[32];
      std::snprintf(value, sizeof value, "%.3g", static_cast<double>(values[j]));
      throw UsageError(name + ": feature " + std::to_string(j % n + 1) + " of example " + std::to_string(j / n) +
                       " is " + value +
                       " as the net sees it, beyond 1.8e19, whose square (gradients, Adam's moments) overflows "
                       "float32; --standardize or --scale brings features into range");
    }
}

void check_target_range(const Dataset& data, const std::string& name) {
  const float limit = std::sqrt(std::numeric_limits<float>::max());
  const std::size_t n = static_cast<std::size_t>(data.target_count);
  const float* values = data.target_view ? data.target_view : data.targets.data();
  for (std::size_t j = 0; j < data.size() * n; ++j)
    if (!(std::abs(values[j]) <= limit)) {
      char value[32];
      std::snprintf(value, sizeof value, "%.3g", static_cast<double>(values[j]));
      throw UsageError(name + ": target " + std::to_string(j % n + 1) + " of example " + std::to_string(j / n) +
                       " is " + value +
                       ", beyond 1.8e19, whose square (the loss) overflows float32; --standardize "
                       "brings targets into range");
    }
}

}  // namespace ptrain
