// The owners' layout: which thread owns which columns of the first layer, where each owner's
// block of weights lies, and which owner updates each later layer.
#include "parallel_engine_detail.hpp"

namespace ptrain {

using namespace parallel_engine_detail;

bool ParallelEngine::has_narrow_owners() const {
  return std::any_of(owners_.begin(), owners_.end(), [](const Owner& o) { return o.narrow; });
}

// The first layer's Wᵀ is stored owner block by owner block, each block [in][cols] contiguous
// (a narrow one [cols][in]).
std::size_t ParallelEngine::block_weight(const Owner& o) const {
  return layout_.layers[0].weight + std::size_t(layout_.layers[0].in) * o.j_begin;
}

std::size_t ParallelEngine::weight_index(int l, int i, int j) const {
  const LayerSlot& s = layout_.layers[l];
  if (l > 0) return s.weight + std::size_t(i) * s.out + j;
  for (const Owner& o : owners_)
    if (j < o.j_end)
      return block_weight(o) + (o.narrow ? std::size_t(j - o.j_begin) * layout_.layers[0].in + i
                                         : std::size_t(i) * o.cols() + (j - o.j_begin));
  return 0;  // j is always below the last owner's end
}

void ParallelEngine::scatter_columns(const float* block, const Owner& o, float* rows, int stride, int K) {
  for (int k = 0; k < K; ++k)
    std::copy_n(block + std::size_t(k) * o.cols(), o.cols(), rows + std::size_t(k) * stride + o.j_begin);
}

void ParallelEngine::gather_columns(const float* rows, int stride, const Owner& o, float* block, int K) {
  for (int k = 0; k < K; ++k)
    std::copy_n(rows + std::size_t(k) * stride + o.j_begin, o.cols(), block + std::size_t(k) * o.cols());
}

// A later layer too big for a core's cache: it keeps no output-major copy.
bool ParallelEngine::streams_weights() const {
  return std::find(output_major_at_.begin() + 1, output_major_at_.end(), kNoCopy) != output_major_at_.end();
}

int ParallelEngine::column_groups() const { return (spec_.sizes[1] + kOwnerColumns - 1) / kOwnerColumns; }

// As even a split as whole groups allow: groups of a vector's columns when every owner gets one,
// else of 8. An owner's time goes by the vectors its columns fill (a half vector takes an FMA
// slot as a whole one does), so whole vectors lose nothing and the tiles need no half vector,
// which runs slower (perf/bench_kernels, linear_forward_pixels at 56 against 48 and 64 columns).
// The first owners take the groups left over: task 0 runs on the calling thread at once, the
// others only once a worker has taken them (perf/scaling.py at two threads). No result depends on
// the split.
void ParallelEngine::place_owners(int n) {
  const int columns = spec_.sizes[1], vector = std::max(kOwnerColumns, k::lanes());
  const int group = columns / vector >= n ? vector : kOwnerColumns, groups = (columns + group - 1) / group;
  auto first_group = [&](int o) { return groups / n * o + std::min(o, groups % n); };
  owners_.resize(n);
  owner_rows_ = std::make_unique<Counter[]>(n);
  for (int o = 0; o < n; ++o) {
    owners_[o].j_begin = std::min(columns, first_group(o) * group);
    owners_[o].j_end = std::min(columns, first_group(o + 1) * group);
    owners_[o].narrow = owners_[o].cols() <= kNarrowColumns;
  }
  // Each small later layer to the owner with the least to do so far (weights of the first layer
  // read twice, a layer's once; ties to the later owner, which has the fewer columns): on two
  // threads both of the default net's go to the 48-column owner, whose spare time they fill, and
  // the other reads none of their inputs (perf/scaling.py at two threads).
  std::vector<std::size_t> load(n);
  for (int o = 0; o < n; ++o) load[o] = 2 * std::size_t(owners_[o].cols()) * layout_.layers[0].in;
  small_layer_owner_.assign(spec_.num_layers(), 0);
  for (int l = 1; l < spec_.num_layers(); ++l) {
    if (updated_in_shares(l)) continue;
    const std::size_t least = std::min_element(load.rbegin(), load.rend()) - load.rbegin();
    const std::size_t o = std::size_t(n) - 1 - least;
    small_layer_owner_[l] = o;
    load[o] += std::size_t(layout_.layers[l].in) * layout_.layers[l].out;
  }
}

// One owner a thread; the first layer's blocks are laid out anew when their number changes.
void ParallelEngine::assign_owners(int threads) {
  const int n = std::max(1, std::min(threads, column_groups()));
  if (static_cast<int>(owners_.size()) == n) return;
  std::vector<std::vector<float>> canonical;  // the parameters and the optimizer's state, laid out anew
  for (AlignedVector<float>* v : {&params_, &velocity_, &second_moment_})
    canonical.push_back(v->empty() ? std::vector<float>{} : to_canonical(*v));
  place_owners(n);
  int at = 0;
  for (AlignedVector<float>* v : {&params_, &velocity_, &second_moment_}) {
    const std::vector<float>& c = canonical[at++];
    if (!c.empty()) from_canonical(std::vector<double>(c.begin(), c.end()), *v);
  }
}

// Every later layer updated whole by one owner, and no narrow owner (whose forward reads the
// inputs transposed, which phase 2's tasks prepare for the lookahead batch).
bool ParallelEngine::pipelines_later_layers() const {
  for (int l = 1; l < spec_.num_layers(); ++l)
    if (updated_in_shares(l)) return false;
  return !has_narrow_owners();
}

bool ParallelEngine::updated_in_shares(int l) const {
  const LayerSlot& s = layout_.layers[l];
  return std::size_t(s.in) * s.out * sizeof(float) > kSplitUpdateBytes;
}

}  // namespace ptrain
