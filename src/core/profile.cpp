#include "ptrain/core/profile.hpp"

#include <algorithm>

namespace ptrain {

std::vector<std::pair<std::string, double>> epoch_phases(const StepTimes& t, double shuffle, double evaluation,
                                                         double epoch_wall) {
  // Phase 1's wall time, less its sync part, is shared out in proportion to the CPU time of
  // its two parts: with P threads busy, each part's wall time is about its CPU time / P.
  const double cpu = t.forward_cpu + t.backward_cpu;
  const double busy = std::max(0.0, t.chunks_wall - t.sync_wall);
  auto part = [&](double c) { return cpu > 0 ? busy * c / cpu : 0.0; };
  std::vector<std::pair<std::string, double>> phases{
      {"data", shuffle},          {"forward", part(t.forward_cpu)}, {"backward", part(t.backward_cpu)},
      {"sync", t.sync_wall},      {"exchange", t.exchange_wall},    {"reduce_update", t.update_wall},
      {"evaluation", evaluation},
  };
  double accounted = 0;
  for (const auto& p : phases) accounted += p.second;
  phases.emplace_back("other", std::max(0.0, epoch_wall - accounted));
  return phases;
}

}  // namespace ptrain
