// The SIMD kernels of the linear layers and the updates. Every product here is an outer
// product: one operand is broadcast, the other loaded as a vector of consecutive outputs, and
// each output element sums its terms in a fixed order (input order, or example order) in its
// own lane, with FMAs only. The columns past the last whole vector do the same operations (in
// a half-width vector on AVX-512, then in a vector over a zero-padded copy of the last few), so
// a result depends on neither the vector width nor the tiling nor the column ranges. Unaligned
// loads throughout.
// The elementwise units, softmax and output deltas are in kernels_simd_units.cpp.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

#include "ptrain/core/simd.hpp"
#include "ptrain/core/transpose.hpp"
#include "ptrain/engine/kernels.hpp"

namespace ptrain::kernels::simd {
namespace {

using ptrain::simd::fma;
using ptrain::simd::kWidth;
using ptrain::simd::vfloat;
// The narrower vector an AVX-512 build uses for 8 leftover columns (none below 16 lanes).
using vhalf = xsimd::batch<float, std::conditional_t<kWidth == 16, xsimd::fma3<xsimd::avx2>, ptrain::simd::Arch>>;
constexpr bool kHalfTiles = kWidth == 16;

template <class Vec>
Vec load(const float* p) {
  return Vec::load_unaligned(p);
}

// Rows of X (r) against columns of Y (j), summed over t:
//   acc[r][j] = init(r, j), then acc[r][j] = fma(X[r·xr + t·xt], Y[t·yt + j], acc) for t = 0..T−1,
// for an R-row × V-vector tile at row r0 and column j0. R·V accumulators hide the FMA latency
// (4 cycles × 2 ports needs ≥ 8 in flight); each vector load feeds R FMAs, each broadcast V.
// `init` and `sink` are generic in the vector type; `init_one`/`sink_one` handle one float.
struct Operands {
  const float* X;
  std::size_t xr, xt;
  const float* Y;
  std::size_t yt;
  int T;
  float x(int r, int t) const { return X[std::size_t(r) * xr + std::size_t(t) * xt]; }
  bool tall_tiles() const { return xt == 1; }  // X read along t: a row is an example's inputs
};

// The same product with X read from images' bytes: x = to_float[byte], exactly the float a
// conversion pass would have written, so the sums are bitwise those of Operands over converted
// rows — without that pass, and with two loads (byte, table) for a broadcast instead of one.
// ExampleRows: rows are examples, t inputs (forward); otherwise rows are inputs, t examples.
template <bool ExampleRows>
struct PixelOperands {
  const std::uint8_t* const* images;
  const float* to_float;  // 256 entries
  const float* Y;
  std::size_t yt;
  int T;
  float x(int r, int t) const { return ExampleRows ? to_float[images[r][t]] : to_float[images[t][r]]; }
  bool tall_tiles() const { return ExampleRows; }
};

// The same with X read from float rows where they lie (a data set's feature rows): no copy.
template <bool ExampleRows>
struct RowOperands {
  const float* const* rows;
  const float* Y;
  std::size_t yt;
  int T;
  float x(int r, int t) const { return ExampleRows ? rows[r][t] : rows[t][r]; }
  bool tall_tiles() const { return ExampleRows; }
};

// The loaded operand at (t, j): a vector from j on, or one float. Operands with a float matrix Y
// (t's row yt floats apart) are read from it; the others say how (y and y_one).
template <class Vec, class O>
Vec y_vector(const O& o, int t, int j) {
  if constexpr (requires { o.Y; })
    return load<Vec>(o.Y + std::size_t(t) * o.yt + j);
  else
    return o.template y<Vec>(t, j);
}
template <class O>
float y_float(const O& o, int t, int j) {
  if constexpr (requires { o.Y; })
    return o.Y[std::size_t(t) * o.yt + j];
  else
    return o.y_one(t, j);
}

// Bytes v as float(v)·scale in each lane: the conversion is exact and the product rounds once,
// so each lane is the to_float table's entry. (The zero-masked AVX-512 forms, every lane set:
// GCC 12 warns, falsely, that the unmasked ones read an uninitialised register.)
template <class Vec>
Vec bytes_to_floats(const std::uint8_t* p, float scale) {
  constexpr std::size_t lanes = Vec::size;
  if constexpr (lanes == 16) {
#if defined(__AVX512F__)
    constexpr __mmask16 all = 0xFFFF;
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return Vec(_mm512_maskz_cvtepi32_ps(all, _mm512_maskz_cvtepu8_epi32(all, v))) * Vec(scale);
#endif
  } else if constexpr (lanes == 8) {
    const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    return Vec(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v))) * Vec(scale);
  } else {
    std::int32_t four;
    std::memcpy(&four, p, sizeof four);
    return Vec(_mm_cvtepi32_ps(_mm_cvtepu8_epi32(_mm_cvtsi32_si128(four)))) * Vec(scale);
  }
}

// A narrow block's forward from the batch's bytes transposed: rows are outputs (X = W[out][in]),
// t inputs, columns examples (Y = Bt[in][K], converted in the lanes).
struct TransposedPixelOperands {
  const float* W;
  int in;
  const std::uint8_t* Bt;
  std::size_t bt_stride;
  float scale;
  int T;
  float x(int r, int t) const { return W[std::size_t(r) * in + t]; }
  template <class Vec>
  Vec y(int t, int k) const {
    return bytes_to_floats<Vec>(Bt + std::size_t(t) * bt_stride + k, scale);
  }
  float y_one(int t, int k) const { return static_cast<float>(Bt[std::size_t(t) * bt_stride + k]) * scale; }
  bool tall_tiles() const { return true; }  // a narrow block's outputs come in eights
};

