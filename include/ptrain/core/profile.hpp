#pragma once
// Where a step's time goes, for `ptrain --profile` and the scaling tool. The parallel engine
// fills StepTimes when given one; the trainer turns it into per-epoch phase shares.
#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace ptrain {

using ProfileClock = std::chrono::steady_clock;

inline double seconds_between(ProfileClock::time_point a, ProfileClock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}
inline double seconds_since(ProfileClock::time_point start) { return seconds_between(start, ProfileClock::now()); }

// Accumulated over the steps of an epoch.
struct StepTimes {
  double forward_cpu = 0, backward_cpu = 0;  // summed over chunk tasks
  double chunks_wall = 0;    // phases 1 and 2: the owners' first layer, the chunks' forward and backward
  double sync_wall = 0;      // part of chunks_wall beyond cpu/min(threads, chunks): fork, join, imbalance
  double update_wall = 0;    // phase 3: gradient reduction, averaging and SGD update (fused)
  double exchange_wall = 0;  // between ranks (MPI): waiting for, sending and receiving gradients
};

// One epoch's phases in seconds, in print order: data (the shuffle; the first layer reads the images' bytes itself),
// forward, backward, sync, exchange (between ranks), reduce+update, evaluation, other. They add up to the epoch's wall
// time.
std::vector<std::pair<std::string, double>> epoch_phases(const StepTimes& t, double shuffle, double evaluation,
                                                         double epoch_wall);

}  // namespace ptrain
