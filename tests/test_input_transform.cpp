// The float features' transform against values computed by hand: --standardize takes each
// feature's mean and population standard deviation from the training rows only (a constant
// feature keeps factor 1), --scale multiplies, apply transforms every row (copying a caller's
// rows first), and the model file's metadata reads back bit for bit or is refused naming the file.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

#include "ptrain/io/input_transform.hpp"
#include "support.hpp"

namespace ptrain {
namespace {

Dataset features(const std::vector<std::vector<float>>& rows) {
  Dataset d;
  d.float_inputs = true;
  d.image_size = static_cast<int>(rows.front().size());
  for (const auto& r : rows) d.features.insert(d.features.end(), r.begin(), r.end());
  d.labels.assign(rows.size(), 0);
  return d;
}

TEST(InputTransform, StandardizeUsesTheTrainingRowsOnly) {
  // Rows 0-2 train; row 3 is far away and must not count.
  const Dataset d = features({{1, 10}, {2, 10}, {3, 10}, {100, -5}});
  const InputTransform t = InputTransform::standardize(d, {0, 1, 2});
  ASSERT_EQ(t.shift.size(), 2u);
  EXPECT_EQ(t.shift[0], 2.0f);  // (1 + 2 + 3) / 3
  EXPECT_EQ(t.shift[1], 10.0f);
  EXPECT_EQ(t.factor[0], static_cast<float>(1.0 / std::sqrt(2.0 / 3.0)));  // σ² = (1 + 0 + 1) / 3
  EXPECT_EQ(t.factor[1], 1.0f) << "a constant feature keeps factor 1";
}

TEST(InputTransform, ApplyTransformsEveryRowAndCopiesACallersRows) {
  const InputTransform t{{2.0f, 10.0f}, {0.5f, 4.0f}};
  Dataset d = features({{3, 10}, {1, 11}});
  t.apply(d);
  EXPECT_EQ(std::vector<float>(d.features.begin(), d.features.end()), (std::vector<float>{0.5f, 0.0f, -0.5f, 4.0f}));

  const std::vector<float> callers{3, 10, 1, 11};
  Dataset view;
  view.float_inputs = true;
  view.image_size = 2;
  view.labels.assign(2, 0);
  view.feature_view = callers.data();
  t.apply(view);
  EXPECT_EQ(view.feature_view, nullptr);
  EXPECT_EQ(std::vector<float>(view.features.begin(), view.features.end()),
            (std::vector<float>{0.5f, 0.0f, -0.5f, 4.0f}));
  EXPECT_EQ(callers, (std::vector<float>{3, 10, 1, 11})) << "the caller's rows stay as they were";
}

TEST(InputTransform, ScaleMultipliesEveryFeatureAndNoneChangesNothing) {
  Dataset d = features({{2, -4, 0.25f}});
  InputTransform::scale(3, 0.5).apply(d);
  EXPECT_EQ(std::vector<float>(d.features.begin(), d.features.end()), (std::vector<float>{1, -2, 0.125f}));
  InputTransform{}.apply(d);
  EXPECT_EQ(std::vector<float>(d.features.begin(), d.features.end()), (std::vector<float>{1, -2, 0.125f}));
}

TEST(InputTransform, MetadataReadsBackBitForBitOrIsRefused) {
  const InputTransform t{{0.1f, -3e-7f, 12345.678f}, {1.0f / 3.0f, 7.0f, 2e-5f}};
  std::map<std::string, std::string> m;
  t.add_to(m);
  const InputTransform back = InputTransform::from(m, 3, "m.st");
  EXPECT_EQ(back.shift, t.shift);
  EXPECT_EQ(back.factor, t.factor);
  EXPECT_TRUE(InputTransform::from({}, 3, "m.st").empty());
  test::expect_data_error([&] { InputTransform::from(m, 4, "m.st"); },
                          "m.st: metadata input_shift/input_factor hold 3/3 values for 4 inputs");
  auto with = [&](const char* key, const char* value) {
    auto bad = m;
    bad[key] = value;
    return bad;
  };
  test::expect_data_error([&] { InputTransform::from(with("input_factor", "1,0,2"), 3, "m.st"); },
                          "input_factor holds a zero");
  test::expect_data_error([&] { InputTransform::from(with("input_shift", "1,nan,2"), 3, "m.st"); },
                          "item 1 is not a finite number");
  test::expect_data_error([&] { InputTransform::from(with("input_shift", "1,,2"), 3, "m.st"); },
                          "item 1 is not a finite number");
  auto one_only = m;
  one_only.erase("input_factor");
  test::expect_data_error([&] { InputTransform::from(one_only, 3, "m.st"); }, "one of input_shift and input_factor");
}

}  // namespace
}  // namespace ptrain
