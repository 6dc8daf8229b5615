#pragma once
// The one place that knows which xsimd this is, and which instruction set the kernels use.
// Only the SIMD kernels' translation units include it.
//
// The instruction set is xsimd's best for the build's flags, or PTRAIN_SIMD_ARCH when the build
// names one (the width tests build xsimd::sse4_2, 4 lanes, and xsimd::fma3<xsimd::avx2>, 8
// lanes, beside the native one). Each output element of every kernel is a fixed sequence of
// IEEE operations whatever the width, so every width gives the same bits.
#include <xsimd/xsimd.hpp>

#include <cstdint>
#include <type_traits>

#if !defined(__FMA__)
#error "ptrain needs FMA instructions (x86-64-v3: AVX2 and FMA, or later); build on such a CPU or with -march=x86-64-v3"
#endif

namespace ptrain::simd {

#ifdef PTRAIN_SIMD_ARCH
using Arch = PTRAIN_SIMD_ARCH;
#else
using Arch = xsimd::default_arch;
#endif
using vfloat = xsimd::batch<float, Arch>;
using vint = xsimd::batch<std::int32_t, Arch>;
inline constexpr int kWidth = static_cast<int>(vfloat::size);

// a·b + c in every lane, rounded once. xsimd 8.1 fuses only for its fma3 architectures (and
// has no fma3 for 4 lanes once AVX is on); for AVX-512 it computes a·b then + c. So the
// instruction is called directly for each register width.
template <class A>
xsimd::batch<float, A> fma(const xsimd::batch<float, A>& a, const xsimd::batch<float, A>& b,
                           const xsimd::batch<float, A>& c) {
  constexpr std::size_t lanes = xsimd::batch<float, A>::size;
  if constexpr (lanes == 16)
    return _mm512_fmadd_ps(a, b, c);
  else if constexpr (lanes == 8)
    return _mm256_fmadd_ps(a, b, c);
  else
    return _mm_fmadd_ps(a, b, c);
}

}  // namespace ptrain::simd
