#pragma once
// The engine a run trains with: the oracle or the parallel engine, and the parallel engine
// shared among a cluster's ranks when there are several.
#include <memory>
#include <span>

#include "ptrain/cluster/cluster.hpp"
#include "ptrain/cluster/distributed_engine.hpp"
#include "ptrain/engine/engine.hpp"
#include "ptrain/core/profile.hpp"

namespace ptrain {

struct EngineSetup {
  EngineKind kind = EngineKind::parallel;
  int chunk_size = kDefaultChunkSize;  // parallel only
  UpdateRule rule;
  StepTimes* profile = nullptr;  // parallel only: phase times of every step are added here
  Cluster* cluster = nullptr;    // several ranks: each step is shared among them
  Reduce reduce = Reduce::fast;
};

// `initial` is canonical float32. Throws UsageError for what only the parallel engine does
// (--profile, several ranks).
std::unique_ptr<Engine> make_engine(const NetSpec& spec, std::span<const float> initial, const EngineSetup& setup);

}  // namespace ptrain
