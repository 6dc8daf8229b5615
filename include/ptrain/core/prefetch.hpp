#pragma once
// Asking memory for a run of bytes ahead of its use, without waiting for it.
#include <cstddef>

#include "ptrain/core/aligned.hpp"

namespace ptrain {

// Every cache line of [p, p + bytes), bytes > 0; a run need not start on a line, so its last
// byte is asked for too. Locality is __builtin_prefetch's: 3 into every level, 2 into L2 and out.
template <int Locality>
void prefetch_bytes(const void* p, std::size_t bytes) {
  const char* c = static_cast<const char*>(p);
  for (std::size_t i = 0; i < bytes; i += kCacheLine) __builtin_prefetch(c + i, 0, Locality);
  __builtin_prefetch(c + bytes - 1, 0, Locality);
}

}  // namespace ptrain
