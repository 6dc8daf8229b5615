#pragma once
// One task per index, on the current oneTBB arena: the single way the parallel engine forks
// and joins. The task boundaries depend only on n, never on the thread count. The default
// partitioner balances by stealing; tbb::static_partitioner gives task i to the same thread on
// every call, and a tbb::affinity_partitioner kept between calls replays where each task ran
// (for work that should stay in one core's cache from step to step).
//
// Under ThreadSanitizer it also declares the ordering oneTBB guarantees but TSan cannot see,
// because Debian's libtbb is not instrumented: what precedes the call happens-before every
// task, and every task happens-before the return. Races between tasks stay visible.
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>

#include <cstddef>

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PTRAIN_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define PTRAIN_TSAN 1
#endif

#ifdef PTRAIN_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace ptrain {

template <class Body, class Partitioner = const tbb::simple_partitioner>
void parallel_tasks(std::size_t n, Body&& body, Partitioner&& partitioner = tbb::simple_partitioner()) {
#ifdef PTRAIN_TSAN
  char fork, join;  // their addresses name the two hand-offs
  __tsan_release(&fork);
#endif
  tbb::parallel_for(
      tbb::blocked_range<std::size_t>(0, n, 1),
      [&](const tbb::blocked_range<std::size_t>& r) {
#ifdef PTRAIN_TSAN
        __tsan_acquire(&fork);
#endif
        for (std::size_t i = r.begin(); i < r.end(); ++i) body(i);
#ifdef PTRAIN_TSAN
        __tsan_release(&join);
#endif
      },
      partitioner);
#ifdef PTRAIN_TSAN
  __tsan_acquire(&join);
#endif
}

}  // namespace ptrain
