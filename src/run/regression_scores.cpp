#include "ptrain/run/regression_scores.hpp"

#include <cmath>
#include <iomanip>
#include <sstream>

#include "ptrain/run/progress.hpp"

namespace ptrain {

std::string significant_digits(double v) {
  std::ostringstream s;
  s << std::setprecision(4) << v;
  return s.str();
}

std::string scores_text(const RegressionScores& s) {
  return "RMSE " + significant_digits(s.mean_rmse) + "  MAE " + significant_digits(s.mean_mae) + "  R² " +
         fixed(s.mean_r2, 4);
}

RegressionScores score_regression(const std::vector<double>& predicted, const std::vector<double>& truth, int targets) {
  const std::size_t n = truth.size() / static_cast<std::size_t>(targets);
  RegressionScores s;
  for (int j = 0; j < targets; ++j) {
    double mean = 0, squared = 0, absolute = 0, spread = 0;
    for (std::size_t e = 0; e < n; ++e) mean += truth[e * targets + j];
    mean /= static_cast<double>(n);
    for (std::size_t e = 0; e < n; ++e) {
      const double t = truth[e * targets + j], r = predicted[e * targets + j] - t;
      squared += r * r;
      absolute += std::abs(r);
      spread += (t - mean) * (t - mean);
    }
    s.rmse.push_back(std::sqrt(squared / static_cast<double>(n)));
    s.mae.push_back(absolute / static_cast<double>(n));
    s.r2.push_back(spread > 0 ? 1 - squared / spread : squared == 0 ? 1.0 : 0.0);
    s.mean_rmse += s.rmse.back() / targets;
    s.mean_mae += s.mae.back() / targets;
    s.mean_r2 += s.r2.back() / targets;
  }
  return s;
}

std::vector<double> outputs_in_units(const std::vector<float>& outputs, int targets, const TargetTransform& transform) {
  std::vector<double> out(outputs.size());
  for (std::size_t i = 0; i < outputs.size(); ++i)
    out[i] = transform.in_units(outputs[i], static_cast<int>(i % static_cast<std::size_t>(targets)));
  return out;
}

std::optional<RegressionScores> regression_scores(Engine& engine, const Dataset& data,
                                                  const std::vector<std::uint32_t>& examples,
                                                  const TargetTransform& transform) {
  if (examples.empty()) return std::nullopt;
  const int targets = data.target_count;
  const std::vector<double> predicted = outputs_in_units(engine.outputs(data, examples), targets, transform);
  std::vector<double> truth;
  truth.reserve(predicted.size());
  for (std::uint32_t e : examples)
    for (int j = 0; j < targets; ++j) truth.push_back(transform.in_units(data.target(e)[j], j));
  return score_regression(predicted, truth, targets);
}

}  // namespace ptrain
