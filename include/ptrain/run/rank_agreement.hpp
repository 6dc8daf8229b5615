#pragma once
// What the ranks of a run check together while they train: that their weights are equal, and
// whether any of them was asked to stop. In one process both are local and free.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ptrain/cluster/cluster.hpp"

namespace ptrain {

class RankAgreement {
 public:
  explicit RankAgreement(Cluster& cluster) : cluster_(cluster) {}

  // Every rank's weights_hash of `parameters`, in rank order. If they differ, every rank stops
  // alike (fail_together) with one line naming both hashes, `when` ("after epoch 3") and `why`
  // (the likely cause).
  std::vector<std::uint64_t> equal_weights(std::span<const float> parameters, const std::string& when,
                                           const std::string& why);

  // The stop signal any rank caught, or 0. Ranks ask each other every 16 steps, which keeps it
  // cheap, so all stop after the same step.
  int stop_signal(std::uint64_t steps);

 private:
  Cluster& cluster_;
};

}  // namespace ptrain
