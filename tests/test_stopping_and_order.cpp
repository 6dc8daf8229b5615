// The recipe options scikit-learn's estimators need, from the command line: scikit-learn's
// training-loss stopping rule (no validation set), checked against the rule worked over the
// run's own per-epoch losses, its adaptive learning rate against its rule worked by hand, and --shuffle none, checked
// against a shuffled run on rows this test put in that run's order itself.
#include <gtest/gtest.h>

#include <fstream>
#include <numeric>
#include <random>
#include <regex>

#include "cli_support.hpp"
#include "ptrain/run/epoch_loop.hpp"
#include "support.hpp"

namespace ptrain {
namespace {

using test::Result;

// Rows of 4 features and a label (whether x1 + x2 > 0), as CSV lines with a header.
std::vector<std::string> make_rows(std::size_t n) {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<std::string> rows;
  for (std::size_t i = 0; i < n; ++i) {
    double x[4];
    for (double& v : x) v = normal(rng);
    char line[128];
    std::snprintf(line, sizeof line, "%.6f,%.6f,%.6f,%.6f,%d", x[0], x[1], x[2], x[3], x[0] + x[1] > 0 ? 1 : 0);
    rows.push_back(line);
  }
  return rows;
}

void write_rows(const std::string& path, const std::vector<std::string>& rows) {
  std::ofstream out(path);
  out << "a,b,c,d,label\n";
  for (const std::string& r : rows) out << r << "\n";
}

class StoppingAndOrder : public test::CliTest {
 protected:
  static void SetUpTestSuite() {
    CliTest::SetUpTestSuite();
    write_rows(path("rows.csv"), make_rows(300));
  }
  // The file trains whole, in its order (no validation rows), and tests.
  static std::string on(const std::string& file) {
    return "--train " + file + " --test " + file + " --val-size 0 --hidden 8 --seed 7 ";
  }
  static std::string hash(const Result& r) {
    std::smatch m;
    return std::regex_search(r.out, m, std::regex("weights_hash ([0-9a-f]{16})")) ? m[1].str() : "none";
  }
};

// scikit-learn's _update_no_improvement_count over the losses the run reported: the epoch at
// which the count first exceeds n_iter_no_change is where the run must have stopped.
TEST_F(StoppingAndOrder, TrainLossRuleStopsWhereScikitLearnsRuleSays) {
  const std::string metrics = path("train-loss.jsonl");
  const int n_iter_no_change = 2;
  const double tol = 0.002;
  const Result r = run(on(path("rows.csv")) + "--epochs 300 --early-stop " + std::to_string(n_iter_no_change + 1) +
                       " --early-stop-on train-loss --early-stop-rule sklearn --min-delta 0.002 --metrics " + metrics);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<double> losses;
  for (const nlohmann::json& record : test::read_metrics(metrics))
    if (record.contains("train_loss") && record.contains("epoch")) losses.push_back(record["train_loss"]);
  double best = INFINITY;
  int count = 0, stop = 0;
  for (std::size_t e = 0; e < losses.size() && stop == 0; ++e) {
    count = losses[e] > best - tol ? count + 1 : 0;
    best = std::min(best, losses[e]);
    if (count > n_iter_no_change) stop = static_cast<int>(e) + 1;
  }
  ASSERT_GT(stop, 0) << "the rule never stops over " << losses.size() << " epochs";
  EXPECT_EQ(static_cast<int>(losses.size()), stop);
  EXPECT_LT(stop, 300);
  EXPECT_NE(r.out.find("stopped early after epoch " + std::to_string(stop)), std::string::npos) << r.out;
}

// With --shuffle none an epoch trains in the file's order: the rows written in the order a
// shuffled run's first epoch takes them train the same weights.
TEST_F(StoppingAndOrder, ShuffleNoneTrainsInTheFilesOrder) {
  const std::vector<std::string> rows = make_rows(300);
  std::vector<std::uint32_t> all(rows.size());
  std::iota(all.begin(), all.end(), 0u);
  std::vector<std::string> in_order;
  for (std::uint32_t i : epoch_order(all, 7, 1)) in_order.push_back(rows[i]);
  write_rows(path("in-order.csv"), in_order);
  const Result shuffled = run(on(path("rows.csv")) + "--epochs 1");
  const Result as_written = run(on(path("in-order.csv")) + "--epochs 1 --shuffle none");
  ASSERT_EQ(shuffled.exit_code, 0) << shuffled.err;
  ASSERT_EQ(as_written.exit_code, 0) << as_written.err;
  EXPECT_EQ(hash(as_written), hash(shuffled));
  EXPECT_NE(hash(run(on(path("in-order.csv")) + "--epochs 1")), hash(shuffled));  // shuffled again: others
}

// --lr-decay adaptive against scikit-learn's SGDOptimizer.trigger_stopping worked by hand: with a
// min-delta no epoch can meet, the count runs out every second epoch after the first and each
// time cuts the rate by 5, until a rate at most 1e-6 stops the run. A resume from a checkpoint
// between cuts carries them on: the same rates, the same weights.
TEST_F(StoppingAndOrder, AdaptiveCutsTheRateAsScikitLearnsAndResumesWithItsCuts) {
  const std::string recipe = on(path("rows.csv")) +
                             "--lr 0.004 --epochs 40 --lr-decay adaptive --early-stop 2 --early-stop-on train-loss "
                             "--early-stop-rule sklearn --min-delta 1000 ";
  const std::string straight = path("adaptive.jsonl"), resumed = path("adaptive-resumed.jsonl");
  const std::string ck = path("ck-adaptive");
  const Result r = run(recipe + "--checkpoint-every 1 --keep-last 0 --checkpoint-dir " + ck + " --metrics " + straight);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<double> rates, want;
  for (const nlohmann::json& record : test::read_metrics(straight))
    if (record.contains("lr")) rates.push_back(record["lr"]);
  double lr = 0.004;
  for (int epoch = 1, count = 0; epoch <= 40; ++epoch) {  // n_iter_no_change = 1: a count of 2 exceeds it
    want.push_back(lr);
    count = epoch == 1 ? 0 : count + 1;
    if (count <= 1) continue;
    if (lr <= 1e-6) break;
    lr /= 5;
    count = 0;
  }
  ASSERT_EQ(rates.size(), want.size()) << r.out;  // 0.004/5^5 = 1.28e-6 is cut once more: stop at epoch 15
  for (std::size_t e = 0; e < want.size(); ++e) EXPECT_DOUBLE_EQ(rates[e], want[e]) << "epoch " << e + 1;
  EXPECT_NE(r.out.find("no gain: lr now 0.0008"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("the rate cut 6 times to its floor"), std::string::npos) << r.out;
  const std::string rows = path("rows.csv");
  const Result again = run("--train " + rows + " --test " + rows + " --val-size 0 --epochs 40 --resume " + ck +
                           "/checkpoint-000000000060.safetensors --metrics " + resumed);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(test::read_metrics(resumed).back()["weights_hash"], test::read_metrics(straight).back()["weights_hash"]);
  EXPECT_DOUBLE_EQ(test::read_metrics(resumed).front()["lr"].get<double>(), want[6]);  // epoch 7, after two cuts
}

TEST_F(StoppingAndOrder, RefusalsNameTheOption) {
  test::expect_error(run(on(path("rows.csv")) + "--shuffle sometimes"), 2, "--shuffle 'sometimes'");
  test::expect_error(run(on(path("rows.csv")) + "--early-stop-rule pytorch"), 2, "--early-stop-rule 'pytorch'");
  test::expect_error(run(on(path("rows.csv")) + "--early-stop-rule sklearn"), 2, "--early-stop-rule goes with");
  test::expect_error(run(on(path("rows.csv")) + "--early-stop 2"), 2, "--early-stop judges epochs on the validation");
  test::expect_error(run(on(path("rows.csv")) + "--lr-decay adaptive"), 2, "give --early-stop N");
  test::expect_error(run(on(path("rows.csv")) + "--power-t 0.5"), 2, "--power-t applies to --lr-decay invscaling");
  test::expect_error(run(on(path("rows.csv")) + "--lr-decay invscaling --power-t -1"), 2, "--power-t -1: must be");
  test::expect_error(run(on(path("rows.csv")) + "--lr-decay invscaling --power-t 20 --epochs 2"), 2,
                     "the step epoch 2 takes");
}

}  // namespace
}  // namespace ptrain
