// Regression from the command line: real-valued targets from every format ptrain reads, one
// or several, trained, evaluated, predicted and resumed; the figures checked against ones this
// test computes itself from the predictions (scikit-learn's definitions), and every refusal.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>

#include "cli_support.hpp"
#include "ptrain/io/model_file.hpp"
#include "support.hpp"

namespace ptrain {
namespace {

namespace fs = std::filesystem;
using test::expect_error;
using test::read_metrics;
using test::Result;

// Rows of 4 float32 features and 2 targets, y1 = 3·x1 − 2·x2 + 10 and y2 = x3·x4 + 100 plus a
// little noise: smooth enough to learn in a few epochs.
struct RegressionRows {
  std::vector<float> x, y;
  std::size_t count() const { return y.size() / 2; }
};

RegressionRows make_rows(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  RegressionRows r;
  for (std::size_t i = 0; i < n; ++i) {
    float x[4];
    for (float& v : x) v = normal(rng);
    r.x.insert(r.x.end(), x, x + 4);
    r.y.push_back(3 * x[0] - 2 * x[1] + 10 + 0.05f * normal(rng));
    r.y.push_back(x[2] * x[3] + 100 + 0.05f * normal(rng));
  }
  return r;
}

std::string exact(float v) {
  std::ostringstream s;
  s.precision(9);  // a float32 reads back exactly from 9 significant digits
  s << v;
  return s.str();
}

// Features and targets as one CSV with a header (x1..x4, y1, y2), or features alone and
// targets alone.
void write_csv(const fs::path& path, const RegressionRows& r, bool features, bool targets) {
  std::ofstream out(path);
  out << (features ? "x1,x2,x3,x4" : "") << (features && targets ? "," : "") << (targets ? "y1,y2" : "") << "\n";
  for (std::size_t i = 0; i < r.count(); ++i) {
    for (int f = 0; features && f < 4; ++f) out << (f ? "," : "") << exact(r.x[i * 4 + f]);
    if (targets) out << (features ? "," : "") << exact(r.y[i * 2]) << "," << exact(r.y[i * 2 + 1]);
    out << "\n";
  }
}

class Regression : public test::CliTest {
 protected:
  static void SetUpTestSuite() {
    CliTest::SetUpTestSuite();
    const RegressionRows r = make_rows(400, 1);
    write_csv(path("all.csv"), r, true, true);
    write_csv(path("features.csv"), r, true, false);
    write_csv(path("targets.csv"), r, false, true);
    const std::string n = std::to_string(r.count());
    test::write_file(path("x_all.npy"), test::npy_bytes("<f4", "(" + n + ", 4)", test::le_bytes(r.x)));
    test::write_file(path("y_all.npy"), test::npy_bytes("<f4", "(" + n + ", 2)", test::le_bytes(r.y)));
    test::write_npz(
        path("all.npz"),
        {{"x", test::npy_bytes("<f4", "(" + n + ", 4)", test::le_bytes(r.x))},
         {"y", test::npy_bytes("<f8", "(" + n + ", 2)", test::le_bytes(std::vector<double>(r.y.begin(), r.y.end())))}},
        true);
    const auto count = static_cast<std::uint32_t>(r.count());
    test::write_file(path("all-images"), test::idx_bytes(0x0D02, {count, 4}, test::float_bytes(r.x)));
    test::write_file(path("all-labels"), test::idx_bytes(0x0D02, {count, 2}, test::float_bytes(r.y)));
  }
  static std::string args(const std::string& more = "") {
    return "--task regression --hidden 16 --batch-size 16 --lr 0.01 --seed 3 " + more;
  }
  static std::string hash(const Result& r) {
    std::smatch m;
    return std::regex_search(r.out, m, std::regex("weights_hash ([0-9a-f]{16})")) ? m[1].str() : "none";
  }
};

// The same rows from a CSV's target columns, a features CSV with a targets CSV, an .npy pair, an
// .npz (float64 targets) and an IDX pair (float32 rows) train the same weights.
TEST_F(Regression, EveryFormatsTargetsTrainTheSameWeights) {
  const Result csv = run(args("--epochs 4 --train " + path("all.csv") + " --target-columns y1,y2"));
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_NE(csv.out.find("400 examples of 4 features, 2 targets"), std::string::npos) << csv.out;
  for (const std::string& source :
       {"--train " + path("features.csv") + " --train-targets " + path("targets.csv"), "--train " + path("x_all.npy"),
        "--train " + path("all.npz"), "--train " + path("all-images")}) {
    const Result r = run(args("--epochs 4 " + source));
    ASSERT_EQ(r.exit_code, 0) << source << ": " << r.err;
    EXPECT_EQ(hash(r), hash(csv)) << source;
  }
}

// One weights_hash for any --threads and chunk size, and for a run stopped and resumed.
TEST_F(Regression, WeightsAreTheSameForAnyThreadsChunksAndResume) {
  const std::string train = "--train " + path("all.csv") + " --target-columns y1,y2 --standardize --early-stop 20";
  const Result one = run(args(train + " --threads 1 --epochs 8"));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(hash(run(args(train + " --threads 3 --chunk-size 3 --epochs 8"))), hash(one));
  const std::string ck = path("resume-ck");
  ASSERT_EQ(run(args(train + " --threads 2 --epochs 3 --checkpoint-dir " + ck)).exit_code, 0);
  const Result resumed = run("--resume " + ck + " --epochs 8 --threads 2");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(hash(resumed), hash(one));
}

// eval's figures are RMSE, MAE and R² of predict's numbers, computed here from its CSV.
TEST_F(Regression, EvalAndMetricsAgreeWithThePredictionsFigures) {
  const std::string model = path("reg.st"), metrics = path("reg.jsonl");
  const Result train = run(args("--train " + path("all.csv") +
                                " --target-columns y2,y1 --standardize --epochs 40 "
                                "--save " +
                                model + " --metrics " + metrics));
  ASSERT_EQ(train.exit_code, 0) << train.err;
  const std::vector<nlohmann::json> records = read_metrics(metrics);
  for (std::size_t i = 0; i + 1 < records.size(); ++i) {
    EXPECT_TRUE(records[i].contains("val_r2") && records[i].contains("val_rmse") && records[i].contains("val_loss"));
    EXPECT_FALSE(records[i].contains("val_accuracy"));
    EXPECT_EQ(records[i]["val_per_target_r2"].size(), 2u);
  }
  EXPECT_GT(records.back()["test_r2"].get<double>(), 0.9);
  EXPECT_FALSE(records.back().contains("test_accuracy"));
  const std::string report = path("reg-eval.json"), predictions = path("reg-predictions.csv");
  ASSERT_EQ(run("eval --model " + model + " --test " + path("all.csv") + " --metrics " + report).exit_code, 0);
  ASSERT_EQ(run("predict --model " + model + " --input " + path("all.csv") + " --output " + predictions).exit_code, 0);
  std::istringstream csv(test::slurp(predictions));
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line, "index,y2,y1");  // the targets' names, in the order --target-columns gave them
  const RegressionRows truth = make_rows(400, 1);
  std::vector<double> sq(2), ab(2), sum(2), sum_sq(2);
  for (std::size_t i = 0; std::getline(csv, line); ++i) {
    const std::vector<double> v = test::numbers(line);
    ASSERT_EQ(v.size(), 3u);
    for (int j = 0; j < 2; ++j) {
      const double t = truth.y[i * 2 + (1 - j)], d = v[1 + j] - t;
      sq[j] += d * d, ab[j] += std::abs(d), sum[j] += t, sum_sq[j] += t * t;
    }
  }
  const nlohmann::json got = nlohmann::json::parse(test::slurp(report));
  for (int j = 0; j < 2; ++j) {
    const double n = 400, spread = sum_sq[j] - sum[j] * sum[j] / n;
    EXPECT_NEAR(got["per_target_rmse"][j].get<double>(), std::sqrt(sq[j] / n), 1e-4 * std::sqrt(sq[j] / n));
    EXPECT_NEAR(got["per_target_mae"][j].get<double>(), ab[j] / n, 1e-4 * ab[j] / n);
    EXPECT_NEAR(got["per_target_r2"][j].get<double>(), 1 - sq[j] / spread, 1e-4);
  }
}

// --standardize keeps the training rows' mean and 1/σ of each target in the model.
TEST_F(Regression, StandardizedTargetsAreTheTrainingRowsMeanAndSpread) {
  const std::string model = path("std.st");
  ASSERT_EQ(run(args("--train " + path("all.csv") + " --test " + path("all.csv") +
                     " --val-size 0 --target-columns y1,y2 --standardize --epochs 1 --save " + model))
                .exit_code,
            0);
  const ModelFile m = load_model_file(model);
  EXPECT_EQ(m.metadata.at("task"), "regression");
  EXPECT_EQ(m.metadata.at("format_version"), "4");
  const std::vector<double> shift = test::numbers(m.metadata.at("target_shift"));
  const std::vector<double> factor = test::numbers(m.metadata.at("target_factor"));
  const RegressionRows r = make_rows(400, 1);
  for (int j = 0; j < 2; ++j) {
    double mean = 0, var = 0;
    for (std::size_t i = 0; i < r.count(); ++i) mean += r.y[i * 2 + j] / 400.0;
    for (std::size_t i = 0; i < r.count(); ++i) var += (r.y[i * 2 + j] - mean) * (r.y[i * 2 + j] - mean) / 400.0;
    EXPECT_NEAR(shift[j], mean, 1e-5 * std::abs(mean));
    EXPECT_NEAR(factor[j], 1 / std::sqrt(var), 1e-5 / std::sqrt(var));
  }
}

// --init-from a regression's model carries the task and, unless given, its defaults.
TEST_F(Regression, InitFromARegressionsModelContinuesARegression) {
  const std::string model = path("one-target.st");
  ASSERT_EQ(run(args("--train " + path("all.csv") + " --epochs 1 --save " + model)).exit_code, 0);
  const Result r = run("--train " + path("all.csv") + " --init-from " + model + " --epochs 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("linear outputs"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("lr 0.001, adam"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("test RMSE"), std::string::npos) << r.out;
  expect_error(run("--train " + path("all.csv") + " --init-from " + model + " --loss xent"), 2,
               "--loss xent contradicts --init-from");
}

TEST_F(Regression, WhatARegressionCannotHaveIsRefused) {
  const std::string csv = " --train " + path("all.csv");
  std::ofstream(path("missing.csv")) << "a,b,y\n1,2,3\n4,5,6\n7,8,\n";
  std::ofstream(path("word.csv")) << "a,b,y\n1,2,3\n4,5,six\n";
  std::ofstream(path("huge.csv")) << "a,b,y\n1,2,3\n4,5,1e30\n1,1,1\n2,2,2\n3,3,3\n4,4,4\n5,5,5\n6,6,6\n";
  std::ofstream(path("short-targets.csv")) << "y1,y2\n1,2\n";
  const std::vector<std::tuple<std::string, int, std::string>> cases{
      {args(csv + " --loss xent"), 2, "--loss xent is a classification's"},
      {args(csv + " --preset blog"), 2, "--preset blog"},
      {args(csv + " --early-stop 2 --early-stop-on accuracy"), 2, "a regression has no accuracy"},
      {"--train " + path("all.csv") + " --early-stop 2 --early-stop-on r2", 2, "--early-stop-on r2 applies"},
      {args(csv + " --classes 3"), 2, "--classes counts a classification's classes"},
      {"--task regression --data-dir " + data().string(), 2, "needs --train FILE"},
      {args(csv + " --label-column y1 --target-columns y2"), 2, "contradict each other"},
      {args(csv + " --target-columns y1,y1"), 1, "names column 5 (y1) twice"},
      {args(csv + " --target-columns y1,zz"), 1, "--target-columns 'zz': not in the header row"},
      {args("--train " + path("missing.csv")), 1, "line 4: column 3 (y): a missing target"},
      {args("--train " + path("word.csv")), 1, "line 3: column 3 (y): 'six' is not a number"},
      {args("--train " + path("huge.csv")), 2, "beyond 1.8e19"},
      {args("--train " + path("features.csv") + " --train-targets " + path("short-targets.csv")), 1,
       "holds 400 examples but"},
      {args("--train-targets " + path("targets.csv")), 2, "--train-targets goes with --train"},
      {csv + " --target-columns y1", 2, "--target-columns applies to --task regression"},
  };
  for (const auto& [command, code, fragment] : cases) expect_error(run(command), code, fragment);
}

// scikit-learn's regression data as Debian ships it: Boston's two header lines, diabetes's
// whitespace-separated features and targets in two files, linnerud's three targets.
TEST_F(Regression, ScikitLearnsRealFilesRead) {
  const fs::path d = "/usr/lib/python3/dist-packages/sklearn/datasets/data";
  if (!fs::exists(d / "boston_house_prices.csv")) GTEST_SKIP() << "python3-sklearn's data is not installed";
  const Result boston = run("--task regression --train " + (d / "boston_house_prices.csv").string() +
                            " --standardize --hidden 64 "
                            "--epochs 60 --metrics " +
                            path("boston.jsonl"));
  ASSERT_EQ(boston.exit_code, 0) << boston.err;
  EXPECT_NE(boston.out.find("506 examples of 13 features, 1 target"), std::string::npos) << boston.out;
  EXPECT_GT(read_metrics(path("boston.jsonl")).back()["test_r2"].get<double>(), 0.75);
  const Result diabetes = run("--task regression --train " + (d / "diabetes_data_raw.csv.gz").string() +
                              " --train-targets " + (d / "diabetes_target.csv.gz").string() + " --epochs 1");
  ASSERT_EQ(diabetes.exit_code, 0) << diabetes.err;
  EXPECT_NE(diabetes.out.find("442 examples of 10 features, 1 target"), std::string::npos) << diabetes.out;
  const std::string linnerud = path("linnerud.st");
  ASSERT_EQ(run("--task regression --train " + (d / "linnerud_exercise.csv").string() + " --train-targets " +
                (d / "linnerud_physiological.csv").string() + " --epochs 1 --save " + linnerud)
                .exit_code,
            0);
  const Result p = run("predict --model " + linnerud + " --input " + (d / "linnerud_exercise.csv").string());
  EXPECT_EQ(p.out.substr(0, p.out.find('\n')), "index,Weight,Waist,Pulse");
}

}  // namespace
}  // namespace ptrain
