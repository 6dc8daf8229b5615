// Subnormal floats are flushed on every thread that runs ptrain's arithmetic, and only there:
// each worker of a ThreadLimit flushes, the caller gets its own bits back, and a later arena that
// keeps subnormals finds no worker still flushing.
#include <gtest/gtest.h>

#include <oneapi/tbb/enumerable_thread_specific.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "ptrain/core/float_mode.hpp"
#include "ptrain/core/parallel_tasks.hpp"
#include "ptrain/core/threads.hpp"
#include "ptrain/engine/reference.hpp"
#include "support.hpp"

namespace ptrain {
namespace {

// 1e-20² = 1e-40 is subnormal: zero where results are flushed. Volatile, so the product is
// computed on the thread at run time and not folded by the compiler.
bool product_is_flushed() {
  volatile float tiny = 1e-20f;
  const float product = tiny * tiny;
  return product == 0.0f;
}

// 1e-40 as an input: zero where inputs are flushed (denormals-are-zero), so 1e-40 · 1e30 is 0.
bool input_is_flushed() {
  volatile float subnormal = 1e-40f;
  const float scaled = subnormal * 1e30f;
  return scaled == 0.0f;
}

struct ThreadSeen {
  bool used = false;
  unsigned bits = 0;
  bool product_flushed = false, input_flushed = false;
};

// Runs one task per thread (each held until all have started, so no thread takes two) and
// records what every thread that ran one saw.
tbb::enumerable_thread_specific<ThreadSeen> what_each_thread_sees(ThreadLimit& limit, int threads) {
  tbb::enumerable_thread_specific<ThreadSeen> seen;
  std::atomic<int> arrived{0};
  limit.run([&] {
    parallel_tasks(threads, [&](std::size_t) {
      ++arrived;
      for (int spin = 0; arrived.load() < threads && spin < 20000; ++spin)
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      seen.local() = {true, flush_bits(), product_is_flushed(), input_is_flushed()};
    });
  });
  return seen;
}

TEST(FloatMode, EveryWorkerFlushesSubnormals) {
  ASSERT_FALSE(product_is_flushed()) << "the test thread itself starts flushing";
  for (int threads : {1, 2, 3, 8}) {
    ThreadLimit limit(threads);
    const auto seen = what_each_thread_sees(limit, threads);
    EXPECT_EQ(static_cast<int>(seen.size()), threads);
    for (const ThreadSeen& s : seen) {
      EXPECT_EQ(s.bits, kFlushBits) << threads << " threads";
      EXPECT_TRUE(s.product_flushed) << threads << " threads: a subnormal result was kept";
      EXPECT_TRUE(s.input_flushed) << threads << " threads: a subnormal input was used";
    }
  }
}

TEST(FloatMode, KeepingSubnormalsLeavesNoWorkerFlushing) {
  // The same workers, first in a flushing arena, then in one that keeps subnormals.
  for (int threads : {2, 3}) {
    ThreadLimit flushing(threads);
    what_each_thread_sees(flushing, threads);
  }
  ThreadLimit keeping(3, Subnormals::keep);
  const auto seen = what_each_thread_sees(keeping, 3);
  EXPECT_EQ(static_cast<int>(seen.size()), 3);
  for (const ThreadSeen& s : seen) {
    EXPECT_EQ(s.bits, 0u);
    EXPECT_FALSE(s.product_flushed);
    EXPECT_FALSE(s.input_flushed);
  }
}

TEST(FloatMode, TheCallerGetsItsOwnBitsBack) {
  for (unsigned caller : {0u, kFlushBits}) {
    for (Subnormals mode : {Subnormals::flush, Subnormals::keep}) {
      FlushBitsScope as_caller(caller);
      const unsigned mxcsr_before = _mm_getcsr();
      ThreadLimit limit(2, mode);
      EXPECT_EQ(flush_bits(), caller) << "after the arena's start";
      const unsigned inside = limit.run([] { return flush_bits(); });
      EXPECT_EQ(inside, flush_bits_of(mode));
      EXPECT_EQ(flush_bits(), caller) << "after run";
      EXPECT_EQ(product_is_flushed(), caller != 0);
      // The other control bits (rounding, exception masks) are the caller's too.
      EXPECT_EQ(_mm_getcsr() & ~0x3Fu, mxcsr_before & ~0x3Fu);
    }
  }
  EXPECT_EQ(flush_bits(), 0u);
}

TEST(FloatMode, TheOracleComputesTheSameWhetherOrNotSubnormalsAreFlushed) {
  // Adam's first moments of the inputs a batch leaves dark decay by β₁ a step, into float's
  // subnormal range within a few hundred steps; the float64 oracle's stay far above double's.
  const std::vector<int> sizes{20, 8, 3};
  NetSpec spec;
  spec.sizes = sizes;
  spec.hidden = Activation::relu;
  spec.loss = Loss::xent;
  UpdateRule rule;
  rule.optimizer = Optimizer::adam;
  const Dataset d = test::synthetic_dataset(64, sizes.front(), sizes.back(), 8);
  const std::vector<std::uint32_t> all = test::iota_indices(d.size());
  auto train = [&](Subnormals mode) {
    ReferenceEngine oracle(spec, init_params(sizes, Init::he, 4), rule);
    ThreadLimit limit(1, mode);
    limit.run([&] {
      for (int step = 0; step < 800; ++step) oracle.train_step(d, Indices(all).subspan((step % 16) * 4, 4), 0.001);
    });
    return oracle.state().params;
  };
  const std::vector<double> flushed = train(Subnormals::flush), kept = train(Subnormals::keep);
  ASSERT_EQ(flushed.size(), kept.size());
  EXPECT_EQ(std::memcmp(flushed.data(), kept.data(), flushed.size() * sizeof(double)), 0);
}

}  // namespace
}  // namespace ptrain
