#pragma once
// Subnormal floats (magnitudes below 1.2e-38) are flushed to zero in ptrain's arithmetic: x86's
// MXCSR flush-to-zero bit for results and denormals-are-zero bit for inputs. Intel cores send
// every vector instruction that meets a subnormal through a microcode assist, and Adam's moments
// of rarely-lit inputs decay into that range, so training slows epoch by epoch
// (perf/subnormals.py measures it). Every x86-64 flushes alike, so the weights stay one hash on
// every machine. The float64 oracle is not affected in practice: its values never come near
// double's subnormal range (below 2.2e-308).
#include <xmmintrin.h>

namespace ptrain {

// flush: subnormals become zero (the default). keep: IEEE gradual underflow, for measuring what
// flushing saves.
enum class Subnormals { flush, keep };

// MXCSR's flush-to-zero (bit 15) and denormals-are-zero (bit 6).
inline constexpr unsigned kFlushBits = 0x8040;

// The calling thread's two flush bits.
inline unsigned flush_bits() { return _mm_getcsr() & kFlushBits; }

inline constexpr unsigned flush_bits_of(Subnormals mode) { return mode == Subnormals::flush ? kFlushBits : 0u; }

// Sets the calling thread's flush bits until the scope ends, then puts back the ones it found.
// Only those two bits: exception flags raised meanwhile stay, as after any library call.
class FlushBitsScope {
 public:
  explicit FlushBitsScope(unsigned bits) : saved_(flush_bits()) { set(bits); }
  explicit FlushBitsScope(Subnormals mode) : FlushBitsScope(flush_bits_of(mode)) {}
  ~FlushBitsScope() { set(saved_); }
  FlushBitsScope(const FlushBitsScope&) = delete;
  FlushBitsScope& operator=(const FlushBitsScope&) = delete;

 private:
  static void set(unsigned bits) { _mm_setcsr((_mm_getcsr() & ~kFlushBits) | (bits & kFlushBits)); }
  unsigned saved_;
};

}  // namespace ptrain
