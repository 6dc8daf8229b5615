#pragma once
// A saved model, ready to run: its net and recipe come from the file's metadata, read by the
// same recipe table as a resume; what a model from another tool leaves out keeps its default.
// Used by eval, predict and the Python module.
#include <memory>
#include <string>

#include "ptrain/core/config.hpp"
#include "ptrain/engine/engine.hpp"
#include "ptrain/io/input_transform.hpp"
#include "ptrain/io/model_file.hpp"

namespace ptrain {

struct LoadedModel {
  std::string path;
  ModelFile file;
  InputTransform transform;               // what float features go through, as in training
  LabelCoding coding;                     // the classes' names, when the labels were names
  bool float_inputs = false;              // trained on float32 features (metadata input_kind), else bytes
  TargetTransform target_transform;       // regression: the outputs back in the targets' units
  std::vector<std::string> target_names;  // regression: one per output ("target" or "target_1", … when unnamed)
  TrainConfig recipe;
  std::unique_ptr<Engine> engine;
  const NetSpec& spec() const { return recipe.spec; }
};

// Every check a model file gets, then its engine; a DataError naming `path` for what is wrong.
LoadedModel load_model(const std::string& path);

// Those checks without the engine, on a file already decoded.
LoadedModel describe_model(ModelFile file, const std::string& path);

// Writes a model or checkpoint atomically, after reading its bytes back as load_model will: a
// file ptrain says it saved is one that eval, predict, --init-from and --resume accept. A
// DataError naming `what` otherwise, and the file already there stays.
void save_loadable_model(const std::string& path, const ModelFile& model, const std::string& what);

}  // namespace ptrain
