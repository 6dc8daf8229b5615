#include "ptrain/engine.hpp"

#include "ptrain/parallel_engine.hpp"
#include "ptrain/reference.hpp"

namespace ptrain {

std::unique_ptr<Engine> make_engine(EngineKind kind, const NetSpec& spec, std::span<const float> initial,
                                    int chunk_size) {
  if (kind == EngineKind::scalar) return std::make_unique<ReferenceEngine>(spec, initial);
  return std::make_unique<ParallelEngine>(spec, initial, chunk_size);
}

}  // namespace ptrain
