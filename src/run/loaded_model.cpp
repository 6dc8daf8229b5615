#include "ptrain/run/loaded_model.hpp"

#include <cmath>

#include "ptrain/core/errors.hpp"
#include "ptrain/core/recipe.hpp"
#include "ptrain/io/atomic_file.hpp"
#include "ptrain/io/dataset.hpp"
#include "ptrain/run/engine_factory.hpp"

namespace ptrain {
namespace {

// The targets' names the model records, else "target" (one) or "target_1", … (several).
std::vector<std::string> target_names_of(const std::map<std::string, std::string>& metadata, int targets,
                                         const std::string& path) {
  std::vector<std::string> names = recorded_names(metadata, "target_names", path);
  if (!names.empty() && static_cast<int>(names.size()) != targets)
    throw DataError(path + ": metadata target_names names " + std::to_string(names.size()) + " targets for " +
                    std::to_string(targets) + " outputs");
  if (names.empty() && targets == 1) names = {"target"};
  for (int j = static_cast<int>(names.size()); j < targets; ++j) names.push_back("target_" + std::to_string(j + 1));
  return names;
}

}  // namespace

LoadedModel describe_model(ModelFile file, const std::string& path) {
  LoadedModel m;
  m.path = path;
  m.file = std::move(file);
  m.recipe.spec.sizes = m.file.sizes;
  adopt_recipe(m.recipe, m.file.metadata, path, false);
  if (m.recipe.spec.sizes != m.file.sizes)
    throw DataError(path + ": metadata layers disagree with the tensors' shapes");
  m.recipe.spec.input_scale = metadata_number<double>(m.file, "input_scale", path).value_or(m.recipe.spec.input_scale);
  if (!std::isfinite(m.recipe.spec.input_scale) || m.recipe.spec.input_scale <= 0)
    throw DataError(path + ": metadata input_scale must be a positive number");
  m.transform = InputTransform::from(m.file.metadata, m.spec().inputs(), path);
  m.coding = recorded_coding(m.file.metadata, path);
  auto kind = m.file.metadata.find("input_kind");
  m.float_inputs = kind != m.file.metadata.end() && kind->second == "float32";
  m.target_transform = TargetTransform::from(m.file.metadata, m.spec().classes(), path);
  if (m.spec().regression()) m.target_names = target_names_of(m.file.metadata, m.spec().classes(), path);
  if (!m.spec().regression() && (!m.target_transform.empty() || m.file.metadata.count("target_names")))
    throw DataError(path + ": metadata has a regression's targets but its task is " + name_of(m.spec().task));
  if (!m.coding.names.empty() && static_cast<int>(m.coding.names.size()) != m.spec().classes())
    throw DataError(path + ": metadata class_names names " + std::to_string(m.coding.names.size()) +
                    " classes but the net has " + std::to_string(m.spec().classes()) + " outputs");
  return m;
}

LoadedModel load_model(const std::string& path) {
  LoadedModel m = describe_model(load_model_file(path), path);
  const std::vector<float> as_float(m.file.params.begin(), m.file.params.end());
  EngineSetup setup;
  setup.kind = m.recipe.engine;
  m.engine = make_engine(m.spec(), as_float, setup);
  EngineState exact;  // for a float64 checkpoint
  exact.params = m.file.params;
  m.engine->restore(exact);
  return m;
}

void save_loadable_model(const std::string& path, const ModelFile& model, const std::string& what) {
  const std::string bytes = encode_model_file(model);
  try {
    describe_model(decode_model_file(bytes, path), path);
  } catch (const DataError& e) {
    throw DataError(what + ": not written, as ptrain could not read it back (" + e.what() + ")");
  }
  write_file_atomically(path, bytes, what);
}

}  // namespace ptrain
