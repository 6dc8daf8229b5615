#pragma once
// The one place that knows which xsimd this is. xsimd 8.1 (Debian 12) names its horizontal
// sum `hadd`; later releases call it `reduce_add`. Everything else uses these aliases.
#include <xsimd/xsimd.hpp>

namespace ptrain::simd {

using vfloat = xsimd::batch<float>;
inline constexpr int kWidth = static_cast<int>(vfloat::size);

inline float horizontal_sum(const vfloat& v) {
#if XSIMD_VERSION_MAJOR >= 9
  return xsimd::reduce_add(v);
#else
  return xsimd::hadd(v);
#endif
}

// a·b + c for every lane. xsimd 8.1 has a fused kernel for fma3 (AVX2) but not for AVX-512,
// where it computes a·b then + c; GCC contracts that into one FMA (-ffp-contract=fast, its
// C++ default) and clang does not. Kernels use this one spelling everywhere, so two kernels
// that apply the same update round alike under any compiler.
inline vfloat fma(const vfloat& a, const vfloat& b, const vfloat& c) { return xsimd::fma(a, b, c); }

inline const char* instruction_set() { return xsimd::default_arch::name(); }

}  // namespace ptrain::simd
