#include "ptrain/run/run_files.hpp"

#include <filesystem>

#include "ptrain/core/errors.hpp"
#include "ptrain/core/text_parsers.hpp"
#include "ptrain/io/dataset.hpp"
#include "ptrain/io/file_checks.hpp"
#include "ptrain/run/checkpoint.hpp"

namespace ptrain {
namespace {

// The data files that exist; a missing one is the reader's to report.
void add_data(std::vector<NamedPath>& inputs, const DataFiles& files) {
  std::error_code ec;
  if (!files.folder.empty() && !std::filesystem::is_directory(files.folder, ec)) return;
  for (const std::string& f : listed_files(files))
    if (std::filesystem::exists(f, ec)) inputs.emplace_back(files.folder.empty() ? "data file" : "--data-dir file", f);
}

// The checkpoint folder's own names (checkpoint-<digits>.safetensors, its lock) are its to
// write and prune: another output there would be replaced or removed.
void refuse_checkpoint_names(const NamedPath& output, const std::string& checkpoint_dir) {
  namespace fs = std::filesystem;
  const fs::path target(output_target(output.second));
  std::error_code ec;
  if (is_checkpoint_folder_name(target.filename().string()) &&
      fs::weakly_canonical(target.parent_path().empty() ? "." : target.parent_path(), ec) ==
          fs::weakly_canonical(checkpoint_dir, ec))
    throw DataError(output.first + " " + output.second + ": a name the checkpoint folder uses for its own files");
}

}  // namespace

DataFiles run_data_files(const TrainConfig& cfg) {
  if (cfg.train_file.empty()) return mnist_folder_files(cfg.data_dir);
  ReadFormat format;
  format.csv.header = cfg.csv_header;
  format.csv.label_column = cfg.label_column;
  format.task = cfg.spec.task;
  if (format.regression()) format.csv.target_columns = split_words(cfg.target_columns);
  if (!cfg.npz_keys.empty()) format.npz_keys = parse_npz_keys(cfg.npz_keys);
  return role_files(cfg.train_file, cfg.test_file, cfg.val_file, format,
                    {cfg.train_targets, cfg.test_targets, cfg.val_targets});
}

ReadFormat inference_format(const InferenceConfig& cfg, const std::map<std::string, std::string>& metadata) {
  ReadFormat format = recorded_format(metadata);
  if (cfg.csv_header) format.csv.header = *cfg.csv_header;
  if (cfg.label_column) format.csv.label_column = *cfg.label_column;
  if (cfg.npz_keys) format.npz_keys = parse_npz_keys(*cfg.npz_keys);
  if (cfg.target_columns) format.csv.target_columns = split_words(*cfg.target_columns);
  return format;
}

void check_train_files(const TrainConfig& cfg, const std::string& resume_file) {
  std::vector<NamedPath> outputs, inputs;
  if (cfg.explicit_options.count("save")) outputs.emplace_back("--save", cfg.save_path);
  if (!cfg.save_best_path.empty()) outputs.emplace_back("--save-best", cfg.save_best_path);
  if (cfg.explicit_options.count("metrics")) outputs.emplace_back("--metrics", cfg.metrics_path);
  for (const NamedPath& o : outputs) check_output_file(o);
  if (cfg.checkpoint_every > 0) {
    check_output_folder({"--checkpoint-dir", cfg.checkpoint_dir});
    for (const NamedPath& o : outputs) refuse_checkpoint_names(o, cfg.checkpoint_dir);
    outputs.emplace_back("--checkpoint-dir", cfg.checkpoint_dir);  // a file there would become a folder's name
  }
  if (!cfg.init_from.empty()) inputs.emplace_back("--init-from", cfg.init_from);
  if (!resume_file.empty()) inputs.emplace_back("--resume", resume_file);
  if (!cfg.config_path.empty()) inputs.emplace_back("--config", cfg.config_path);
  add_data(inputs, run_data_files(cfg));
  refuse_shared_files(outputs, inputs);
}

void check_eval_files(const InferenceConfig& cfg) {
  if (cfg.metrics_path.empty()) return;
  const NamedPath metrics{"--metrics", cfg.metrics_path};
  check_output_file(metrics);
  std::vector<NamedPath> inputs{{"--model", cfg.model}};
  if (!cfg.config_path.empty()) inputs.emplace_back("--config", cfg.config_path);
  add_data(inputs, cfg.test_file.empty() ? mnist_folder_files(cfg.data_dir) : role_files(cfg.test_file, "", ""));
  refuse_shared_files({metrics}, inputs);
}

void check_predict_files(const InferenceConfig& cfg) {
  if (!cfg.input.empty()) check_input_file({"--input", cfg.input});
  if (cfg.output.empty()) return;
  const NamedPath output{"--output", cfg.output};
  check_output_file(output);
  std::vector<NamedPath> inputs{{"--model", cfg.model}, {"--input", cfg.input}};
  if (!cfg.config_path.empty()) inputs.emplace_back("--config", cfg.config_path);
  refuse_shared_files({output}, inputs);
}

void check_export_files(const InferenceConfig& cfg) {
  check_input_file({"--model", cfg.model});
  const NamedPath output{"--output", cfg.output};
  check_output_file(output);
  refuse_shared_files({output}, {{"--model", cfg.model}});
}

}  // namespace ptrain
