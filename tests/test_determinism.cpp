// The headline property: for a given seed and options the weights are bitwise identical for
// every thread count, because chunk boundaries and the order of additions never depend on it.
#include <gtest/gtest.h>

#include <oneapi/tbb/enumerable_thread_specific.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <thread>

#include "ptrain/engine/parallel_engine.hpp"
#include "ptrain/core/parallel_tasks.hpp"
#include "ptrain/core/threads.hpp"
#include "ptrain/run/epoch_loop.hpp"
#include "support.hpp"

namespace ptrain {
namespace {

std::vector<float> train_with_threads(int threads, const std::vector<int>& sizes, int batch, int chunk,
                                      double momentum = 0, bool floats = false, Optimizer optimizer = Optimizer::sgd,
                                      double weight_decay = 0) {
  NetSpec spec;
  spec.sizes = sizes;
  UpdateRule rule;
  rule.optimizer = optimizer;
  rule.momentum = momentum;
  rule.weight_decay = weight_decay;
  if (momentum > 0 || rule.adam()) {
    spec.hidden = Activation::relu;
    spec.loss = Loss::xent;
  }
  Dataset d = test::synthetic_dataset(300, sizes.front(), sizes.back(), 21);
  if (floats) d = test::as_float_features(std::move(d));
  ParallelEngine engine(spec, init_params(sizes, spec.hidden == Activation::relu ? Init::he : Init::blog, 3), chunk,
                        rule);
  ThreadLimit limit(threads);
  for (int epoch = 1; epoch <= 2; ++epoch) {
    std::vector<std::uint32_t> order = epoch_order(test::iota_indices(d.size()), 3, epoch);
    limit.run([&] { train_epoch(engine, d, order, batch, rule.adam() ? 0.01 : 0.5); });
  }
  return engine.parameters();
}

// first index where the two differ bitwise, or a.size()
std::size_t first_difference(const std::vector<float>& a, const std::vector<float>& b) {
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0) return i;
  return a.size();
}

TEST(Determinism, WeightsAreBitwiseIdenticalForThreads_1_2_3_4_8) {
  for (auto [batch, chunk] : {std::pair{32, 8}, {37, 4}, {64, 1}}) {
    const std::vector<int> sizes{784, 30, 16, 10};
    std::vector<float> one = train_with_threads(1, sizes, batch, chunk);
    for (int threads : {2, 3, 4, 8}) {
      std::vector<float> many = train_with_threads(threads, sizes, batch, chunk);
      ASSERT_EQ(many.size(), one.size());
      const std::size_t at = first_difference(one, many);
      EXPECT_EQ(at, one.size()) << threads << " threads differ from 1 at parameter " << at << " (batch " << batch
                                << ", chunk " << chunk << ")";
    }
  }
}

TEST(Determinism, WithMomentumReluAndCrossEntropyToo) {
  const std::vector<int> sizes{784, 30, 16, 10};
  std::vector<float> one = train_with_threads(1, sizes, 37, 4, 0.9);
  for (int threads : {2, 3, 4, 8}) {
    std::vector<float> many = train_with_threads(threads, sizes, 37, 4, 0.9);
    EXPECT_EQ(first_difference(one, many), one.size()) << threads << " threads, momentum 0.9";
  }
}

TEST(Determinism, WithAdamAdamWAndWeightDecayToo) {
  // Adam's moments and AdamW's shrinking are kept element by element: the owners' blocks and a
  // shared large layer's columns change nothing.
  for (const std::vector<int>& sizes : {std::vector<int>{784, 30, 16, 10}, std::vector<int>{20, 24, 384, 384, 4}})
    for (auto [optimizer, decay] :
         {std::pair{Optimizer::adam, 0.0}, std::pair{Optimizer::adamw, 0.01}, std::pair{Optimizer::sgd, 0.01}}) {
      std::vector<float> one = train_with_threads(1, sizes, 37, 4, 0, false, optimizer, decay);
      for (int threads : {2, 3})
        EXPECT_EQ(first_difference(one, train_with_threads(threads, sizes, 37, 4, 0, false, optimizer, decay)),
                  one.size())
            << threads << " threads, " << name_of(optimizer) << " decay " << decay << ", " << NetSpec{sizes}.describe();
    }
}

TEST(Determinism, FloatFeaturesToo) {
  for (const std::vector<int>& sizes : {std::vector<int>{784, 30, 16, 10}, std::vector<int>{20, 24, 384, 384, 4}}) {
    std::vector<float> one = train_with_threads(1, sizes, 37, 4, 0.9, true);
    for (int threads : {2, 3})
      EXPECT_EQ(first_difference(one, train_with_threads(threads, sizes, 37, 4, 0.9, true)), one.size())
          << threads << " threads, " << NetSpec{sizes}.describe();
  }
}

TEST(Determinism, WeightsAreBitwiseIdenticalForEveryChunkSize) {
  // Each example's arithmetic and the order of every sum are fixed, whatever the chunking.
  const std::vector<int> sizes{784, 30, 16, 10};
  std::vector<float> reference = train_with_threads(2, sizes, 37, 4);
  for (int chunk : {1, 3, 5, 8, 37, 64}) {
    std::vector<float> other = train_with_threads(2, sizes, 37, chunk);
    EXPECT_EQ(first_difference(reference, other), reference.size()) << "chunk size " << chunk;
  }
}

TEST(Determinism, ALaterLayerTooBigForTheCacheToo) {
  // 384 × 384 floats (576 KiB) puts phase 2 on a task a thread over runs of chunks, and its
  // update is shared among the owners by columns (cut at 16-float lines: 2 and 3 shares).
  const std::vector<int> sizes{20, 24, 384, 384, 4};
  std::vector<float> one = train_with_threads(1, sizes, 37, 4);
  for (int threads : {2, 3})
    EXPECT_EQ(first_difference(one, train_with_threads(threads, sizes, 37, 4)), one.size()) << threads << " threads";
  for (int chunk : {1, 8, 37})
    EXPECT_EQ(first_difference(one, train_with_threads(2, sizes, 37, chunk)), one.size()) << "chunk size " << chunk;
  std::vector<float> one_momentum = train_with_threads(1, sizes, 37, 4, 0.9);
  EXPECT_EQ(first_difference(one_momentum, train_with_threads(3, sizes, 37, 4, 0.9)), one_momentum.size())
      << "3 threads, momentum 0.9";
}

// Steps of 32 over 300 examples (the last one 12) of a 784-hidden-16-10 net, each with a hint
// (nullptr: none) before it: the weights after them, then every step's loss.
using Hint = std::function<void(ParallelEngine&, const Dataset&, Indices next, Indices after)>;
std::vector<float> steps_with_hints(int threads, int hidden, const Hint& hint) {
  const std::vector<int> sizes{784, hidden, 16, 10};
  NetSpec spec;
  spec.sizes = sizes;
  Dataset d = test::synthetic_dataset(300, sizes.front(), sizes.back(), 21);
  ParallelEngine engine(spec, init_params(sizes, Init::blog, 3), 8);
  ThreadLimit limit(threads);
  const std::vector<std::uint32_t> order = epoch_order(test::iota_indices(d.size()), 3, 1);
  auto batch_at = [&](std::size_t b) {
    const std::size_t begin = std::min(order.size(), b * 32);
    return Indices(order).subspan(begin, std::min<std::size_t>(32, order.size() - begin));
  };
  std::vector<float> losses;
  limit.run([&] {
    for (std::size_t b = 0; b * 32 < order.size(); ++b) {
      if (hint) hint(engine, d, batch_at(b + 1), batch_at(b + 2));
      losses.push_back(static_cast<float>(engine.train_step(d, batch_at(b), 0.5)));
    }
  });
  std::vector<float> out = engine.parameters();
  out.insert(out.end(), losses.begin(), losses.end());
  return out;
}

TEST(Determinism, ComputingTheNextBatchAheadChangesNoWeight) {
  // With a hint, phase 3 also computes the next batch's first layer, which the next step then
  // takes instead of running phase 1, and where no owner is narrow (64 hidden units: up to 4
  // threads) its phase 2 as well: the weights and losses must be those of steps without hints,
  // and a hint the next step does not follow must be ignored. 40 hidden units at 3 threads
  // leave an owner of 8 columns, which is narrow.
  for (int hidden : {40, 64})
    for (int threads : {1, 2, 3}) {
      const std::vector<float> plain = steps_with_hints(threads, hidden, nullptr);
      const std::vector<float> hinted = steps_with_hints(
          threads, hidden,
          [](ParallelEngine& e, const Dataset& d, Indices next, Indices after) { e.prefetch(d, next, after); });
      EXPECT_EQ(first_difference(plain, hinted), plain.size()) << threads << " threads, " << hidden << ", true hints";
      const std::vector<float> misled =
          steps_with_hints(threads, hidden, [](ParallelEngine& e, const Dataset& d, Indices, Indices after) {
            e.prefetch(d, after, {});  // the batch after next: a different batch from the one that comes
          });
      EXPECT_EQ(first_difference(plain, misled), plain.size()) << threads << " threads, " << hidden << ", misled";
    }
}

TEST(Determinism, ARestoreDiscardsTheBatchComputedAhead) {
  // Engine a computes batch 1's first layer ahead in step 0, then takes b's weights: its step 1
  // must be b's, from b's weights.
  const std::vector<int> sizes{784, 40, 16, 10};
  NetSpec spec;
  spec.sizes = sizes;
  Dataset d = test::synthetic_dataset(64, sizes.front(), sizes.back(), 21);
  const std::vector<std::uint32_t> all = test::iota_indices(64);
  const Indices first = Indices(all).subspan(0, 32), second = Indices(all).subspan(32, 32);
  ParallelEngine a(spec, init_params(sizes, Init::blog, 3), 8), b(spec, init_params(sizes, Init::blog, 4), 8);
  a.prefetch(d, second, {});
  a.train_step(d, first, 0.5);
  b.train_step(d, first, 0.5);
  a.restore(b.state());
  a.train_step(d, second, 0.5);
  b.train_step(d, second, 0.5);
  const std::vector<float> pa = a.parameters(), pb = b.parameters();
  EXPECT_EQ(first_difference(pa, pb), pa.size());
}

TEST(Determinism, ThreadLimitReallyRunsThatManyThreads) {
  // Guards WeightsAreBitwiseIdenticalForThreads_1_2_3_4_8: oversubscribed counts must really put
  // work on that many threads.
  for (int threads : {1, 3, 8}) {
    ThreadLimit limit(threads);
    EXPECT_EQ(limit.threads(), threads);
    tbb::enumerable_thread_specific<int> seen(0);
    std::atomic<int> arrived{0};
    limit.run([&] {
      parallel_tasks(threads, [&](std::size_t) {
        seen.local() = 1;
        ++arrived;
        // Hold each task until all have started (bounded), so no thread can take two.
        for (int spin = 0; arrived.load() < threads && spin < 20000; ++spin)
          std::this_thread::sleep_for(std::chrono::microseconds(50));
      });
    });
    EXPECT_EQ(static_cast<int>(seen.size()), threads);
  }
}

}  // namespace
}  // namespace ptrain
