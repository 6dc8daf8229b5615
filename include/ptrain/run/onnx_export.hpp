#pragma once
// A model as an ONNX graph that other runtimes run (`ptrain export`, Model.export_onnx). It is
// self-contained: a float32 input "input" [N, F] takes the features as ptrain reads them from a
// file (an image model's raw pixel values 0–255), and the graph applies what ptrain applies —
// the byte scale, --standardize's or --scale's shift and factor — then each layer as trained.
// Outputs: a classifier's "probabilities" [N, C] (Model.predict_proba's: softmax for xent,
// the output sigmoids over their sum for mse) and "label" [N] (int64, the most probable
// class); a regression's "predictions" [N, T] in the targets' own units. Standard operators at
// opset 13, in the forms OpenCV's DNN importer takes (Gemm with W [out, in] and transB = 1, a
// row summed by a MatMul with a column of ones). ptrain's version, the recipe, weights_hash
// and the class names go in the model's metadata_props.
#include <string>

#include "ptrain/run/loaded_model.hpp"

namespace ptrain {

// The serialised ONNX ModelProto of a model (describe_model's checks already passed).
std::string onnx_bytes(const LoadedModel& model);

// Writes it to `path` atomically; a DataError naming `what` when it cannot.
void export_onnx(const LoadedModel& model, const std::string& path, const std::string& what);

}  // namespace ptrain
