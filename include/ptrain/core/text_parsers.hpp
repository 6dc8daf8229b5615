#pragma once
// Numbers and sizes in option text, and doubles written so that they read back exactly.
#include <string>
#include <string_view>
#include <vector>

namespace ptrain {

// Numbers in option text; each throws UsageError naming the option and the value.
long long parse_integer(std::string_view option, const std::string& text, long long min, long long max);
double parse_positive_real(std::string_view option, const std::string& text);

// The value of a double that reads back to the same bits ("%.17g").
std::string round_trip_text(double v);

// "784,112,16,10" with separator ','; "784-112-16-10" with '-'.
std::string format_sizes(const std::vector<int>& sizes, char separator);

// Parses "784,112,16,10"; throws UsageError naming the problem.
std::vector<int> parse_layers(const std::string& text);
// "a,b,,c" → {"a", "b", "", "c"}: a comma-separated list as it is written (--target-columns).
std::vector<std::string> split_words(const std::string& text);

// --hidden: sizes, or "none" for a net with no hidden layer.
std::vector<int> parse_hidden(const std::string& text);

}  // namespace ptrain
