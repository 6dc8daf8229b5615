#include "ptrain/engine/engine.hpp"

#include <algorithm>

namespace ptrain {

std::size_t count_correct(Engine& engine, const Dataset& data, Indices examples) {
  const std::vector<float> out = engine.outputs(data, examples);
  const std::size_t classes = examples.empty() ? 0 : out.size() / examples.size();
  std::size_t correct = 0;
  for (std::size_t e = 0; e < examples.size(); ++e) {
    const float* o = out.data() + e * classes;
    correct += static_cast<std::size_t>(std::max_element(o, o + classes) - o) == data.labels[examples[e]];
  }
  return correct;
}

}  // namespace ptrain
