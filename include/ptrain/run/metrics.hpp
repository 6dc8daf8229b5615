#pragma once
// Machine-readable results: JSON Lines, one object per line, flushed so a watcher sees each
// epoch as it ends (`--metrics` of a training run), or a single object (`eval --metrics`).
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace ptrain {

class MetricsFile {
 public:
  // Opens (and empties) `path` now, so a bad path fails before any long work; an empty path
  // writes nothing. Throws DataError naming the option.
  explicit MetricsFile(const std::string& path);
  void write(const nlohmann::json& record);

 private:
  std::string path_;
  std::ofstream out_;
};

// A number, or null when there is none (an accuracy of no examples).
inline nlohmann::json json_or_null(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); }

}  // namespace ptrain
