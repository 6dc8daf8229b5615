// `mpirun -np K ptrain` on one machine over loopback, against the one-process run as the oracle:
// the exact reduction reproduces its weights bit for bit, the fast one its arithmetic up to
// rounding; every rank ends with the same weights; failures end every rank.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <thread>

#include "cli_support.hpp"
#include "ptrain/io/model_file.hpp"

namespace ptrain::test {
namespace {

class MpiTest : public CliTest {
 protected:
  // 5,000 fake images: a test set of 1,000, so 0.3 points is 3 images.
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    write_fake_mnist(data(), 4000, 1000, 7);
  }

  static std::string mpirun(int ranks) {
    return std::string(PTRAIN_MPIRUN) + " -q --allow-run-as-root --oversubscribe --bind-to none -np " +
           std::to_string(ranks);
  }

  // The final metrics record of a run that must succeed.
  nlohmann::json train(const std::string& args, const std::string& prefix, const std::string& name) {
    const std::string metrics = path(name + ".jsonl");
    Result r = run(base() + " " + args + " --metrics " + metrics, prefix);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<nlohmann::json> lines = read_metrics(metrics);
    return lines.empty() ? nlohmann::json::object() : lines.back();
  }

  // Every epoch's training loss, as the metrics record it (JSON keeps a double's every bit).
  std::vector<double> epoch_losses(const std::string& name) {
    std::vector<double> losses;
    for (const nlohmann::json& line : read_metrics(path(name + ".jsonl")))
      if (line.contains("epoch")) losses.push_back(line["train_loss"].get<double>());
    return losses;
  }