// A narrow block's update: rows are outputs (X = dZ, K rows of `out`), t examples, columns inputs
// (Y = the examples' rows, as they lie: images' bytes converted in the lanes, or floats).
template <class Input>  // std::uint8_t (pixels, scaled) or float
struct InputColumnOperands {
  static constexpr bool kPixels = std::is_same_v<Input, std::uint8_t>;
  const float* dZ;
  int out;
  const Input* const* rows;
  float scale;
  int T;
  float x(int r, int t) const { return dZ[std::size_t(t) * out + r]; }
  template <class Vec>
  Vec y(int t, int i) const {
    if constexpr (kPixels)
      return bytes_to_floats<Vec>(rows[t] + i, scale);
    else
      return load<Vec>(rows[t] + i);
  }
  float y_one(int t, int i) const {
    if constexpr (kPixels) return static_cast<float>(rows[t][i]) * scale;
    return rows[t][i];
  }
  bool tall_tiles() const { return true; }
};

// Keeps a loaded vector in a register: GCC otherwise folds the load into each FMA that uses it,
// one load per FMA instead of one per vector, which starves the broadcasts of load slots.
template <class Vec>
Vec in_register(Vec v) {
  auto r = typename Vec::register_type(v);
  asm("" : "+v"(r));
  return Vec(r);
}

// With Half, the tile also takes the 8 columns after its V vectors as one half-width vector on
// each row (AVX-512 only), fed by the same broadcasts: 56 columns, an owner's share of 112 on two
// threads, then run as one tile instead of 48 columns and a tile of half vectors alone.
template <class Vec, int R, int V, bool Half, class O, class Init, class Sink>
void outer_tile(const O& o, int r0, int j0, Init&& init, Sink&& sink) {
  constexpr int w = static_cast<int>(Vec::size);
  const int jh = j0 + V * w;  // the half vector's first column
  // Unrolled so that acc stays in registers: otherwise GCC keeps it on the stack, zeroes it there
  // and spills it again before the sink (perf/bench_kernels sgd_rank_k_step shows the cost).
  Vec acc[R][V];
  vhalf acc_h[Half ? R : 1];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) acc[r][v] = init(Vec{}, r0 + r, j0 + v * w);
    if constexpr (Half) acc_h[r] = init(vhalf{}, r0 + r, jh);
  }
  for (int t = 0; t < o.T; ++t) {
    Vec y[V];
    for (int v = 0; v < V; ++v) y[v] = y_vector<Vec>(o, t, j0 + v * w);
    vhalf y_h = Half ? in_register(y_vector<vhalf>(o, t, jh)) : vhalf(0.0f);
    for (int v = 0; v < V; ++v) y[v] = in_register(y[v]);
    for (int r = 0; r < R; ++r) {
      const float x_rt = o.x(r0 + r, t);
      const Vec x(x_rt);
      for (int v = 0; v < V; ++v) acc[r][v] = fma(x, y[v], acc[r][v]);
      if constexpr (Half) acc_h[r] = fma(vhalf(x_rt), y_h, acc_h[r]);
    }
  }
  // A copy whose address never escapes: a store through the sink's float pointer cannot then
  // alias what it captured (scale, strides), which would otherwise be reloaded after every store.
  auto local_sink = sink;
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) local_sink(r0 + r, j0 + v * w, acc[r][v]);
    if constexpr (Half) local_sink(r0 + r, jh, acc_h[r]);
  }
}

// Tiles as large as the register file allows: R·V accumulators, V loads and a broadcast in 32
// registers (AVX-512: 24 accumulators) or 16 (12); a half vector counts as a whole one.
constexpr int kAccumulators = kWidth == 16 ? 24 : 12;
constexpr int rows_for(int V) { return std::min(8, kAccumulators / V); }

// Rows [r_begin, r_end) of one column tile of V vectors (and a half one) at j.
template <class Vec, int V, bool Half = false, class O, class Init, class Sink>
void outer_column(const O& o, int r_begin, int r_end, int j, Init&& init, Sink&& sink) {
  constexpr int R = rows_for(V + Half);
  int r = r_begin;
  for (; r + R <= r_end; r += R) outer_tile<Vec, R, V, Half>(o, r, j, init, sink);
  if constexpr (R > 4)
    for (; r + 4 <= r_end; r += 4) outer_tile<Vec, 4, V, Half>(o, r, j, init, sink);
  for (; r + 2 <= r_end; r += 2) outer_tile<Vec, 2, V, Half>(o, r, j, init, sink);
  for (; r < r_end; ++r) outer_tile<Vec, 1, V, Half>(o, r, j, init, sink);
}

// The n columns at j past the last whole vector (fewer than Vec's lanes): Y's columns copied
// into a zero-padded block one vector wide, run as vector tiles, the lanes past n dropped. Each
// kept lane is the chain of FMAs a scalar loop would run, so no result changes; a scalar chain
// waits out each FMA's latency (perf/bench_kernels at 10 outputs).
template <class O>
struct PaddedOperands {  // o's X, and its columns' block in place of its Y
  const O& o;
  const float* block;
  int w, T;
  float x(int r, int t) const { return o.x(r, t); }
  template <class Vec>
  Vec y(int t, int j) const {
    return load<Vec>(block + std::size_t(t) * w + j);
  }
};

template <class Vec, class O, class InitOne, class SinkOne>
void padded_columns(const O& o, int r_begin, int r_end, int j, int n, InitOne&& init_one, SinkOne&& sink_one) {
  constexpr int w = static_cast<int>(Vec::size);
  thread_local std::vector<float> block;
  block.assign(std::size_t(o.T) * w, 0.0f);
  for (int t = 0; t < o.T; ++t)
    for (int l = 0; l < n; ++l) block[std::size_t(t) * w + l] = y_float(o, t, j + l);
  const PaddedOperands<O> padded{o, block.data(), w, o.T};
  auto init = [&](Vec, int r, int) {
    alignas(64) float lanes[w] = {};
    for (int l = 0; l < n; ++l) lanes[l] = init_one(r, j + l);
    return Vec::load_aligned(lanes);
  };
  auto sink = [&](int r, int, const Vec& acc) {
    alignas(64) float lanes[w];
    acc.store_aligned(lanes);
    for (int l = 0; l < n; ++l) sink_one(r, j + l, lanes[l]);
  };
  outer_column<Vec, 1>(padded, r_begin, r_end, 0, init, sink);
}

