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

inline const char* instruction_set() { return xsimd::default_arch::name(); }

}  // namespace ptrain::simd