  static void expect_ranks_agree(const nlohmann::json& final, int ranks) {
    ASSERT_EQ(final["ranks"], ranks);
    ASSERT_EQ(final["rank_hashes"].size(), std::size_t(ranks));
    for (const auto& h : final["rank_hashes"]) EXPECT_EQ(h, final["weights_hash"]);
  }
};

constexpr const char* kRecipe = "--epochs 3";

TEST_F(MpiTest, ExactReduceGivesTheOneProcessWeights) {
  const nlohmann::json one = train(std::string(kRecipe) + " --lr 1.0 --threads 2", "", "one");
  // 16-example batches are 4 chunks: 2 ranks take 2 each, 3 ranks 1, 1 and 2; the short last
  // batch of each epoch splits unevenly too.
  for (int ranks : {2, 3}) {
    const nlohmann::json spread = train(std::string(kRecipe) + " --lr 1.0 --threads 1 --exact-reduce", mpirun(ranks),
                                        "exact" + std::to_string(ranks));
    EXPECT_EQ(spread["weights_hash"], one["weights_hash"]) << ranks << " ranks";
    EXPECT_EQ(spread["test_accuracy"], one["test_accuracy"]);
    // The chunks' losses travel with the rows as raw bytes: the epochs' losses are one process's.
    EXPECT_EQ(epoch_losses("exact" + std::to_string(ranks)), epoch_losses("one")) << ranks << " ranks";
    expect_ranks_agree(spread, ranks);
  }
}

TEST_F(MpiTest, ExactReduceWithMomentumAndXentGivesTheOneProcessWeights) {
  const std::string recipe = "--epochs 2 --lr 0.05 --momentum 0.9 --activation relu --loss xent --init he";
  const nlohmann::json one = train(recipe + " --threads 1", "", "one_m");
  const nlohmann::json spread = train(recipe + " --threads 1 --exact-reduce", mpirun(2), "exact_m");
  EXPECT_EQ(spread["weights_hash"], one["weights_hash"]);
  expect_ranks_agree(spread, 2);
}

TEST_F(MpiTest, ExactReduceWithAdamAndWeightDecayGivesTheOneProcessWeights) {
  for (const char* optimizer : {"adam", "adamw"}) {
    const std::string recipe =
        std::string("--epochs 2 --lr 0.002 --activation relu --loss xent --init he --optimizer ") + optimizer +
        " --weight-decay 0.01 --threads 1";
    const nlohmann::json one = train(recipe, "", std::string("one_") + optimizer);
    const nlohmann::json spread = train(recipe + " --exact-reduce", mpirun(2), std::string("exact_") + optimizer);
    EXPECT_EQ(spread["weights_hash"], one["weights_hash"]) << optimizer;
    expect_ranks_agree(spread, 2);
  }
}

// A CSV with named labels and standardised features, read by every rank: the exact reduction
// still gives the one-process weights.
TEST_F(MpiTest, ExactReduceOnACsvWithNamedLabelsGivesTheOneProcessWeights) {
  write_csv_set(dir() / "csv", "pets", 600, 200, 12, 3, 5, {"ant", "bee", "cat"});
  const std::string args = "--train " + (dir() / "csv" / "pets-train.csv").string() + " --test " +
                           (dir() / "csv" / "pets-test.csv").string() +
                           " --standardize --hidden 16 --epochs 2 --lr 0.5 --batch-size 16 --threads 1 --metrics ";
  Result one = run(args + path("csv_one.jsonl"));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  Result spread = run(args + path("csv_exact.jsonl") + " --exact-reduce", mpirun(2));
  ASSERT_EQ(spread.exit_code, 0) << spread.err;
  const nlohmann::json a = read_metrics(path("csv_one.jsonl")).back(), b = read_metrics(path("csv_exact.jsonl")).back();
  EXPECT_EQ(b["weights_hash"], a["weights_hash"]);
  EXPECT_EQ(b["test_accuracy"], a["test_accuracy"]);
  expect_ranks_agree(b, 2);
}

// A regression with two targets: the same weights and test R² as one process.
TEST_F(MpiTest, ExactReduceOnARegressionGivesTheOneProcessWeights) {
  std::ofstream csv(dir() / "regression.csv");
  csv << "a,b,c,y1,y2\n";
  for (int r = 0; r < 300; ++r) {
    const double a = (r * 37 % 101) / 50.0 - 1, b = (r * 53 % 97) / 48.0 - 1, c = (r * 11 % 89) / 44.0 - 1;
    csv << a << "," << b << "," << c << "," << 3 * a - b * c + 7 << "," << a * b + c << "\n";
  }
  csv.close();
  const std::string args = "--task regression --train " + (dir() / "regression.csv").string() +
                           " --target-columns y1,y2 --standardize --hidden 16 --epochs 3 --batch-size 16 "
                           "--threads 1 --metrics ";
  Result one = run(args + path("reg_one.jsonl"));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  Result spread = run(args + path("reg_exact.jsonl") + " --exact-reduce", mpirun(2));
  ASSERT_EQ(spread.exit_code, 0) << spread.err;
  const nlohmann::json a = read_metrics(path("reg_one.jsonl")).back(), b = read_metrics(path("reg_exact.jsonl")).back();
  EXPECT_EQ(b["weights_hash"], a["weights_hash"]);
  EXPECT_EQ(b["test_r2"], a["test_r2"]);
  expect_ranks_agree(b, 2);
}

// The fast reduction adds the ranks' partial sums in another order: the weights may differ
// from one process's by rounding only, and the accuracy by at most 0.3 points.
TEST_F(MpiTest, FastReduceMatchesOneProcessUpToRounding) {
  for (const std::string momentum : {"0", "0.9"}) {
    const std::string recipe =
        std::string(kRecipe) + " --momentum " + momentum + " --lr " + (momentum == "0" ? "1.0" : "0.1");
    const nlohmann::json one = train(recipe + " --threads 1 --save " + path("one.safetensors"), "", "one_f");
    const nlohmann::json spread = train(recipe + " --threads 1 --save " + path("fast.safetensors"), mpirun(2), "fast");
    expect_ranks_agree(spread, 2);
    EXPECT_NEAR(spread["test_accuracy"].get<double>(), one["test_accuracy"].get<double>(), 0.3);
    const ModelFile a = load_model_file(path("one.safetensors")), b = load_model_file(path("fast.safetensors"));
    ASSERT_EQ(a.params.size(), b.params.size());
    double worst = 0;
    for (std::size_t i = 0; i < a.params.size(); ++i) worst = std::max(worst, std::abs(a.params[i] - b.params[i]));
    EXPECT_LT(worst, 1e-3) << "momentum " << momentum << ": more than rounding apart";
    // The ranks' losses are added too.
    const std::vector<double> losses = epoch_losses("fast"), oracle = epoch_losses("one_f");
    ASSERT_EQ(losses.size(), oracle.size());
    for (std::size_t e = 0; e < losses.size(); ++e) EXPECT_NEAR(losses[e], oracle[e], 1e-4 * oracle[e]) << e;
  }
}

// A later layer of more than 64 KiB (16 × 1100 floats) is updated by both owners of a rank,
// each a share of its columns, and the fast reduction applies the summed gradient share by
// share: the exact reduction still gives one process's weights, and the fast one the same
// weights with two owners a rank as with one (which updates the layer whole).
TEST_F(MpiTest, ALargeLaterLayerSharedAmongOwnersKeepsBothReductions) {
  const std::string recipe = "--epochs 2 --lr 0.5 --layers 784,16,1100,10";
  const nlohmann::json one = train(recipe + " --threads 2", "", "one_l");
  const nlohmann::json exact = train(recipe + " --threads 2 --exact-reduce", mpirun(2), "exact_l");
  EXPECT_EQ(exact["weights_hash"], one["weights_hash"]);
  const nlohmann::json fast_whole = train(recipe + " --threads 1", mpirun(2), "fast_whole");
  const nlohmann::json fast_shared = train(recipe + " --threads 2", mpirun(2), "fast_shared");
  EXPECT_EQ(fast_shared["weights_hash"], fast_whole["weights_hash"]);
  expect_ranks_agree(fast_shared, 2);
}

TEST_F(MpiTest, CheckpointAndResumeUnderMpi) {
  const nlohmann::json whole = train("--epochs 4 --threads 1", "", "whole");
  const std::string dir = path("mpi_checkpoints");
  train("--epochs 2 --threads 1 --exact-reduce --checkpoint-dir " + dir, mpirun(2), "first");
  const nlohmann::json resumed = train("--epochs 4 --threads 1 --exact-reduce --resume " + dir, mpirun(2), "rest");
  EXPECT_EQ(resumed["weights_hash"], whole["weights_hash"]);
  expect_ranks_agree(resumed, 2);
  // Adam's moments and step count come back on every rank.
  const std::string adam = " --optimizer adam --lr 0.002 --activation relu --loss xent --init he";
  const nlohmann::json adam_whole = train("--epochs 4 --threads 1" + adam, "", "adam_whole");
  const std::string adam_dir = path("mpi_adam_checkpoints");
  train("--epochs 2 --threads 1 --exact-reduce --checkpoint-dir " + adam_dir + adam, mpirun(2), "adam_first");
  const nlohmann::json adam_resumed =
      train("--epochs 4 --threads 1 --exact-reduce --resume " + adam_dir, mpirun(2), "adam_rest");
  EXPECT_EQ(adam_resumed["weights_hash"], adam_whole["weights_hash"]);
  expect_ranks_agree(adam_resumed, 2);
}

// A failure every rank meets is reported once, by one rank, with ptrain's exit code.
TEST_F(MpiTest, BadInputIsOneLineFromOneRank) {
  Result r = run("--data-dir " + path("missing"), mpirun(2));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("missing"), std::string::npos) << r.err;
  r = run(base() + " --engine scalar", mpirun(2));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("without mpirun"), std::string::npos) << r.err;
}

