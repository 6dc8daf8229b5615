#pragma once
// Which doubles a float32 value can hold: the readers of every format accept the same ones.
#include <cmath>
#include <limits>

namespace ptrain {

// Whether v rounds to a finite float32: |v| below float32's largest plus half its last unit
// (2^103), so numpy's printed 3.4028235e+38 reads as float32's largest, as numpy reads it.
inline bool rounds_to_finite_float32(double v) {
  const double limit = static_cast<double>(std::numeric_limits<float>::max()) + std::ldexp(1.0, 103);
  return std::abs(v) < limit;  // false for NaN and the infinities too
}

}  // namespace ptrain
