// join_cluster of an MPI build: MPI's world when mpirun started this process, else one process
// (so a plain `ptrain` never initialises MPI). Collectives run on the main thread only
// (MPI_THREAD_FUNNELED); a watchdog thread bounds how long any of them may wait.
#include <mpi.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
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

// This process's own pauses (SIGSTOP, a suspended machine): time it did not run is not the other
// ranks' fault. The watchdog's wakes and the SIGCONT handler both measure the gap since the last
// one (whichever runs first after a pause takes it), and report it at once: mpirun sends SIGCONT
// just before SIGTERM and SIGKILL when it ends a job, so the watchdog's next wake could be too
// late. Past half the timeout the others may be giving up already (they waited before this
// process stopped): a line names it; past the whole timeout it stops. Otherwise the pause is
// taken off the current wait. Lock-free atomics and write(2) only, as a handler needs.
struct Pauses {
  static inline std::atomic<std::int64_t> last_ns{0};  // the last look at the clock; 0: not yet
  static inline std::atomic<std::int64_t> timeout_ns{0};
  static inline std::atomic<std::int64_t>* waiting_since = nullptr;  // the cluster's, steady-clock ns
  static inline char prefix[64 + MPI_MAX_PROCESSOR_NAME] = {};       // "ptrain: rank R on HOST: "

  static std::int64_t now_ns() {
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);  // steady_clock's clock, and async-signal-safe
    return std::int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
  }

  // The time since the last look beyond `expected`, reported and excused.
  static void look(std::int64_t expected_ns) {
    const std::int64_t now = now_ns(), last = last_ns.exchange(now), timeout = timeout_ns.load();
    const std::int64_t paused = now - last - expected_ns;
    if (last == 0 || paused <= std::max<std::int64_t>(2'000'000'000, timeout / 2)) return;
    report(paused, paused > timeout);
    std::int64_t since = waiting_since->load();
    while (since != 0 && !waiting_since->compare_exchange_weak(since, since + paused)) {
    }
  }

  static void report(std::int64_t paused, bool given_up) {
    char seconds[24];
    int n = sizeof seconds;
    for (std::int64_t v = paused / 1'000'000'000; n == sizeof seconds || v > 0; v /= 10)
      seconds[--n] = char('0' + v % 10);
    const char* rest = given_up ? " s (stopped, or its machine suspended), past --rank-timeout: the other ranks have "
                                  "given up on it; stopping\n"
                                : " s (stopped, or its machine suspended); the other ranks give up on a rank after "
                                  "--rank-timeout\n";
    const auto say = [](const char* text, std::size_t length) { return ::write(STDERR_FILENO, text, length); };
    [[maybe_unused]] auto written = say(prefix, std::strlen(prefix));
    written = say("this process was paused for ", 28);
    written = say(seconds + n, sizeof seconds - n);
    written = say(rest, std::strlen(rest));
    if (given_up) std::_Exit(1);
  }

  static void on_continue(int) { look(0); }
};

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
    int length = 0;
    MPI_Get_processor_name(host_, &length);
    local_size_ = env_int("OMPI_COMM_WORLD_LOCAL_SIZE", env_int("MPI_LOCALNRANKS", 1));
    std::snprintf(Pauses::prefix, sizeof Pauses::prefix, "ptrain: rank %d on %s: ", rank_, host_);
    Pauses::waiting_since = &waiting_since_;
    Pauses::timeout_ns = static_cast<std::int64_t>(timeout_seconds_ * 1e9);
    Pauses::last_ns = Pauses::now_ns();
    std::signal(SIGCONT, Pauses::on_continue);
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
    std::vector<int> offsets(size_, 0);
    for (int r = 1; r < size_; ++r) offsets[r] = offsets[r - 1] + counts[r - 1];
    Waiting w(*this);
    MPI_Allgatherv(mine.data(), count(mine.size()), MPI_FLOAT, all.data(), counts.data(), offsets.data(), MPI_FLOAT,
                   MPI_COMM_WORLD);
  }
  std::vector<std::uint64_t> gather(std::uint64_t mine) override {
    std::vector<std::uint64_t> all(size_);
    Waiting w(*this);
    MPI_Allgather(&mine, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD);
    return all;
  }

  void set_timeout(double seconds) override {
    timeout_seconds_ = seconds;
    Pauses::timeout_ns = static_cast<std::int64_t>(seconds * 1e9);  // before the watchdog's next wake
  }
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

  // Wakes a few times per timeout; a collective that has waited longer than the timeout means
  // another rank is gone, stuck or cut off. Exiting without MPI_Finalize makes mpirun end the job.
  // A wake far later than asked for is a pause of this process (Pauses).
  void watch() {
    std::unique_lock lock(mutex_);
    while (!closing_) {
      const double timeout = timeout_seconds_, tick = std::min(1.0, timeout / 4);
      Pauses::timeout_ns = static_cast<std::int64_t>(timeout * 1e9);
      wake_.wait_for(lock, std::chrono::duration<double>(tick));
      if (closing_) break;
      Pauses::look(static_cast<std::int64_t>(tick * 1e9));
      const auto since = waiting_since_.load();
      if (since == 0) continue;
      const double waited =
          std::chrono::duration<double>(Clock::now().time_since_epoch() - Clock::duration(since)).count();
      if (waited > timeout)
        stop_now("no answer from the other ranks for " + whole_seconds(waited) +
                 " (--rank-timeout): a rank died, hangs or lost its network; stopping");
    }
  }

  // One line naming this rank and its host, then an exit that mpirun sees.
  [[noreturn]] void stop_now(const std::string& what) const {
    std::fprintf(stderr, "ptrain: rank %d on %s: %s\n", rank_, host_, what.c_str());
    std::fflush(stderr);
    std::_Exit(1);
  }

  static std::string whole_seconds(double s) { return std::to_string(std::lround(s)) + " s"; }

  int rank_ = 0, size_ = 1, local_size_ = 1;
  char host_[MPI_MAX_PROCESSOR_NAME] = {};
  std::atomic<double> timeout_seconds_{120.0};
  std::atomic<std::int64_t> waiting_since_{0};  // 0: not in a collective
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