// Ranks that hold different weights are stopped, not trusted. mpirun's MPMD form (`A : B`)
// gives each rank its own options: different starting files are caught before the first step,
// and different learning rates (the same summed gradient, applied differently) after epoch 1.
TEST_F(MpiTest, RanksWithDifferentWeightsAreStopped) {
  for (const char* seed : {"1", "2"})
    ASSERT_EQ(run(base() + " --epochs 1 --threads 1 -q --seed " + seed + " --save " + path(std::string("w") + seed))
                  .exit_code,
              0);
  // run() puts the binary after the prefix: rank 0's options, then ": -np 1 ptrain" and rank 1's.
  const std::string launcher =
      std::string(PTRAIN_MPIRUN) + " -q --allow-run-as-root --oversubscribe --bind-to none -np 1";
  const std::string common = base() + " --epochs 2 --threads 1 ";
  const std::string second = " : -np 1 " + std::string(PTRAIN_BINARY) + " " + common;
  Result r = run(common + "--init-from " + path("w1") + second + "--init-from " + path("w2"), launcher);
  expect_error(r, 1, "the ranks' weights differ at the start");
  r = run(common + "--lr 1.0" + second + "--lr 2.0", launcher);
  expect_error(r, 1, "the ranks' weights differ after epoch 1");
}

