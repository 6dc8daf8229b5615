#pragma once
// What the parallel engine's files share: its tuning constants, each with its reason, and two
// helpers. Private to src/engine (parallel_engine*.cpp); the class is in
// include/ptrain/engine/parallel_engine.hpp.
#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <cmath>

#include "ptrain/core/parallel_tasks.hpp"
#include "ptrain/core/prefetch.hpp"
#include "ptrain/core/transpose.hpp"
#include "ptrain/engine/kernels.hpp"
#include "ptrain/engine/parallel_engine.hpp"

namespace ptrain::parallel_engine_detail {

namespace k = kernels::simd;
inline constexpr std::size_t kAlignFloats = kCacheLine / sizeof(float);
// The first layer's columns are split in groups of 8 (an AVX2 vector, half an AVX-512 one), or
// of a whole vector (place_owners); each owner's block of weights is stored apart, so owners
// share no line of them.
inline constexpr int kOwnerColumns = 8;
// An owner of at most this many columns is narrow: its block is kept output-major and the batch
// (forward) or the inputs (update) fill the lanes, since 8 columns in the lanes fill only half an
// AVX-512 vector (perf/bench_kernels, narrow_* against linear_forward_pixels at 8 columns).
// Wider owners stay input-major: there the narrow kernels lose in whole runs (perf/scaling.py).
inline constexpr int kNarrowColumns = 8;
// A later layer with more weights than this is read from L3 or memory in phase 2 (a core's L2
// is 1-2 MiB on the machines we measure, shared with the owner's block and the activations).
// Such a layer keeps no output-major copy: refreshing it each step costs more than sending the
// error back from Wᵀ (linear_backward_input_from_wt).
inline constexpr std::size_t kCachedWeightBytes = 512 * 1024;
inline constexpr std::size_t kNoCopy = ~std::size_t{0};
// A later layer with more weights than this is updated by all owners, each a share of its
// columns; a smaller one by one owner whole (splitting it costs more than the imbalance).
inline constexpr std::size_t kSplitUpdateBytes = 64 * 1024;
// Examples an evaluation task runs together (at least; a larger chunk size is kept).
inline constexpr int kEvaluationRows = 64;

// Chunk i of `all`: examples [i·K, min((i+1)·K, n)).
inline Indices chunk_of(Indices all, int i, int K) {
  const std::size_t begin = std::size_t(i) * K;
  return all.subspan(begin, std::min<std::size_t>(K, all.size() - begin));
}

template <class Clock = ProfileClock>
typename Clock::time_point now_if(bool wanted) {
  return wanted ? Clock::now() : typename Clock::time_point{};
}

}  // namespace ptrain::parallel_engine_detail
