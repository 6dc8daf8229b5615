// Whole SGD steps of the default net: the float64 oracle against the parallel engine, with the
// thread count and the batch size as arguments. items/s counts training examples.
#include <benchmark/benchmark.h>

#include <random>

#include "ptrain/engine/parallel_engine.hpp"
#include "ptrain/engine/reference.hpp"
#include "ptrain/core/threads.hpp"

namespace {

using namespace ptrain;

Dataset random_images(std::size_t n) {
  std::mt19937 rng(1);
  Dataset d;
  d.image_size = 784;
  d.pixels.resize(n * 784);
  for (auto& p : d.pixels) p = static_cast<std::uint8_t>(rng() % 256);
  d.labels.resize(n);
  for (auto& l : d.labels) l = static_cast<std::uint8_t>(rng() % 10);
  return d;
}

const Dataset& data() {
  static const Dataset d = random_images(4096);
  return d;
}

std::vector<std::uint32_t> batch_indices(int batch) {
  std::vector<std::uint32_t> idx(batch);
  std::mt19937 rng(2);
  for (auto& i : idx) i = rng() % data().size();
  return idx;
}

void BM_step_reference(benchmark::State& state) {
  const int batch = state.range(0);
  NetSpec spec;
  ReferenceEngine engine(spec, init_blog(spec.sizes, 1));
  auto idx = batch_indices(batch);
  for (auto _ : state) benchmark::DoNotOptimize(engine.train_step(data(), idx, 1e-6));
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_step_reference)->Name("step/scalar")->Arg(32)->UseRealTime()->Unit(benchmark::kMicrosecond);

// Args: batch, threads, chunk size.
void step_parallel(benchmark::State& state, const std::vector<int>& sizes) {
  const int batch = state.range(0), threads = state.range(1), chunk = state.range(2);
  NetSpec spec;
  spec.sizes = sizes;
  ParallelEngine engine(spec, init_blog(spec.sizes, 1), chunk);
  ThreadLimit limit(threads);
  auto idx = batch_indices(batch);
  limit.run([&] {
    for (auto _ : state) benchmark::DoNotOptimize(engine.train_step(data(), idx, 1e-6));
  });
  state.SetItemsProcessed(state.iterations() * batch);
}

void BM_step_parallel(benchmark::State& state) { step_parallel(state, NetSpec{}.sizes); }
BENCHMARK(BM_step_parallel)
    ->Name("step/parallel")
    ->ArgNames({"batch", "threads", "chunk"})
    ->ArgsProduct({{32, 128, 512}, {1, 2}, {8}})
    ->Args({32, 1, 4})
    ->Args({32, 1, 16})
    ->Args({32, 2, 4})
    ->Args({32, 2, 16})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// The wide net the issue measures against oneDNN: 784-1024-1024-10. Args as above.
void BM_step_wide(benchmark::State& state) { step_parallel(state, {784, 1024, 1024, 10}); }
BENCHMARK(BM_step_wide)
    ->Name("step/wide")
    ->ArgNames({"batch", "threads", "chunk"})
    ->ArgsProduct({{128}, {1, 2}, {8}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
