#include "ptrain/run/loaded_model.hpp"

#include <cmath>

#include "ptrain/core/errors.hpp"
#include "ptrain/core/recipe.hpp"
#include "ptrain/io/atomic_file.hpp"
#include "ptrain/io/dataset.hpp"
#include "ptrain/run/engine_factory.hpp"

namespace ptrain {

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
