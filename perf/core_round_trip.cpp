// How long a cache line takes to go from one core to another and back: two threads, pinned to
// two CPUs, hand a counter to each other through two lines. A training step at batch 32 on two
// threads makes a few dozen such hand-offs (the fork, the join, the rows each owner reads from
// the other), so this figure tells which of a host's spells a two-thread speed was measured in:
// on a PVM guest the same two vCPUs gave 640-680 ns in a spell of 1.45x speed-ups.
// Usage: core_round_trip [cpu_a cpu_b] (default 0 1); prints the median of 7 runs in ns.
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

struct alignas(64) Line {
  std::atomic<long> value{0};
};
Line ping, pong;  // each on its own cache line

bool pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

// Nanoseconds a round trip, over `trips` of them.
double round_trip_ns(int cpu_a, int cpu_b, long trips) {
  ping.value = 0;
  pong.value = 0;
  std::thread echo([&] {
    pin(cpu_b);
    for (long i = 1; i <= trips; ++i) {
      while (ping.value.load(std::memory_order_acquire) != i) {
      }
      pong.value.store(i, std::memory_order_release);
    }
  });
  pin(cpu_a);
  const auto start = std::chrono::steady_clock::now();
  for (long i = 1; i <= trips; ++i) {
    ping.value.store(i, std::memory_order_release);
    while (pong.value.load(std::memory_order_acquire) != i) {
    }
  }
  const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
  echo.join();
  return ns / static_cast<double>(trips);
}

}  // namespace

int main(int argc, char** argv) {
  const int cpu_a = argc > 2 ? std::atoi(argv[1]) : 0, cpu_b = argc > 2 ? std::atoi(argv[2]) : 1;
  if (!pin(cpu_a) || !pin(cpu_b)) {
    std::fprintf(stderr, "core_round_trip: cannot run on CPUs %d and %d\n", cpu_a, cpu_b);
    return 1;
  }
  std::vector<double> runs;
  for (int r = 0; r < 7; ++r) runs.push_back(round_trip_ns(cpu_a, cpu_b, 200'000));
  std::sort(runs.begin(), runs.end());
  std::printf("cpus %d,%d: cache-line round trip %.0f ns (median of 7; %.0f-%.0f)\n", cpu_a, cpu_b, runs[3], runs[0],
              runs[6]);
  return 0;
}