// Starts `ptrain ARGS` under mpirun -np 2, waits until training runs, does `harm` to rank 1 and
// returns mpirun's exit status and how long it took to end after that.
struct Ended {
  int status;
  double seconds;
  std::string err;
};

Ended harm_rank_one(const std::string& cmd, const std::string& err_path, int harm) {
  const pid_t launcher = fork();
  if (launcher == 0) {
    setpgid(0, 0);
    execl("/bin/sh", "sh", "-c", ("exec " + cmd + " >/dev/null 2>" + err_path).c_str(), nullptr);
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::seconds(3));  // mpirun starts, the ranks load the data
  // Rank 1 is mpirun's second ptrain child, by start order.
  const std::string find = "pgrep -P " + std::to_string(launcher) + " -x ptrain | sort -n | tail -1";
  std::string rank1;
  if (FILE* p = popen(find.c_str(), "r")) {
    char buf[32] = {};
    if (fgets(buf, sizeof buf, p)) rank1 = buf;
    pclose(p);
  }
  EXPECT_FALSE(rank1.empty()) << "no rank found";
  if (!rank1.empty()) kill(std::stoi(rank1), harm);
  const auto start = std::chrono::steady_clock::now();
  int status = 0;
  while (waitpid(launcher, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() - start > std::chrono::seconds(60)) {
      kill(-launcher, SIGKILL);  // the test fails below; leave nothing behind
      waitpid(launcher, &status, 0);
      return {-1, 60, slurp(err_path)};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return {status, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), slurp(err_path)};
}

TEST_F(MpiTest, DeadRankStopsTheOthers) {
  const std::string cmd = mpirun(2) + " " + PTRAIN_BINARY + " " + base() + " --epochs 100000 --threads 1";
  Ended e = harm_rank_one(cmd, path("dead.err"), SIGKILL);
  EXPECT_NE(e.status, -1) << "still running 60 s after a rank died";
  EXPECT_FALSE(WIFEXITED(e.status) && WEXITSTATUS(e.status) == 0) << e.err;
  EXPECT_LT(e.seconds, 30);
}

// A rank that hangs instead (stopped, or its host unreachable) ends the run after --rank-timeout.
TEST_F(MpiTest, HungRankEndsTheRunAfterTheRankTimeout) {
  const std::string cmd =
      mpirun(2) + " " + PTRAIN_BINARY + " " + base() + " --epochs 100000 --threads 1 --rank-timeout 2";
  Ended e = harm_rank_one(cmd, path("hung.err"), SIGSTOP);
  EXPECT_NE(e.status, -1) << "still running 60 s after a rank hung";
  EXPECT_TRUE(WIFEXITED(e.status) && WEXITSTATUS(e.status) != 0) << e.err;
  EXPECT_NE(e.err.find("rank 0 on "), std::string::npos) << e.err;
  EXPECT_LT(e.seconds, 30);
}

}  // namespace
}  // namespace ptrain::test
