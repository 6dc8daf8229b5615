#include "ptrain/run/engine_factory.hpp"

#include "ptrain/engine/parallel_engine.hpp"
#include "ptrain/engine/reference.hpp"

namespace ptrain {

std::unique_ptr<Engine> make_engine(const NetSpec& spec, std::span<const float> initial, const EngineSetup& setup) {
  const bool spread = setup.cluster && setup.cluster->size() > 1;
  if (setup.kind == EngineKind::scalar) {
    if (setup.profile)
      throw UsageError("--profile measures the parallel engine's phases; the scalar oracle is not instrumented");
    if (spread) throw UsageError("--engine scalar is the one-process oracle; run it without mpirun");
    return std::make_unique<ReferenceEngine>(spec, initial, setup.rule);
  }
  auto engine = std::make_unique<ParallelEngine>(spec, initial, setup.chunk_size, setup.rule, setup.profile);
  if (!spread) return engine;
  return std::make_unique<DistributedEngine>(std::move(engine), *setup.cluster, setup.reduce);
}

}  // namespace ptrain
