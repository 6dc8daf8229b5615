#pragma once
// Runs work on exactly `threads` oneTBB threads: global_control caps the whole process (so no
// other arena adds workers) and an arena of that size runs the work.
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>

#include <utility>

namespace ptrain {

class ThreadLimit {
 public:
  explicit ThreadLimit(int threads)
      : control_(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(threads)), arena_(threads) {}

  template <class F>
  decltype(auto) run(F&& f) {
    return arena_.execute(std::forward<F>(f));
  }

  int threads() const { return arena_.max_concurrency(); }

 private:
  tbb::global_control control_;
  tbb::task_arena arena_;
};

}  // namespace ptrain
