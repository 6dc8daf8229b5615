#pragma once
// Which doubles a float32 value can hold: the readers of every format accept the same ones.
#include <cmath>
#include <limits>
#include <string>

namespace ptrain {

// Whether v rounds to a finite float32: |v| below float32's largest plus half its last unit
// (2^103), so numpy's printed 3.4028235e+38 reads as float32's largest, as numpy reads it.
inline bool rounds_to_finite_float32(double v) {
  const double limit = static_cast<double>(std::numeric_limits<float>::max()) + std::ldexp(1.0, 103);
  return std::abs(v) < limit;  // false for NaN and the infinities too
}

// Why a number that float32 arithmetic takes (a learning rate, ε, a scale) cannot be one there:
// a non-zero v that float32 holds only as 0 or a subnormal (which FTZ/DAZ read as 0), or one it
// holds only as infinity; "" when it fits.
inline std::string float32_range_problem(double v) {
  if (v != 0 && std::abs(v) < std::numeric_limits<float>::min())
    return "below float32's smallest normal number (1.2e-38), which the arithmetic reads as 0";
  if (!rounds_to_finite_float32(v)) return "above float32's largest number (3.4e38), infinite there";
  return "";
}

}  // namespace ptrain