// With 24 accumulators a tile is 6 rows × 4 vectors or 8 × 3. Rows of examples (the batch
// operand read along t) or a narrow block's outputs take 8 × 3 when they come in eights, which
// leaves no short row tile; rows of inputs run faster as 6 × 4 whatever their count
// (perf/bench_kernels).
template <class O>
bool prefer_tall(const O& o, int rows) {
  return o.tall_tiles() && rows % 8 == 0;
}

// Rows [r_begin, r_end) × columns [j_begin, j_end) of the product, a column tile at a time.
template <class O, class Init, class Sink, class InitOne, class SinkOne>
void outer_product(const O& o, int r_begin, int r_end, int j_begin, int j_end, Init&& init, Sink&& sink,
                   InitOne&& init_one, SinkOne&& sink_one) {
  int j = j_begin;
  if constexpr (kAccumulators >= 24)
    if (!prefer_tall(o, r_end - r_begin))
      for (; j + 4 * kWidth <= j_end; j += 4 * kWidth) outer_column<vfloat, 4>(o, r_begin, r_end, j, init, sink);
  if constexpr (kHalfTiles) {
    const int rest = j_end - j, whole = rest / kWidth;  // whole vectors and a half one: one tile
    if (rest % kWidth == int(vhalf::size) && whole >= 1 && whole <= 3) {
      if (whole == 3) outer_column<vfloat, 3, true>(o, r_begin, r_end, j, init, sink);
      if (whole == 2) outer_column<vfloat, 2, true>(o, r_begin, r_end, j, init, sink);
      if (whole == 1) outer_column<vfloat, 1, true>(o, r_begin, r_end, j, init, sink);
      return;
    }
  }
  for (; j + 3 * kWidth <= j_end; j += 3 * kWidth) outer_column<vfloat, 3>(o, r_begin, r_end, j, init, sink);
  for (; j + 2 * kWidth <= j_end; j += 2 * kWidth) outer_column<vfloat, 2>(o, r_begin, r_end, j, init, sink);
  for (; j + kWidth <= j_end; j += kWidth) outer_column<vfloat, 1>(o, r_begin, r_end, j, init, sink);
  const int rest = j_end - j;
  if (kHalfTiles && rest == int(vhalf::size))
    outer_column<vhalf, 1>(o, r_begin, r_end, j, init, sink);
  else if (rest > int(vhalf::size))
    padded_columns<vfloat>(o, r_begin, r_end, j, rest, init_one, sink_one);
  else if (rest > 0)
    padded_columns<vhalf>(o, r_begin, r_end, j, rest, init_one, sink_one);
}

// Σ_k dZ[k][j] for j in [j_begin, j_end), in example order, handed to `sink` (a vector) or
// `sink_one` (a float). Four vectors' sums at a time: one sum's chain of K dependent adds would
// leave the adder idle for its latency.
template <class Sink, class SinkOne>
void column_sums(const float* dZ, int out, int K, int j_begin, int j_end, Sink&& sink, SinkOne&& sink_one) {
  auto vectors = [&](auto zero) {
    using Vec = decltype(zero);
    constexpr int w = static_cast<int>(Vec::size);
    auto sums = [&](auto chains) {  // `chains` vectors' sums at a time, while they fit
      constexpr int n = decltype(chains)::value;
      for (; j_begin + n * w <= j_end; j_begin += n * w) {
        Vec s[n];
        for (Vec& v : s) v = zero;
        for (int k = 0; k < K; ++k)
          for (int c = 0; c < n; ++c) s[c] = s[c] + load<Vec>(dZ + std::size_t(k) * out + j_begin + c * w);
        for (int c = 0; c < n; ++c) sink(j_begin + c * w, s[c]);
      }
    };
    sums(std::integral_constant<int, 4>{});
    sums(std::integral_constant<int, 1>{});
  };
  vectors(vfloat(0.0f));
  if constexpr (kHalfTiles) vectors(vhalf(0.0f));
  for (; j_begin < j_end; ++j_begin) {
    float s = 0.0f;
    for (int k = 0; k < K; ++k) s = s + dZ[std::size_t(k) * out + j_begin];
    sink_one(j_begin, s);
  }
}

// A tile of the weight gradient walks K rows of A and of dZ. With a row stride that is a
// multiple of 512 bytes those rows fall into at most 8 of L1's 64 sets (4 KiB: one set), which
// then thrash; such an operand is first copied with a stride one cache line longer.
constexpr std::size_t kAliasingStride = 128;  // floats
constexpr std::size_t kLineFloats = 16;

std::size_t unaliased_stride(std::size_t cols) { return cols % kAliasingStride == 0 ? cols + kLineFloats : cols; }

const float* unaliased(const float* M, int rows, std::size_t cols, std::size_t& stride, std::vector<float>& copy) {
  if (unaliased_stride(cols) == cols) return M;
  stride = unaliased_stride(cols);
  copy.resize(std::size_t(rows) * stride);
  for (int r = 0; r < rows; ++r) std::copy_n(M + r * cols, cols, copy.data() + r * stride);
  return copy.data();
}

// K rows of `in` inputs for a weight gradient with `out` outputs, unaliased only when each input
// feeds more than a cache line of outputs: for fewer the copy costs more than the thrashing it
// saves (perf/bench_kernels sgd_rank_k_step at 10 outputs).
std::size_t input_row_stride(int in, int out) { return out > int(kLineFloats) ? unaliased_stride(in) : in; }

