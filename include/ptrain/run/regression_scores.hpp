#pragma once
// How well a regression's outputs match its targets, in the targets' own units (the net's
// outputs mapped back through the target transform): RMSE, MAE and R² per target and averaged
// uniformly over the targets, as scikit-learn's mean_squared_error (squared=False),
// mean_absolute_error and r2_score (multioutput='uniform_average') define them.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ptrain/engine/engine.hpp"
#include "ptrain/io/input_transform.hpp"

namespace ptrain {

struct RegressionScores {
  std::vector<double> rmse, mae, r2;  // per target
  double mean_rmse = 0, mean_mae = 0, mean_r2 = 0;
};

// A number in the targets' units, whatever their scale: 4 significant digits.
std::string significant_digits(double v);
// "RMSE 3.196  MAE 2.339  R² 0.9036": the means, as the run's end and eval print them.
std::string scores_text(const RegressionScores& s);

// From predictions and truths, both N × T row-major in the targets' units. A target whose truth
// is constant has R² 1 when predicted exactly, else 0 (scikit-learn's force_finite rule).
RegressionScores score_regression(const std::vector<double>& predicted, const std::vector<double>& truth, int targets);

// The engine's outputs on `examples` of `data` against their targets; nullopt for none.
std::optional<RegressionScores> regression_scores(Engine& engine, const Dataset& data,
                                                  const std::vector<std::uint32_t>& examples,
                                                  const TargetTransform& transform);

// Example by example, the outputs in the targets' units (N × T): what predict writes.
std::vector<double> outputs_in_units(const std::vector<float>& outputs, int targets, const TargetTransform& transform);

}  // namespace ptrain
