#include "ptrain/run/metrics.hpp"

#include "ptrain/core/errors.hpp"

namespace ptrain {

MetricsFile::MetricsFile(const std::string& path) : path_(path) {
  if (path.empty()) return;
  out_.open(path, std::ios::trunc);
  if (!out_) throw DataError("--metrics " + path + ": cannot open for writing");
}

void MetricsFile::write(const nlohmann::json& record) {
  if (path_.empty()) return;
  out_ << record.dump() << '\n' << std::flush;
  if (!out_) throw DataError("--metrics " + path_ + ": write failed");
}

}  // namespace ptrain
