#pragma once
// Runs work on exactly `threads` oneTBB threads: global_control caps the whole process (so no
// other arena adds workers) and an arena of that size runs the work. Every thread of that work
// flushes subnormal floats (float_mode.hpp): the arena is initialised with the bits set, and
// oneTBB applies the floating-point settings an arena captured then to all work in it, the
// calling thread's function in execute included, giving each thread its own back after.
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>

#include <utility>

#include "ptrain/core/float_mode.hpp"

namespace ptrain {

class ThreadLimit {
 public:
  explicit ThreadLimit(int threads, Subnormals subnormals = Subnormals::flush)
      : control_(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(threads)), arena_(threads) {
    FlushBitsScope scope(subnormals);
    arena_.initialize();
  }

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
