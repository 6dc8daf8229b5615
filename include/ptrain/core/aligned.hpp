#pragma once
// 64-byte aligned storage, so every tensor and chunk buffer starts on its own cache line.
#include <sys/mman.h>

#include <cstddef>
#include <new>
#include <vector>

namespace ptrain {

inline constexpr std::size_t kCacheLine = 64;
// Buffers of a huge page or more start on one and ask for huge pages: a wide layer's weights,
// read row after row 4 KiB apart, would otherwise take a TLB miss on every row.
inline constexpr std::size_t kHugePage = std::size_t{2} << 20;

template <class T>
struct CacheLineAllocator {
  using value_type = T;
  CacheLineAllocator() = default;
  template <class U>
  CacheLineAllocator(const CacheLineAllocator<U>&) noexcept {}
  // clang-format off: clang-format 14 writes `operator new (`, as if `new` were an expression
  T* allocate(std::size_t n) {
    const std::size_t bytes = n * sizeof(T);
    if (bytes < kHugePage) return static_cast<T*>(::operator new (bytes, std::align_val_t{kCacheLine}));
    const std::size_t whole = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    void* p = ::operator new (whole, std::align_val_t{kHugePage});
    madvise(p, whole, MADV_HUGEPAGE);  // a hint: without it (or refused) the pages are small
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t n) noexcept {
    ::operator delete (p, std::align_val_t{n * sizeof(T) < kHugePage ? kCacheLine : kHugePage});
  }
  // clang-format on
  template <class U>
  bool operator==(const CacheLineAllocator<U>&) const noexcept {
    return true;
  }
};

template <class T>
using AlignedVector = std::vector<T, CacheLineAllocator<T>>;

}  // namespace ptrain
