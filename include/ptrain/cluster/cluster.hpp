#pragma once
// The processes one training run is spread over. `mpirun -np K ptrain …` makes K ranks (an
// MPI build, src/cluster/cluster_mpi.cpp); otherwise the run is rank 0 of 1 and every
// collective below returns its input. Only the main thread of a rank calls these; oneTBB's workers never do.
//
// Each collective is called by every rank in the same order. A rank that stops answering (it
// died, hangs, or its host went away) is not waited for forever: after the rank timeout a rank
// stuck in a collective prints one line and exits, and mpirun then ends the others.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace ptrain {

class Cluster {
 public:
  virtual ~Cluster() = default;
  virtual int rank() const { return 0; }
  virtual int size() const { return 1; }
  // Ranks on this host: the default --threads shares the host's cores among them.
  virtual int local_size() const { return 1; }
  bool leader() const { return rank() == 0; }

  // Element-wise sums over all ranks, in place.
  virtual void sum(std::span<float> values) { (void)values; }
  virtual void sum(std::span<double> values) { (void)values; }
  // Each rank's `mine` (counts[r] elements from rank r), concatenated in rank order into `all`.
  virtual void gather(std::span<const float> mine, std::span<float> all, std::span<const int> counts);
  // One value from each rank, in rank order.
  virtual std::vector<std::uint64_t> gather(std::uint64_t mine) { return {mine}; }

  // How long a collective may wait for the other ranks before this rank gives up (seconds).
  virtual void set_timeout(double seconds) { (void)seconds; }
  // Ends every rank now with `exit_code`, from a state the ranks do not agree on.
  [[noreturn]] virtual void abort(int exit_code);
};

// Rank `rank`'s consecutive share [first, last) of n items, as even as whole items allow: how
// chunks of a batch and examples of an evaluation are divided.
struct ShareBounds {
  std::size_t first, last;
};
inline ShareBounds share_bounds(std::size_t n, int rank, int ranks) {
  return {n * rank / ranks, n * (rank + 1) / ranks};
}

// The cluster this process belongs to: MPI's world when started by mpirun in an MPI build, else
// one process. Call once, first thing in main; it may consume MPI's own arguments.
std::unique_ptr<Cluster> join_cluster(int& argc, char**& argv);

// Thrown on the ranks that stay silent about a failure another rank reports: the exit code only.
struct SilentFailure {
  int exit_code;
};

// A failure every rank knows of, on the one rank that reports it (main prints it and ends normally
// instead of aborting the job).
struct AgreedFailure {
  std::exception_ptr failure;
};

// Exit code of a failure, as main maps it (usage 2, data 1, a signal 128 + it).
int exit_code_of(const std::exception_ptr& failure);

// For a failure every rank met at the same point (computed from values all ranks share): rank 0
// throws it as an AgreedFailure, the others a SilentFailure; one process rethrows it as it is.
[[noreturn]] void fail_together(Cluster& cluster, std::exception_ptr failure);

// Runs `part` on every rank and makes the ranks agree on how it went, so none is left waiting in a
// collective for one that failed: if it threw anywhere, it throws everywhere — the lowest failing
// rank its own as an AgreedFailure, every other rank a SilentFailure with its exit code; one
// process rethrows the exception as it is. `part` must not itself call collectives.
void all_or_none(Cluster& cluster, const std::function<void()>& part);

}  // namespace ptrain
