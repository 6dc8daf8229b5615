// How fast the data readers load examples: CSV text parsed (libcsv, numbers by from_chars),
// from memory and from a plain and a gzipped file, in MB/s of the text. Two shapes: MNIST as
// CSV (785 small whole numbers a row, the label first) and wine-like rows (14 decimals).
#include <benchmark/benchmark.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "ptrain/io/csv.hpp"

namespace {

// About `bytes` of CSV: rows of `columns` values (pixels 0-255, or decimals), the label last.
std::string make_csv(std::size_t bytes, int columns, bool decimals) {
  std::mt19937 rng(7);
  std::string text;
  char value[32];
  while (text.size() < bytes) {
    for (int c = 0; c + 1 < columns; ++c) {
      if (decimals)
        std::snprintf(value, sizeof value, "%.4g,", std::uniform_real_distribution<double>(0.1, 1500)(rng));
      else
        std::snprintf(value, sizeof value, "%u,", rng() % 4 == 0 ? static_cast<unsigned>(rng() % 256) : 0u);
      text += value;
    }
    text += std::to_string(rng() % 10);
    text += '\n';
  }
  return text;
}

const std::string& csv(int shape) {
  static const std::string pixels = make_csv(32 << 20, 785, false), decimals = make_csv(32 << 20, 14, true);
  return shape == 0 ? pixels : decimals;
}

void set_bytes(benchmark::State& state, std::size_t bytes) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}

void BM_csv_from_memory(benchmark::State& state) {
  const std::string& text = csv(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    ptrain::LabelCoding coding;
    ptrain::AlignedVector<float> features;
    std::vector<std::uint8_t> labels;
    ptrain::append_csv_text(text, "bench.csv", {}, ptrain::CsvLabels::required, 0, 256, coding, features, labels);
    benchmark::DoNotOptimize(features.data());
  }
  set_bytes(state, text.size());
}
BENCHMARK(BM_csv_from_memory)->Name("csv/memory")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_csv_from_file(benchmark::State& state) {
  const std::string& text = csv(static_cast<int>(state.range(0)));
  const bool gzip = state.range(1) != 0;
  const auto path = std::filesystem::temp_directory_path() / (gzip ? "ptrain-bench.csv.gz" : "ptrain-bench.csv");
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "wb6");
    gzwrite(f, text.data(), static_cast<unsigned>(text.size()));
    gzclose(f);
  } else {
    std::ofstream(path, std::ios::binary) << text;
  }
  for (auto _ : state) {
    ptrain::LabelCoding coding;
    ptrain::AlignedVector<float> features;
    std::vector<std::uint8_t> labels;
    ptrain::append_csv(path.string(), {}, ptrain::CsvLabels::required, 0, 256, coding, features, labels);
    benchmark::DoNotOptimize(features.data());
  }
  set_bytes(state, text.size());
  std::filesystem::remove(path);
}
BENCHMARK(BM_csv_from_file)
    ->Name("csv/file")
    ->Args({0, 0})
    ->Args({0, 1})
    ->Args({1, 0})
    ->Args({1, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