const float* input_rows(const float* A, int K, int in, int out, std::size_t& stride, std::vector<float>& copy) {
  return input_row_stride(in, out) == std::size_t(in) ? A : unaliased(A, K, in, stride, copy);
}

// dZ's K rows as a weight gradient's loaded operand: where they lie, or an unaliased copy.
struct DeltaRows {
  const float* dz;
  std::size_t stride;
};
DeltaRows unaliased_deltas(const float* dZ, int out, int K) {
  thread_local std::vector<float> copy;
  std::size_t stride = out;
  const float* dz = unaliased(dZ, K, out, stride, copy);
  return {dz, stride};
}

// The operands of Σ_k A[k][i]·dZ[k][j] for rows i of an input-major weight matrix.
Operands weight_gradient_operands(const float* dZ, const float* A, int out, int in, int K) {
  thread_local std::vector<float> a_copy;
  std::size_t a_stride = in;
  const float* a = input_rows(A, K, in, out, a_stride, a_copy);
  const DeltaRows d = unaliased_deltas(dZ, out, K);
  return {a, 1, a_stride, d.dz, d.stride, K};
}

template <class Vec>
Vec zero_like(const Vec&) {
  return Vec(0.0f);
}

// Asks for the cache line at p now. A rank-K tile reads its weights only after summing its K
// terms; with rows 4 KiB apart (a 1024-output layer) no hardware prefetcher fetches them, so each
// tile would wait for them from L3 at its end. Asked for at its start, they come while it sums.
void request_line(const float* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }

}  // namespace

void axpy(float alpha, const float* x, float* y, std::size_t n) {
  const vfloat va(alpha);
  std::size_t i = 0;
  for (; i + kWidth <= n; i += kWidth) fma(va, load<vfloat>(x + i), load<vfloat>(y + i)).store_unaligned(y + i);
  for (; i < n; ++i) y[i] = std::fma(alpha, x[i], y[i]);
}

namespace {

// Terms [t0, t0 + T) of o's sums.
template <class O>
struct TermBlock {
  const O& o;
  int t0, T;
  float x(int r, int t) const { return o.x(r, t0 + t); }
  template <class Vec>
  Vec y(int t, int j) const {
    return y_vector<Vec>(o, t0 + t, j);
  }
  float y_one(int t, int j) const { return y_float(o, t0 + t, j); }
  bool tall_tiles() const { return o.tall_tiles(); }
};

// Rows of Y a multiple of 2 KiB apart share few of L2's sets, so a column tile's Y for all its
// terms does not stay in L2 from one row tile to the next (perf/bench_kernels linear_forward at
// 1024 against 1008 outputs); such sums run in blocks of terms over strips of columns, each
// output's partial sum kept in Z between blocks (stored and reloaded exactly: the same sums).
// 256 rows 4 KiB apart fill the sets they share in a 16-way 1 MiB L2, or 8 of 32 ways in a
// 2 MiB one.
constexpr int kTermBlock = 256;
constexpr int kStripColumns = 192;  // a whole number of every tile width

template <class O>
bool rows_share_sets(const O& o) {
  if constexpr (requires { o.yt; })
    return o.yt * sizeof(float) % 2048 == 0 && o.T > 2 * kTermBlock;
  else
    return false;
}

template <class O>
void forward_product(const O& o, const float* b, float* Z, int out, int K, int j_begin, int j_end) {
  auto store = [&](int k, int j, const auto& acc) { acc.store_unaligned(Z + std::size_t(k) * out + j); };
  auto store_one = [&](int k, int j, float s) { Z[std::size_t(k) * out + j] = s; };
  auto bias = [&](auto v, int, int j) { return load<decltype(v)>(b + j); };
  auto bias_one = [&](int, int j) { return b[j]; };
  if (!rows_share_sets(o)) return outer_product(o, 0, K, j_begin, j_end, bias, store, bias_one, store_one);
  auto partial = [&](auto v, int k, int j) { return load<decltype(v)>(Z + std::size_t(k) * out + j); };
  auto partial_one = [&](int k, int j) { return Z[std::size_t(k) * out + j]; };
  for (int j = j_begin; j < j_end; j += kStripColumns) {
    const int j1 = std::min(j_end, j + kStripColumns);
    for (int t0 = 0; t0 < o.T; t0 += kTermBlock) {
      const TermBlock<O> part{o, t0, std::min(kTermBlock, o.T - t0)};
      if (t0 == 0)
        outer_product(part, 0, K, j, j1, bias, store, bias_one, store_one);
      else
        outer_product(part, 0, K, j, j1, partial, store, partial_one, store_one);
    }
  }
}

// Zt[j][k] = b[j] + Σ_t x(j, t)·y(t, k): rows are a narrow block's outputs, columns examples.
template <class O>
void narrow_forward_product(const O& o, const float* b, float* Zt, int out, int K) {
  outer_product(
      o, 0, out, 0, K, [&](auto v, int j, int) { return decltype(v)(b[j]); },
      [&](int j, int k, const auto& acc) { acc.store_unaligned(Zt + std::size_t(j) * K + k); },
      [&](int j, int) { return b[j]; }, [&](int j, int k, float s) { Zt[std::size_t(j) * K + k] = s; });
}

}  // namespace

// A read where it lies, even with rows a multiple of 512 bytes apart: since the sums run in
// blocks of terms (rows_share_sets), an unaliased copy would cost more than it saves
// (perf/bench_kernels linear_forward at 256² to 2048², batch 128).
void linear_forward(const float* Wt, const float* b, const float* A, float* Z, int out, int in, int K, int j_begin,
                    int j_end) {
  forward_product(Operands{A, std::size_t(in), 1, Wt, std::size_t(out), in}, b, Z, out, K, j_begin, j_end);
}

