// One result on every x86-64 with FMA: the same run with 4-lane kernels (SSE registers), 8-lane
// kernels (AVX2) and this build's own (16 lanes on AVX-512) ends with the same weights_hash, for
// every kind of unit and loss, with momentum, with the blog's preset, and with narrow owners. Every output element
// is one fixed sequence of IEEE operations whatever the width (kernel_signatures.inc).
#include <gtest/gtest.h>

#include "cli_support.hpp"

namespace ptrain {
namespace {

using test::read_metrics;
using test::Result;
using Widths = test::CliTest;

struct Build {
  const char* binary;
  const char* instruction_set;  // as the run's first line names it; empty: the build's own
};

TEST_F(Widths, SameWeightsHashForEveryVectorWidth) {
  const Build builds[] = {{PTRAIN_BINARY, ""}, {PTRAIN_4_LANES, "SIMD sse4.2 "}, {PTRAIN_8_LANES, "SIMD fma3+avx2 "}};
  const char* recipes[] = {"", "--activation tanh --loss xent --init xavier --momentum 0.9 --lr 0.1",
                           "--activation relu --loss xent --init he --momentum 0.5 --lr 0.05 --lr-decay cosine",
                           "--preset blog",
                           "--activation relu --loss xent --init he --optimizer adam --weight-decay 0.001 --lr 0.001",
                           "--activation sigmoid --loss xent --optimizer adamw --weight-decay 0.05 --lr 0.002",
                           "--activation relu --loss xent --init he --momentum 0.9 --weight-decay 0.0005 --lr 0.05",
                           // 16 first-layer columns on 2 threads: two narrow owners (bytes in the lanes)
                           "--layers 784,16,10", "--layers 784,16,10 --optimizer adam --lr 0.001"};
  for (const char* recipe : recipes) {
    std::string first;
    for (const Build& b : builds) {
      const std::string metrics = path("widths.jsonl");
      Result r = run(base() + " --epochs 2 --threads 2 " + recipe + " --metrics " + metrics, "", b.binary);
      ASSERT_EQ(r.exit_code, 0) << r.err;
      EXPECT_NE(r.out.find(b.instruction_set), std::string::npos) << "not the build asked for: " << r.out;
      const std::string hash = read_metrics(metrics).back()["weights_hash"];
      if (first.empty()) first = hash;
      EXPECT_EQ(hash, first) << b.binary << " " << recipe;
    }
  }
}

}  // namespace
}  // namespace ptrain
