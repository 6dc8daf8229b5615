#pragma once
// Using a saved model: `ptrain eval` (accuracy, per-class accuracy, confusion matrix) and
// `ptrain predict` (one image: a PGM file or an index into the test set), and `ptrain export`
// (the model as an ONNX file, onnx_export.hpp).
#include <iosfwd>

#include "ptrain/core/config.hpp"

namespace ptrain {

void run_eval(const InferenceConfig& cfg, std::ostream& out);
void run_predict(const InferenceConfig& cfg, std::ostream& out);
void run_export(const InferenceConfig& cfg, std::ostream& out);

}  // namespace ptrain
