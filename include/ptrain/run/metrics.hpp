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
  // Touches nothing yet (run_files.hpp checks the path first); an empty path writes nothing.
  explicit MetricsFile(const std::string& path) : path_(path) {}
  // Once the run starts: a new run empties the file; a run resumed after `epochs_done` epochs
  // keeps its earlier records of those epochs and appends, so the file holds each epoch once.
  // Every record carries `run_id`; a resumed run refuses a file with another run's records.
  // Throws DataError naming the option.
  void begin(std::optional<int> epochs_done, const std::string& run_id);
  void write(const nlohmann::json& record);

 private:
  std::string path_, run_id_;
  std::ofstream out_;
};

// A single JSON object as the whole file, written atomically (eval's --metrics).
void write_json_file(const std::string& path, const nlohmann::json& object);

// A number, or null when there is none (an accuracy of no examples).
inline nlohmann::json json_or_null(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); }

}  // namespace ptrain
