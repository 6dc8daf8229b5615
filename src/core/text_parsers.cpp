#include "ptrain/core/text_parsers.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "ptrain/core/errors.hpp"

namespace ptrain {

// Whole numbers are read as text and parsed here: Boost's unsigned conversion wraps "-1".
long long parse_integer(std::string_view option, const std::string& text, long long min, long long max) {
  const std::string name = "--" + std::string(option);
  long long v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  const bool whole = ec == std::errc() && end == text.data() + text.size() && !text.empty();
  if (ec == std::errc::result_out_of_range || (whole && (v < min || v > max)))
    throw UsageError(name + " " + text + ": must be between " + std::to_string(min) + " and " + std::to_string(max));
  if (!whole) throw UsageError(name + " '" + text + "': not a whole number");
  return v;
}

double parse_positive_real(std::string_view option, const std::string& text) {
  const std::string name = "--" + std::string(option);
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc::result_out_of_range && end == text.data() + text.size())
    throw UsageError(name + " " + text + ": out of range for a double (about 1e-308 to 1e308)");
  if (ec != std::errc() || end != text.data() + text.size() || text.empty())
    throw UsageError(name + " '" + text + "': not a number");
  if (!std::isfinite(v) || v <= 0) throw UsageError(name + " " + text + ": must be a finite positive number");
  return v;
}

// The shortest text that reads back as exactly v (0.9, not 0.90000000000000002).
std::string round_trip_text(double v) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, ec == std::errc() ? end : buf);
}

std::string format_sizes(const std::vector<int>& sizes, char separator) {
  std::string s;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    if (i) s += separator;
    s += std::to_string(sizes[i]);
  }
  return s;
}

namespace {

// Comma-separated layer sizes for `option`, e.g. "784,112,16,10".
std::vector<int> parse_sizes(const std::string& option, const std::string& text, const std::string& example) {
  std::vector<int> sizes;
  std::size_t start = 0;
  while (true) {
    std::size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (item.empty()) throw UsageError(option + " '" + text + "': empty item; expected sizes like " + example);
    long long v = 0;
    auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (ec == std::errc::invalid_argument || end != item.data() + item.size())
      throw UsageError(option + " '" + text + "': '" + item + "' is not a whole number");
    if (ec == std::errc::result_out_of_range || v <= 0 || v > 1'000'000)
      throw UsageError(option + " '" + text + "': size " + item + " must be between 1 and 1000000");
    sizes.push_back(static_cast<int>(v));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return sizes;
}

}  // namespace

std::vector<int> parse_layers(const std::string& text) {
  std::vector<int> sizes = parse_sizes("--layers", text, "784,112,16,10");
  if (sizes.size() < 2) throw UsageError("--layers '" + text + "': needs at least two sizes (inputs and outputs)");
  return sizes;
}

std::vector<int> parse_hidden(const std::string& text) {
  if (text == "none") return {};
  return parse_sizes("--hidden", text, "112,16 (or none)");
}

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> words;
  std::size_t start = 0;
  for (std::size_t comma; (comma = text.find(',', start)) != std::string::npos; start = comma + 1)
    words.push_back(text.substr(start, comma - start));
  words.push_back(text.substr(start));
  return words;
}

}  // namespace ptrain
