// The batch's inputs as the first layer reads them (InputTable): the images' rows where they lie
// (a sparse set's rows densified, the batch's alone), their prefetches, and the transposed copy
// the narrow owners' forward reads.
#include "parallel_engine_detail.hpp"

namespace ptrain {

using namespace parallel_engine_detail;

void ParallelEngine::InputTable::point_at(const Dataset& data, Indices examples, bool transposed) {
  images.resize(data.float_inputs ? 0 : examples.size());
  rows.resize(data.float_inputs ? examples.size() : 0);
  in = data.image_size;
  dense.resize(data.sparse() ? examples.size() * std::size_t(in) : 0);
  for (std::size_t e = 0; e < examples.size(); ++e)
    if (data.sparse()) {
      data.dense_row(examples[e], dense.data() + e * std::size_t(in));
      rows[e] = dense.data() + e * std::size_t(in);
    } else if (data.float_inputs) {
      rows[e] = data.row(examples[e]);
    } else {
      images[e] = data.image(examples[e]);
    }
  const std::size_t room = transposed ? std::size_t(in) * examples.size() : 0;
  bytes_t.resize(data.float_inputs ? 0 : room);
  rows_t.resize(data.float_inputs ? room : 0);
}

void ParallelEngine::InputTable::prefetch_rows(int r_begin, int r_end) const {
  const std::size_t bytes = std::size_t(in) * (rows.empty() ? 1 : sizeof(float));
  for (int r = r_begin; r < r_end; ++r)
    prefetch_bytes<3>(rows.empty() ? static_cast<const void*>(images[r]) : static_cast<const void*>(rows[r]), bytes);
}

void ParallelEngine::InputTable::transpose(int r_begin, int r_end, int c_begin, int c_end) {
  const std::size_t n = size();
  if (rows.empty())
    transpose_byte_rows([this](int r) { return images[r]; }, r_begin, r_end, c_begin, c_end, bytes_t.data(), n);
  else
    transpose_rows([this](int r) { return rows[r]; }, r_begin, r_end, c_begin, c_end, rows_t.data(), n);
}

// The inputs cut in whole transposition blocks: each task writes its own rows of the transposed
// copy, so even a batch of 32 is shared by every task (cut by examples at whole cache lines, one
// task would transpose it all while the others idle; --profile's sync phase shows it).
void ParallelEngine::transpose_share(InputTable& in, int r_begin, int r_end, std::size_t t, std::size_t n) {
  const std::size_t blocks = (std::size_t(in.in) + kTransposeBlock - 1) / kTransposeBlock;
  auto cut = [&](std::size_t i) { return std::min(in.in, static_cast<int>(blocks * i / n) * kTransposeBlock); };
  if (cut(t) < cut(t + 1)) in.transpose(r_begin, r_end, cut(t), cut(t + 1));
}

}  // namespace ptrain
