#include "ptrain/run/metrics.hpp"

#include <cerrno>
#include <cstring>

#include "ptrain/core/errors.hpp"
#include "ptrain/io/atomic_file.hpp"
#include "ptrain/io/file_checks.hpp"

namespace ptrain {
namespace {

// The records of a run's file that describe epochs up to `epochs_done`, as lines; a DataError
// when a record is another run's (one from before run ids, without one, is taken as this run's).
std::string records_up_to(const std::string& path, int epochs_done, const std::string& run_id) {
  std::ifstream in(path);
  std::string line, kept;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    const nlohmann::json record = nlohmann::json::parse(line, nullptr, false);
    if (record.is_discarded() || !record.is_object())
      throw DataError("--metrics " + path + ": line " + std::to_string(n) +
                      " is not a JSON record; not appending to a file that is not a ptrain metrics file");
    if (record.contains("run_id") && record["run_id"] != run_id)
      throw DataError("--metrics " + path + ": line " + std::to_string(n) + " is a record of another run (run_id " +
                      record["run_id"].dump() + "); a resumed run continues only its own metrics file");
    if (record.contains("epoch") && record["epoch"].is_number_integer() && record["epoch"].get<int>() <= epochs_done)
      kept += line + "\n";
  }
  return kept;
}

}  // namespace

void MetricsFile::begin(std::optional<int> epochs_done, const std::string& run_id) {
  run_id_ = run_id;
  if (path_.empty()) return;
  const std::string target = output_target(path_);
  if (epochs_done) {
    std::ifstream probe(target);
    if (probe) write_file_atomically(target, records_up_to(target, *epochs_done, run_id), "--metrics " + path_);
  }
  out_.open(target, epochs_done ? std::ios::app : std::ios::trunc);
  if (!out_) throw DataError("--metrics " + path_ + ": cannot open for writing: " + std::strerror(errno));
}

void MetricsFile::write(const nlohmann::json& record) {
  if (path_.empty()) return;
  nlohmann::json stamped = record;
  if (!run_id_.empty()) stamped["run_id"] = run_id_;
  errno = 0;
  out_ << stamped.dump() << '\n' << std::flush;
  if (!out_)
    throw DataError("--metrics " + path_ + ": write failed: " + (errno ? std::strerror(errno) : "unknown reason"));
}

void write_json_file(const std::string& path, const nlohmann::json& object) {
  if (path.empty()) return;
  write_file_atomically(path, object.dump() + "\n", "--metrics " + path);
}

}  // namespace ptrain
