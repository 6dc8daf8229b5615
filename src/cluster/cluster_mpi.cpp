// join_cluster of an MPI build: MPI's world when mpirun started this process, else one process
// (so a plain `ptrain` never initialises MPI). Collectives run on the main thread only
// (MPI_THREAD_FUNNELED); a watchdog thread bounds how long any of them may wait.
#include <mpi.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "ptrain/cluster/cluster.hpp"
#include "ptrain/core/errors.hpp"

namespace ptrain {
namespace {

using Clock = std::chrono::steady_clock;

bool started_by_mpirun() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"})
    if (std::getenv(name)) return true;
  return false;
}

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v ? std::max(1, std::atoi(v)) : fallback;
}

class MpiCluster final : public Cluster {
 public:
  MpiCluster(int& argc, char**& argv) {
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    if (provided < MPI_THREAD_FUNNELED) {
      std::fprintf(stderr, "ptrain: this MPI cannot run alongside threads (MPI_THREAD_FUNNELED)\n");
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    local_size_ = env_int("OMPI_COMM_WORLD_LOCAL_SIZE", env_int("MPI_LOCALNRANKS", 1));
    watchdog_ = std::thread([this] { watch(); });
  }

  ~MpiCluster() override {
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
    }
    wake_.notify_all();
    watchdog_.join();
    MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_size() const override { return local_size_; }

  void sum(std::span<float> v) override {
    Waiting w(*this);
    MPI_Allreduce(MPI_IN_PLACE, v.data(), count(v.size()), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  }
  void sum(std::span<double> v) override {
    Waiting w(*this);
    MPI_Allreduce(MPI_IN_PLACE, v.data(), count(v.size()), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  }
  void gather(std::span<const float> mine, std::span<float> all, std::span<const int> counts) override {
    gather_typed(mine.data(), mine.size(), all.data(), counts, MPI_FLOAT);
  }
  void gather(std::span<const double> mine, std::span<double> all, std::span<const int> counts) override {
    gather_typed(mine.data(), mine.size(), all.data(), counts, MPI_DOUBLE);
  }
  std::vector<std::uint64_t> gather(std::uint64_t mine) override {
    std::vector<std::uint64_t> all(size_);
    Waiting w(*this);
    MPI_Allgather(&mine, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD);
    return all;
  }

  void set_timeout(double seconds) override { timeout_seconds_ = seconds; }
  [[noreturn]] void abort(int exit_code) override {
    MPI_Abort(MPI_COMM_WORLD, exit_code);
    std::_Exit(exit_code);
  }

 private:
  // Marks the span of one collective for the watchdog.
  struct Waiting {
    explicit Waiting(MpiCluster& c) : c(c) { c.waiting_since_ = Clock::now().time_since_epoch().count(); }
    ~Waiting() { c.waiting_since_ = 0; }
    MpiCluster& c;
  };

  static int count(std::size_t n) {
    if (n > static_cast<std::size_t>(INT32_MAX)) throw DataError("MPI message of " + std::to_string(n) + " elements");
    return static_cast<int>(n);
  }

  void gather_typed(const void* mine, std::size_t n, void* all, std::span<const int> counts, MPI_Datatype type) {
    std::vector<int> offsets(size_, 0);
    for (int r = 1; r < size_; ++r) offsets[r] = offsets[r - 1] + counts[r - 1];
    Waiting w(*this);
    MPI_Allgatherv(mine, count(n), type, all, counts.data(), offsets.data(), type, MPI_COMM_WORLD);
  }

  // Wakes a few times per timeout; a collective that has waited longer than the timeout means
  // another rank is gone or stuck. Exiting without MPI_Finalize makes mpirun end the job.
  void watch() {
    std::unique_lock lock(mutex_);
    while (!closing_) {
      const double timeout = timeout_seconds_;
      wake_.wait_for(lock, std::chrono::duration<double>(std::min(1.0, timeout / 4)));
      const auto since = waiting_since_.load();
      if (closing_ || since == 0) continue;
      const double waited =
          std::chrono::duration<double>(Clock::now().time_since_epoch() - Clock::duration(since)).count();
      if (waited > timeout) {
        std::fprintf(stderr,
                     "ptrain: rank %d: no answer from the other ranks for %.0f s (--rank-timeout): "
                     "a rank died or hangs; stopping\n",
                     rank_, waited);
        std::fflush(stderr);
        std::_Exit(1);
      }
    }
  }

  int rank_ = 0, size_ = 1, local_size_ = 1;
  std::atomic<double> timeout_seconds_{120.0};
  std::atomic<Clock::rep> waiting_since_{0};  // 0: not in a collective
  std::mutex mutex_;
  std::condition_variable wake_;
  bool closing_ = false;
  std::thread watchdog_;
};

}  // namespace

std::unique_ptr<Cluster> join_cluster(int& argc, char**& argv) {
  if (!started_by_mpirun()) return std::make_unique<Cluster>();
  return std::make_unique<MpiCluster>(argc, argv);
}

}  // namespace ptrain
