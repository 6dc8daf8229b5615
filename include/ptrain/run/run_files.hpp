#pragma once
// Every path a command names, checked before its long work (file_checks.hpp says how): the
// outputs where they are, and none of them the same file as an input or as another output.
#include "ptrain/core/config.hpp"
#include "ptrain/io/dataset.hpp"

namespace ptrain {

// The data files a training run names: --train/--test/--val, or --data-dir's four.
DataFiles run_data_files(const TrainConfig& cfg);

// How eval and predict read CSV and .npz files: as the options say, else as the model's own
// files were read (`metadata`, the model's).
ReadFormat inference_format(const InferenceConfig& cfg, const std::map<std::string, std::string>& metadata);

// --save, --metrics and --checkpoint-dir against --init-from, the checkpoint --resume chose
// (`resume_file`, empty when none), --config and the data.
void check_train_files(const TrainConfig& cfg, const std::string& resume_file);

// eval's --metrics against --model, --config and the data.
void check_eval_files(const InferenceConfig& cfg);

// predict's --output against --model, --config and --input.
void check_predict_files(const InferenceConfig& cfg);

// export: a readable --model, and an --output that can be written and is not the model.
void check_export_files(const InferenceConfig& cfg);

}  // namespace ptrain
