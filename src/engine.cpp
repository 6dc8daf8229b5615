#include "ptrain/engine.hpp"

#include <algorithm>

#include "ptrain/parallel_engine.hpp"
#include "ptrain/reference.hpp"

namespace ptrain {

std::size_t Engine::count_correct(const Dataset& data, Indices examples) {
  const std::vector<float> out = outputs(data, examples);
  const std::size_t classes = examples.empty() ? 0 : out.size() / examples.size();
  std::size_t correct = 0;
  for (std::size_t e = 0; e < examples.size(); ++e) {
    const float* o = out.data() + e * classes;
    correct += static_cast<std::size_t>(std::max_element(o, o + classes) - o) == data.labels[examples[e]];
  }
  return correct;
}

std::unique_ptr<Engine> make_engine(EngineKind kind, const NetSpec& spec, std::span<const float> initial,
                                    int chunk_size) {
  if (kind == EngineKind::scalar) return std::make_unique<ReferenceEngine>(spec, initial);
  return std::make_unique<ParallelEngine>(spec, initial, chunk_size);
}

}  // namespace ptrain
