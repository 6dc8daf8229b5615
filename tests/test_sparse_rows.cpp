// Examples as a CSR matrix (the Python module's SciPy input), which the engines densify a batch at
// a time: the parallel engine on it against the float64 oracle on the same examples stored
// dense, and bitwise against itself on them (a batch's dense rows are the same floats), and the
// densified row against SciPy's reading of a CSR row (duplicates summed, any column order).
#include <gtest/gtest.h>

#include "ptrain/core/threads.hpp"
#include "ptrain/engine/parallel_engine.hpp"
#include "ptrain/engine/reference.hpp"
#include "support.hpp"

namespace ptrain {
namespace {

// A dense float set's non-zeros as CSR arrays, and a data set that reads them in place.
struct Csr {
  std::vector<float> values;
  std::vector<std::int32_t> columns;
  std::vector<std::int64_t> offsets{0};
  Dataset view(const Dataset& dense) const {
    Dataset d;
    d.labels = dense.labels;
    d.image_size = dense.image_size;
    d.float_inputs = true;
    d.sparse_values = values.data();
    d.sparse_columns = columns.data();
    d.sparse_offsets = offsets.data();
    return d;
  }
};

// Float features with about two thirds of them zero, as one-hot and bag-of-words data are.
Dataset mostly_zeros(int features, int classes, std::size_t count) {
  Dataset d = test::as_float_features(test::synthetic_dataset(count, features, classes, 21));
  for (float& v : d.features)
    if (v < 0.8f) v = 0;
  return d;
}

Csr csr_of(const Dataset& d) {
  Csr c;
  for (std::size_t i = 0; i < d.size(); ++i) {
    for (int j = 0; j < d.image_size; ++j)
      if (d.row(i)[j] != 0) {
        c.values.push_back(d.row(i)[j]);
        c.columns.push_back(j);
      }
    c.offsets.push_back(static_cast<std::int64_t>(c.values.size()));
  }
  return c;
}

class SparseRows : public ::testing::TestWithParam<std::vector<int>> {};

TEST_P(SparseRows, TrainingOnCsrTracksTheOracleAndEqualsTheDenseRun) {
  NetSpec spec;
  spec.sizes = GetParam();
  spec.hidden = Activation::relu;
  spec.loss = Loss::xent;
  const Dataset dense = mostly_zeros(spec.inputs(), spec.classes(), 96);
  const Csr csr = csr_of(dense);
  ASSERT_LT(csr.values.size(), dense.features.size() / 2) << "the matrix is not sparse";
  const Dataset sparse = csr.view(dense);
  const std::vector<float> init = init_params(spec.sizes, Init::he, 3);
  UpdateRule rule;
  rule.momentum = 0.9;
  ReferenceEngine oracle(spec, init, rule);
  ParallelEngine on_sparse(spec, init, 8, rule), on_dense(spec, init, 8, rule);
  ThreadLimit threads(2);
  const std::vector<std::uint32_t> all = test::iota_indices(dense.size());
  for (std::size_t step = 0; step < 3; ++step) {
    Indices batch = Indices(all).subspan(step * 32, 32);
    oracle.train_step(dense, batch, 0.05);
    threads.run([&] {
      on_sparse.train_step(sparse, batch, 0.05);
      on_dense.train_step(dense, batch, 0.05);
    });
  }
  EXPECT_EQ(on_sparse.parameters(), on_dense.parameters());
  const std::vector<float> got_f = on_sparse.parameters();
  EXPECT_TRUE(test::tensors_close(spec.sizes, std::vector<double>(got_f.begin(), got_f.end()), oracle.state().params,
                                  1e-5, 1e-4));
  EXPECT_EQ(threads.run([&] { return on_sparse.outputs(sparse, all); }),
            threads.run([&] { return on_dense.outputs(dense, all); }));
  ReferenceEngine oracle_on_sparse(spec, init, rule);
  oracle_on_sparse.train_step(sparse, Indices(all).subspan(0, 32), 0.05);
  ReferenceEngine oracle_on_dense(spec, init, rule);
  oracle_on_dense.train_step(dense, Indices(all).subspan(0, 32), 0.05);
  EXPECT_EQ(oracle_on_sparse.state().params, oracle_on_dense.state().params);
}

// The seed net's shape; a narrow first layer; a layer past the cache.
INSTANTIATE_TEST_SUITE_P(Nets, SparseRows,
                         ::testing::Values(std::vector<int>{784, 112, 16, 10}, std::vector<int>{13, 7, 5},
                                           std::vector<int>{12, 16, 400, 370, 3}));

TEST(SparseRow, DensifiesAsScipyReadsCsrDuplicatesSummedInAnyOrder) {
  // Row 0: columns 3, 0, 3 (stored twice: 1.5 + 2); row 1: none; row 2: column 4.
  const std::vector<float> values{1.5f, -1.0f, 2.0f, 7.0f};
  const std::vector<std::int32_t> columns{3, 0, 3, 4};
  const std::vector<std::int64_t> offsets{0, 3, 3, 4};
  Dataset d;
  d.image_size = 5;
  d.labels.assign(3, 0);
  d.float_inputs = true;
  d.sparse_values = values.data();
  d.sparse_columns = columns.data();
  d.sparse_offsets = offsets.data();
  std::vector<float> row(5, 9.0f);
  d.dense_row(0, row.data());
  EXPECT_EQ(row, (std::vector<float>{-1.0f, 0, 0, 3.5f, 0}));
  d.dense_row(1, row.data());
  EXPECT_EQ(row, (std::vector<float>(5, 0.0f)));
  d.dense_row(2, row.data());
  EXPECT_EQ(row, (std::vector<float>{0, 0, 0, 0, 7.0f}));
}

}  // namespace
}  // namespace ptrain
