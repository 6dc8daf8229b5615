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
  InputTransform transform;  // what float features go through, as in training
  LabelCoding coding;        // the classes' names, when the labels were names
  TrainConfig recipe;
  std::unique_ptr<Engine> engine;
  const NetSpec& spec() const { return recipe.spec; }
};

// Every check a model file gets, then its engine; a DataError naming `path` for what is wrong.
LoadedModel load_model(const std::string& path);

}  // namespace ptrain