void linear_forward_pixels(const float* Wt, const float* b, const std::uint8_t* const* images, const float* to_float,
                           float* Z, int out, int in, int K, int j_begin, int j_end) {
  forward_product(PixelOperands<true>{images, to_float, Wt, std::size_t(out), in}, b, Z, out, K, j_begin, j_end);
}

void linear_forward_rows(const float* Wt, const float* b, const float* const* rows, float* Z, int out, int in, int K,
                         int j_begin, int j_end) {
  forward_product(RowOperands<true>{rows, Wt, std::size_t(out), in}, b, Z, out, K, j_begin, j_end);
}

// dA[k][i] = Σ_j dZ[k][j]·W[j][i]: rows are examples, columns inputs, the sum over outputs.
void linear_backward_input(const float* W, const float* dZ, float* dA, int out, int in, int K) {
  const Operands o{dZ, std::size_t(out), 1, W, std::size_t(in), out};
  outer_product(
      o, 0, K, 0, in, [](auto v, int, int) { return zero_like(v); },
      [&](int k, int i, const auto& acc) { acc.store_unaligned(dA + std::size_t(k) * in + i); },
      [](int, int) { return 0.0f; }, [&](int k, int i, float s) { dA[std::size_t(k) * in + i] = s; });
}

// As dAᵀ[i][k] = Σ_j Wt[i][j]·dZᵀ[j][k]: rows are inputs, columns examples, so Wt is read as
// it is stored and only dZ and the result (K rows each, not the layer's weights) are transposed.
void linear_backward_input_from_wt(const float* Wt, const float* dZ, float* dA, int out, int in, int K) {
  thread_local std::vector<float> dZt, dAt;
  dZt.resize(std::size_t(out) * K);
  dAt.resize(std::size_t(in) * K);
  transpose(dZ, K, out, dZt.data());
  const Operands o{Wt, std::size_t(out), 1, dZt.data(), std::size_t(K), out};
  float* at = dAt.data();
  outer_product(
      o, 0, in, 0, K, [](auto v, int, int) { return zero_like(v); },
      [&](int i, int k, const auto& acc) { acc.store_unaligned(at + std::size_t(i) * K + k); },
      [](int, int) { return 0.0f; }, [&](int i, int k, float s) { at[std::size_t(i) * K + k] = s; });
  transpose(at, in, K, dA);
}

void linear_backward_weights(const float* dZ, const float* A, float* dWt, float* db, int out, int in, int K) {
  outer_product(
      weight_gradient_operands(dZ, A, out, in, K), 0, in, 0, out, [](auto v, int, int) { return zero_like(v); },
      [&](int i, int j, const auto& acc) { acc.store_unaligned(dWt + std::size_t(i) * out + j); },
      [](int, int) { return 0.0f; }, [&](int i, int j, float s) { dWt[std::size_t(i) * out + j] = s; });
  column_sums(
      dZ, out, K, 0, out, [&](int j, const auto& sum) { sum.store_unaligned(db + j); },
      [&](int j, float sum) { db[j] = sum; });
}

