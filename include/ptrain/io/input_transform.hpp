#pragma once
// What float features go through before the first layer: x ← (x − shift) · factor, per feature,
// computed once when the data is loaded and kept in the model, so eval and predict transform
// their data as training did. Bytes never take one (they are scaled by the net's input_scale).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ptrain/io/dataset.hpp"

namespace ptrain {

struct InputTransform {
  std::vector<float> shift, factor;  // one per feature; both empty: none

  bool empty() const { return shift.empty(); }

  // --standardize: the mean and 1 / standard deviation of each feature over `rows` (the
  // training rows only); a constant feature gets factor 1, and so does one whose standard
  // deviation is below 1e-6·max(|mean|, 1): float32 noise, whose 1/σ would blow it up.
  static InputTransform standardize(const Dataset& data, const std::vector<std::uint32_t>& rows);
  // --scale X: every feature times X; a UsageError when X is no normal float32.
  static InputTransform scale(int features, double x);

  // Every row of `data`, in place (rounded to float once per value); rows viewed in a caller's
  // memory are copied first.
  void apply(Dataset& data) const;

  // As a model file's metadata ("input_shift", "input_factor": shortest round-trip text, comma
  // separated), and back; `path` names the file in a DataError when they are not
  // `features` finite numbers (factors nonzero).
  void add_to(std::map<std::string, std::string>& metadata) const;
  static InputTransform from(const std::map<std::string, std::string>& metadata, int features, const std::string& path);
};

// A regression's targets under --standardize: t ← (t − shift)·factor per target for training
// (mean and 1 / standard deviation over the training rows), and the net's outputs back in the
// targets' own units as a / factor + shift (in_units). Kept in the model ("target_shift",
// "target_factor") like the features' transform.
struct TargetTransform {
  std::vector<float> shift, factor;  // one per target; both empty: none

  bool empty() const { return shift.empty(); }
  double in_units(double output, int target) const {
    return empty() ? output : output / double{factor[target]} + shift[target];
  }
  static TargetTransform standardize(const Dataset& data, const std::vector<std::uint32_t>& rows);
  void apply(Dataset& data) const;
  void add_to(std::map<std::string, std::string>& metadata) const;
  static TargetTransform from(const std::map<std::string, std::string>& metadata, int targets, const std::string& path);
};

// Features as the net will see them (transformed): a UsageError naming `name`, the example and
// the feature when one is infinite or above √(float32's largest), 1.8e19, where its square, which
// gradients and Adam's second moment compute, overflows.
void check_feature_range(const Dataset& data, const std::string& name);

// The same for a regression's targets as the net trains on them.
void check_target_range(const Dataset& data, const std::string& name);

}  // namespace ptrain
