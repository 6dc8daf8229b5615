#pragma once
// Using a saved model: `ptrain eval` (accuracy, per-class accuracy, confusion matrix) and
// `ptrain predict` (one image: a PGM file or an index into the test set).
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>

namespace ptrain {

struct UseConfig {
  std::string model;
  std::string data_dir;
  std::string split = "seed";
  std::optional<std::size_t> val_size;
  std::optional<std::uint64_t> seed;  // default: the model's own, so its split is the training run's
  int threads = 1;
  std::string metrics_path;           // eval: a JSON object
  std::string image;                  // predict: a PGM file
  std::optional<std::uint64_t> index;  // predict: an index into the test set
};

void run_eval(const UseConfig& cfg, std::ostream& out);
void run_predict(const UseConfig& cfg, std::ostream& out);

}  // namespace ptrain