namespace {

// What a rank-K step updates: the outputs [j_begin, j_end) (their biases), and where their
// weights' tiles lie: rows [0, rows) × columns [c_begin, c_end), rows `stride` floats apart.
// Input-major, rows are inputs and columns those outputs; output-major (a narrow block, all its
// outputs), rows are outputs and columns every input.
struct StepTiles {
  int j_begin, j_end;
  int rows;
  std::size_t stride;
  int c_begin, c_end;
};
StepTiles input_major(int out, int in, int j_begin, int j_end) {
  return {j_begin, j_end, in, std::size_t(out), j_begin, j_end};
}
StepTiles output_major(int out, int in) { return {0, out, out, std::size_t(in), 0, in}; }

// W −= scale·Σ_k x(k, i)·dZ[k][j] over o's operands, each weight where `at` puts it, and
// b[j] −= scale·Σ_k dZ[k][j] for at's outputs j.
template <class O>
void rank_k_step(const O& o, StepTiles at, const float* dZ, float* Wt, float* b, int out, int K, float scale) {
  // w + (−scale)·g: the expression axpy and sgd_step use too.
  auto step = [scale](float* w, const auto& g) {
    using Vec = std::decay_t<decltype(g)>;
    fma(Vec(-scale), g, load<Vec>(w)).store_unaligned(w);
  };
  const std::size_t stride = at.stride;
  outer_product(
      o, 0, at.rows, at.c_begin, at.c_end,
      [Wt, stride](auto v, int r, int c) {
        request_line(Wt + r * stride + c);
        return zero_like(v);
      },
      [step, Wt, stride](int r, int c, const auto& acc) { step(Wt + r * stride + c, acc); },
      [](int, int) { return 0.0f; },
      [&](int r, int c, float s) {
        float* w = Wt + r * stride + c;
        *w = std::fma(-scale, s, *w);
      });
  column_sums(
      dZ, out, K, at.j_begin, at.j_end, [&](int j, const auto& sum) { step(b + j, sum); },
      [&](int j, float sum) { b[j] = std::fma(-scale, sum, b[j]); });
}

// The same with momentum: v ← μ·v + (g·(1/B) [+ λ·w]), w ← w + (−lr)·v; Nesterov's steps by
// μ·v + g instead of v.
template <class O>
void momentum_rank_k_step(const O& o, StepTiles at, const float* dZ, float* Wt, float* b, float* Vt, float* Vb, int out,
                          int K, float inv_batch, float lr, float momentum, float decay, bool nesterov) {
  auto step = [momentum, inv_batch, lr, decay, nesterov](float* w, float* vel, const auto& g) {
    using Vec = std::decay_t<decltype(g)>;
    Vec grad = g * Vec(inv_batch);
    if (decay != 0) grad = fma(Vec(decay), load<Vec>(w), grad);
    const Vec v = fma(Vec(momentum), load<Vec>(vel), grad);
    v.store_unaligned(vel);
    fma(Vec(-lr), nesterov ? fma(Vec(momentum), v, grad) : v, load<Vec>(w)).store_unaligned(w);
  };
  auto step_one = [&](float& w, float& vel, float g) {
    float grad = g * inv_batch;
    if (decay != 0) grad = std::fma(decay, w, grad);
    vel = std::fma(momentum, vel, grad);
    w = std::fma(-lr, nesterov ? std::fma(momentum, vel, grad) : vel, w);
  };
  const std::size_t stride = at.stride;
  outer_product(
      o, 0, at.rows, at.c_begin, at.c_end,
      [Wt, Vt, stride](auto v, int r, int c) {
        request_line(Wt + r * stride + c);
        request_line(Vt + r * stride + c);
        return zero_like(v);
      },
      [step, Wt, Vt, stride](int r, int c, const auto& acc) {
        const std::size_t e = r * stride + c;
        step(Wt + e, Vt + e, acc);
      },
      [](int, int) { return 0.0f; },
      [&](int r, int c, float s) {
        const std::size_t e = r * stride + c;
        step_one(Wt[e], Vt[e], s);
      });
  column_sums(
      dZ, out, K, at.j_begin, at.j_end, [&](int j, const auto& sum) { step(b + j, Vb + j, sum); },
      [&](int j, float sum) { step_one(b[j], Vb[j], sum); });
}

// √x lane by lane. GCC 12 warns, falsely, that _mm512_sqrt_ps reads an uninitialised register
// (its unmasked form passes an undefined one), so 16 lanes take the masked form, every lane set.
template <class Vec>
Vec root(const Vec& x) {
#if defined(__AVX512F__)
  if constexpr (sizeof(typename Vec::register_type) == 64)
    return Vec(_mm512_mask_sqrt_ps(x, static_cast<__mmask16>(0xFFFF), x));
#endif
  return xsimd::sqrt(x);
}

// One parameter's Adam step (AdamStep in kernels.hpp), on a vector of them or on one: the same
// operations in the same order, so any width gives the same bits.
template <class Vec>
void adam_update(float* w, float* m, float* v, const Vec& sum, const AdamStep& c) {
  Vec g = sum * Vec(c.inv_batch);
  Vec wv = load<Vec>(w);
  if (c.decay != 0) g = fma(Vec(c.decay), wv, g);
  if (c.shrink != 1) wv = wv * Vec(c.shrink);
  const Vec mv = fma(Vec(c.beta1), load<Vec>(m), Vec(c.one_minus_beta1) * g);
  const Vec vv = fma(Vec(c.beta2), load<Vec>(v), Vec(c.one_minus_beta2) * (g * g));
  mv.store_unaligned(m);
  vv.store_unaligned(v);
  const Vec denom = root(vv) / Vec(c.root_bc2) + Vec(c.eps);
  (wv - Vec(c.step_size) * (mv / denom)).store_unaligned(w);
}

void adam_update_one(float& w, float& m, float& v, float sum, const AdamStep& c) {
  float g = sum * c.inv_batch;
  if (c.decay != 0) g = std::fma(c.decay, w, g);
  if (c.shrink != 1) w = w * c.shrink;
  m = std::fma(c.beta1, m, c.one_minus_beta1 * g);
  v = std::fma(c.beta2, v, c.one_minus_beta2 * (g * g));
  const float denom = std::sqrt(v) / c.root_bc2 + c.eps;
  w = w - c.step_size * (m / denom);
}

template <class O>
void adam_rank_k_step(const O& o, StepTiles at, const float* dZ, float* Wt, float* b, float* Mt, float* Mb, float* Vt,
                      float* Vb, int out, int K, const AdamStep& c) {
  const std::size_t stride = at.stride;
  outer_product(
      o, 0, at.rows, at.c_begin, at.c_end,
      [Wt, Mt, Vt, stride](auto v, int r, int col) {
        for (const float* p : {Wt, Mt, Vt}) request_line(p + r * stride + col);
        return zero_like(v);
      },
      [&c, Wt, Mt, Vt, stride](int r, int col, const auto& acc) {
        const std::size_t e = r * stride + col;
        adam_update(Wt + e, Mt + e, Vt + e, acc, c);
      },
      [](int, int) { return 0.0f; },
      [&](int r, int col, float s) {
        const std::size_t e = r * stride + col;
        adam_update_one(Wt[e], Mt[e], Vt[e], s, c);
      });
  column_sums(
      dZ, out, K, at.j_begin, at.j_end, [&](int j, const auto& sum) { adam_update(b + j, Mb + j, Vb + j, sum, c); },
      [&](int j, float sum) { adam_update_one(b[j], Mb[j], Vb[j], sum, c); });
}

// The weight gradient's operands with the inputs from images' bytes (dZ unaliased as above), for
// `step`: read through a table of float(v)·scale, or, for a block of kConvertColumns or more,
// converted first into float rows (the table's entries, so the same sums). Through the table
// each broadcast takes two dependent loads (byte, then entry). The conversion, one vector pass
// over K·in bytes writing 4 for each, pays over many column strips but not over the default
// net's 48-112 columns an owner (perf/bench_kernels sgd_rank_k_step_pixels by column count).
constexpr int kConvertColumns = 256;

Operands converted_gradient_operands(const float* dZ, const std::uint8_t* const* images, float scale, int out, int in,
                                     int K) {
  thread_local std::vector<float> rows;
  const std::size_t stride = input_row_stride(in, out);  // as input_rows would copy float rows
  rows.resize(std::size_t(K) * stride);
  for (int k = 0; k < K; ++k) {
    float* row = rows.data() + k * stride;
    int i = 0;
    for (; i + kWidth <= in; i += kWidth) bytes_to_floats<vfloat>(images[k] + i, scale).store_unaligned(row + i);
    for (; i < in; ++i) row[i] = static_cast<float>(images[k][i]) * scale;
  }
  const DeltaRows d = unaliased_deltas(dZ, out, K);
  return {rows.data(), 1, stride, d.dz, d.stride, K};
}

template <class Step>
void with_pixel_operands(const float* dZ, const std::uint8_t* const* images, float scale, int out, int in, int K,
                         int columns, Step&& step) {
  if (columns >= kConvertColumns) return step(converted_gradient_operands(dZ, images, scale, out, in, K));
  const std::array<float, 256> to_float = pixel_table(scale);
  const DeltaRows d = unaliased_deltas(dZ, out, K);
  step(PixelOperands<false>{images, to_float.data(), d.dz, d.stride, K});
}

RowOperands<false> row_gradient_operands(const float* dZ, const float* const* rows, int out, int K) {
  const DeltaRows d = unaliased_deltas(dZ, out, K);
  return {rows, d.dz, d.stride, K};
}

}  // namespace

