// The splits into training, validation and test examples: the seed split's 70/10/20 partition
// and its dependence on the seed alone, and the standard split's held-out tail and files.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "ptrain/core/errors.hpp"
#include "ptrain/io/dataset.hpp"

namespace ptrain {
namespace {

TEST(Split, SeedSplitIsA70_10_20PartitionThatDependsOnTheSeed) {
  Split a = seed_split(1000, 7), b = seed_split(1000, 7), c = seed_split(1000, 8);
  EXPECT_EQ(a.train.size(), 700u);
  EXPECT_EQ(a.val.size(), 100u);
  EXPECT_EQ(a.test.size(), 200u);
  EXPECT_EQ(a.train, b.train);
  EXPECT_NE(a.train, c.train);
  std::vector<int> seen(1000, 0);
  for (const auto* part : {&a.train, &a.val, &a.test})
    for (std::uint32_t i : *part) ++seen[i];
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), 1000);
}

TEST(Split, StandardSplitHoldsOutTheTailOfTheTrainingFile) {
  MnistData files;
  files.train_file_count = 60;
  files.test_file_count = 10;
  Split s = standard_split(files, 5);
  EXPECT_EQ(s.train.size(), 55u);
  EXPECT_EQ(s.val.front(), 55u);
  EXPECT_EQ(s.val.back(), 59u);
  EXPECT_EQ(s.test.front(), 60u);
  EXPECT_EQ(s.test.back(), 69u);
  EXPECT_TRUE(standard_split(files, 0).val.empty());
  EXPECT_THROW(standard_split(files, 60), UsageError);
  files.val_file_count = 7;  // a validation file, after the test file's images
  s = standard_split(files, 0);
  EXPECT_EQ(s.train.size(), 60u);
  EXPECT_EQ(s.val.size(), 7u);
  EXPECT_EQ(s.val.front(), 70u);
  EXPECT_EQ(s.test.front(), 60u);
}

}  // namespace
}  // namespace ptrain