void sgd_rank_k_step(const float* dZ, const float* A, float* Wt, float* b, int out, int in, int K, float scale,
                     int j_begin, int j_end) {
  rank_k_step(weight_gradient_operands(dZ, A, out, in, K), input_major(out, in, j_begin, j_end), dZ, Wt, b, out, K,
              scale);
}

void sgd_rank_k_step_pixels(const float* dZ, const std::uint8_t* const* images, float pixel_scale, float* Wt, float* b,
                            int out, int in, int K, float scale, int j_begin, int j_end) {
  with_pixel_operands(dZ, images, pixel_scale, out, in, K, j_end - j_begin, [&](const auto& o) {
    rank_k_step(o, input_major(out, in, j_begin, j_end), dZ, Wt, b, out, K, scale);
  });
}

void sgd_rank_k_step_rows(const float* dZ, const float* const* rows, float* Wt, float* b, int out, int in, int K,
                          float scale, int j_begin, int j_end) {
  rank_k_step(row_gradient_operands(dZ, rows, out, K), input_major(out, in, j_begin, j_end), dZ, Wt, b, out, K, scale);
}

void sgd_momentum_rank_k_step_rows(const float* dZ, const float* const* rows, float* Wt, float* b, float* Vt, float* Vb,
                                   int out, int in, int K, float inv_batch, float lr, float momentum, float decay,
                                   int j_begin, int j_end, bool nesterov) {
  momentum_rank_k_step(row_gradient_operands(dZ, rows, out, K), input_major(out, in, j_begin, j_end), dZ, Wt, b, Vt, Vb,
                       out, K, inv_batch, lr, momentum, decay, nesterov);
}

void sgd_momentum_rank_k_step(const float* dZ, const float* A, float* Wt, float* b, float* Vt, float* Vb, int out,
                              int in, int K, float inv_batch, float lr, float momentum, float decay, int j_begin,
                              int j_end, bool nesterov) {
  momentum_rank_k_step(weight_gradient_operands(dZ, A, out, in, K), input_major(out, in, j_begin, j_end), dZ, Wt, b, Vt,
                       Vb, out, K, inv_batch, lr, momentum, decay, nesterov);
}

void sgd_momentum_rank_k_step_pixels(const float* dZ, const std::uint8_t* const* images, float pixel_scale, float* Wt,
                                     float* b, float* Vt, float* Vb, int out, int in, int K, float inv_batch, float lr,
                                     float momentum, float decay, int j_begin, int j_end, bool nesterov) {
  with_pixel_operands(dZ, images, pixel_scale, out, in, K, j_end - j_begin, [&](const auto& o) {
    momentum_rank_k_step(o, input_major(out, in, j_begin, j_end), dZ, Wt, b, Vt, Vb, out, K, inv_batch, lr, momentum,
                         decay, nesterov);
  });
}

void adam_rank_k_step(const float* dZ, const float* A, float* Wt, float* b, float* Mt, float* Mb, float* Vt, float* Vb,
                      int out, int in, int K, const AdamStep& c, int j_begin, int j_end) {
  adam_rank_k_step(weight_gradient_operands(dZ, A, out, in, K), input_major(out, in, j_begin, j_end), dZ, Wt, b, Mt, Mb,
                   Vt, Vb, out, K, c);
}

void adam_rank_k_step_pixels(const float* dZ, const std::uint8_t* const* images, float pixel_scale, float* Wt, float* b,
                             float* Mt, float* Mb, float* Vt, float* Vb, int out, int in, int K, const AdamStep& c,
                             int j_begin, int j_end) {
  with_pixel_operands(dZ, images, pixel_scale, out, in, K, j_end - j_begin, [&](const auto& o) {
    adam_rank_k_step(o, input_major(out, in, j_begin, j_end), dZ, Wt, b, Mt, Mb, Vt, Vb, out, K, c);
  });
}

void adam_rank_k_step_rows(const float* dZ, const float* const* rows, float* Wt, float* b, float* Mt, float* Mb,
                           float* Vt, float* Vb, int out, int in, int K, const AdamStep& c, int j_begin, int j_end) {
  adam_rank_k_step(row_gradient_operands(dZ, rows, out, K), input_major(out, in, j_begin, j_end), dZ, Wt, b, Mt, Mb, Vt,
                   Vb, out, K, c);
}

// A narrow block's forward: rows are its outputs, columns the K examples, each a chain over inputs
// from the bias; the same as linear_forward's for that output and example.
void narrow_forward(const float* W, const float* b, const float* Xt, std::size_t xt_stride, float* Zt, int out, int in,
                    int K) {
  narrow_forward_product(Operands{W, std::size_t(in), 1, Xt, xt_stride, in}, b, Zt, out, K);
}

void narrow_forward_pixels(const float* W, const float* b, const std::uint8_t* Bt, std::size_t bt_stride,
                           float pixel_scale, float* Zt, int out, int in, int K) {
  narrow_forward_product(TransposedPixelOperands{W, in, Bt, bt_stride, pixel_scale, in}, b, Zt, out, K);
}

namespace {

// The update's operands for a narrow block: dZ's K rows of `out`, and the examples' input rows.
InputColumnOperands<std::uint8_t> narrow_pixels(const float* dZ, const std::uint8_t* const* images, float scale,
                                                int out, int K) {
  return {dZ, out, images, scale, K};
}
InputColumnOperands<float> narrow_rows(const float* dZ, const float* const* rows, int out, int K) {
  return {dZ, out, rows, 1.0f, K};
}

}  // namespace

void narrow_sgd_step_pixels(const float* dZ, const std::uint8_t* const* images, float pixel_scale, float* W, float* b,
                            int out, int in, int K, float scale) {
  rank_k_step(narrow_pixels(dZ, images, pixel_scale, out, K), output_major(out, in), dZ, W, b, out, K, scale);
}

void narrow_sgd_step_rows(const float* dZ, const float* const* rows, float* W, float* b, int out, int in, int K,
                          float scale) {
  rank_k_step(narrow_rows(dZ, rows, out, K), output_major(out, in), dZ, W, b, out, K, scale);
}

void narrow_momentum_step_pixels(const float* dZ, const std::uint8_t* const* images, float pixel_scale, float* W,
                                 float* b, float* V, float* Vb, int out, int in, int K, float inv_batch, float lr,
                                 float momentum, float decay, bool nesterov) {
  momentum_rank_k_step(narrow_pixels(dZ, images, pixel_scale, out, K), output_major(out, in), dZ, W, b, V, Vb, out, K,
                       inv_batch, lr, momentum, decay, nesterov);
}

void narrow_momentum_step_rows(const float* dZ, const float* const* rows, float* W, float* b, float* V, float* Vb,
                               int out, int in, int K, float inv_batch, float lr, float momentum, float decay,
                               bool nesterov) {
  momentum_rank_k_step(narrow_rows(dZ, rows, out, K), output_major(out, in), dZ, W, b, V, Vb, out, K, inv_batch, lr,
                       momentum, decay, nesterov);
}

void narrow_adam_step_pixels(const float* dZ, const std::uint8_t* const* images, float pixel_scale, float* W, float* b,
                             float* M, float* Mb, float* V, float* Vb, int out, int in, int K, const AdamStep& c) {
  adam_rank_k_step(narrow_pixels(dZ, images, pixel_scale, out, K), output_major(out, in), dZ, W, b, M, Mb, V, Vb, out,
                   K, c);
}

void narrow_adam_step_rows(const float* dZ, const float* const* rows, float* W, float* b, float* M, float* Mb, float* V,
                           float* Vb, int out, int in, int K, const AdamStep& c) {
  adam_rank_k_step(narrow_rows(dZ, rows, out, K), output_major(out, in), dZ, W, b, M, Mb, V, Vb, out, K, c);
}

void sgd_step(const float* dW, float* W, std::size_t n, float scale) { axpy(-scale, dW, W, n); }

void sgd_momentum_step(const float* dW, float* W, float* V, std::size_t n, float inv_batch, float lr, float momentum,
                       float decay, bool nesterov) {
  const vfloat vinv(inv_batch), vminus_lr(-lr), vmu(momentum), vdecay(decay);
  std::size_t i = 0;
  for (; i + kWidth <= n; i += kWidth) {
    vfloat grad = load<vfloat>(dW + i) * vinv;
    if (decay != 0) grad = fma(vdecay, load<vfloat>(W + i), grad);
    const vfloat v = fma(vmu, load<vfloat>(V + i), grad);
    v.store_unaligned(V + i);
    fma(vminus_lr, nesterov ? fma(vmu, v, grad) : v, load<vfloat>(W + i)).store_unaligned(W + i);
  }
  for (; i < n; ++i) {
    float grad = dW[i] * inv_batch;
    if (decay != 0) grad = std::fma(decay, W[i], grad);
    V[i] = std::fma(momentum, V[i], grad);
    W[i] = std::fma(-lr, nesterov ? std::fma(momentum, V[i], grad) : V[i], W[i]);
  }
}

void adam_step(const float* dW, float* W, float* M, float* V, std::size_t n, const AdamStep& c) {
  std::size_t i = 0;
  for (; i + kWidth <= n; i += kWidth) adam_update(W + i, M + i, V + i, load<vfloat>(dW + i), c);
  for (; i < n; ++i) adam_update_one(W[i], M[i], V[i], dW[i], c);
}

const char* instruction_set() { return ptrain::simd::Arch::name(); }
int lanes() { return kWidth; }

// outer_product's walk, widest column tiles first (a half vector or a padded rest takes a whole
// vector's slot); a row count a multiple of every tile's rows leaves none of them short.
int tile_rows(int columns) {
  int vectors = (columns + kWidth - 1) / kWidth, rows = 1;
  for (int v = kAccumulators >= 24 ? 4 : 3; v >= 1; --v)
    for (; vectors >= v; vectors -= v) rows = std::lcm(rows, rows_for(v));
  return rows;
}

std::string library_version() {
  return "xsimd " + std::to_string(XSIMD_VERSION_MAJOR) + "." + std::to_string(XSIMD_VERSION_MINOR) + "." +
         std::to_string(XSIMD_VERSION_PATCH);
}

}  // namespace ptrain::kernels::simd
