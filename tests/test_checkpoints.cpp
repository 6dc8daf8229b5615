// Saving, checkpointing and resuming, as a user runs them: exact resume across thread counts,
// refusals of contradicting options, --init-from against the oracle, failed saves that leave
// the previous file intact, progress output and --config. eval and predict: test_eval_predict.
#include <gtest/gtest.h>

#include <fstream>

#include "cli_support.hpp"
#include "ptrain/io/dataset.hpp"
#include "ptrain/io/model_file.hpp"
#include "ptrain/engine/reference.hpp"

namespace ptrain {
namespace {

using test::expect_error;
using test::read_metrics;
using test::Result;
using test::slurp;

class Checkpoints : public test::CliTest {
 protected:
  std::string hash_of(const std::string& metrics) { return read_metrics(metrics).back()["weights_hash"]; }
};

TEST_F(Checkpoints, ResumeEndsBitwiseWhereAStraightRunEnds) {
  // Each engine in its own format (the oracle's checkpoints are F64), with SGD and with Adam.
  for (const std::string engine : {"parallel", "scalar"})
    for (const std::string recipe : {"", " --optimizer adam --lr 0.003 --activation relu --loss xent --init he"}) {
      const std::string ck = path("ck-" + engine + std::to_string(recipe.size())), straight = path("straight.jsonl"),
                        resumed = path("resumed.jsonl");
      std::filesystem::remove_all(ck);
      std::filesystem::remove(resumed);  // the last iteration's run: a resume refuses another run's records
      ASSERT_EQ(
          run(base() + recipe + " --engine " + engine + " --epochs 3 --threads 2 --metrics " + straight).exit_code, 0);
      ASSERT_EQ(
          run(base() + recipe + " --engine " + engine + " --epochs 1 --threads 1 --checkpoint-dir " + ck).exit_code, 0);
      Result r = run(base() + " --epochs 3 --threads 3 --resume " + ck + " --metrics " + resumed);
      ASSERT_EQ(r.exit_code, 0) << r.err;
      EXPECT_NE(r.out.find("resumed from"), std::string::npos) << r.out;
      EXPECT_EQ(hash_of(resumed), hash_of(straight)) << engine << recipe;
      auto lines = read_metrics(resumed);
      ASSERT_EQ(lines.size(), 3u);
      EXPECT_EQ(lines[0]["epoch"], 2) << "a resumed run continues with the next epoch";
    }
}

TEST_F(Checkpoints, ResumeWithMomentumAndCosineDecayIsExactToo) {
  const std::string recipe =
      base() + " --activation relu --loss xent --init he --momentum 0.9 --lr 0.05 --lr-decay cosine";
  const std::string ck = path("ck-momentum"), straight = path("m-straight.jsonl"), resumed = path("m-resumed.jsonl");
  ASSERT_EQ(run(recipe + " --epochs 4 --threads 2 --metrics " + straight).exit_code, 0);
  ASSERT_EQ(
      run(recipe + " --epochs 4 --threads 1 --checkpoint-every 2 --checkpoint-dir " + ck + " --metrics " + resumed,
          "ulimit -t 100;")
          .exit_code,
      0);
  std::filesystem::remove(ck + "/checkpoint-000000000088.safetensors");  // keep only the one after epoch 2
  ModelFile m = load_model_file(ck + "/checkpoint-000000000044.safetensors");
  EXPECT_EQ(m.velocity.size(), m.params.size()) << "a momentum checkpoint holds the velocity";
  Result r = run(base() + " --threads 3 --resume " + ck + " --metrics " + resumed);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(hash_of(resumed), hash_of(straight));
  expect_error(run(base() + " --resume " + ck + " --epochs 9"), 2, "whose cosine lr decay runs over 4 epochs");
  EXPECT_EQ(run(base() + " --resume " + ck + " --epochs 4 --quiet").exit_code, 0);
  expect_error(run(base() + " --resume " + ck + " --momentum 0.5"), 2, "--momentum 0.5 contradicts");
}

TEST_F(Checkpoints, ResumeWithAdamAndWeightDecayIsExactToo) {
  for (const char* optimizer : {"adam", "adamw"}) {
    const std::string name = optimizer;
    const std::string recipe =
        base() + " --activation relu --loss xent --init he --optimizer " + name +
        " --weight-decay 0.01 --lr 0.002 --lr-decay step --step-size 1 --gamma 0.7 --warmup-epochs 1";
    const std::string ck = path("ck-" + name), straight = path(name + "-straight.jsonl"),
                      resumed = path(name + ".jsonl");
    ASSERT_EQ(run(recipe + " --epochs 4 --threads 2 --metrics " + straight).exit_code, 0);
    ASSERT_EQ(
        run(recipe + " --epochs 4 --threads 1 --checkpoint-every 2 --checkpoint-dir " + ck + " --metrics " + resumed)
            .exit_code,
        0);
    std::filesystem::remove(ck + "/checkpoint-000000000088.safetensors");  // keep only the one after epoch 2
    ModelFile m = load_model_file(ck + "/checkpoint-000000000044.safetensors");
    EXPECT_EQ(m.velocity.size(), m.params.size()) << "an Adam checkpoint holds the first moment";
    EXPECT_EQ(m.second_moment.size(), m.params.size()) << "and the second";
    Result r = run(base() + " --epochs 4 --threads 3 --resume " + ck + " --metrics " + resumed);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(hash_of(resumed), hash_of(straight)) << name;
    expect_error(run(base() + " --resume " + ck + " --optimizer sgd"), 2, "--optimizer sgd contradicts the checkpoint");
    expect_error(run(base() + " --resume " + ck + " --beta2 0.99"), 2, "--beta2 0.99 contradicts the checkpoint");
  }
}

// --early-stop stops where validation stops improving, --save-best keeps that epoch's model (the
// same weights as a run of exactly that many epochs), and a resume from any checkpoint before
// the stop stops at the same epoch with the same weights.
TEST_F(Checkpoints, EarlyStoppingKeepsTheBestEpochAndResumesExactly) {
  const std::string recipe = base() + " --lr 0.5 --epochs 12 --early-stop 2";
  const std::string best = path("best.st"), metrics = path("early.jsonl");
  Result r = run(recipe + " --threads 2 --save-best " + best + " --metrics " + metrics);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json final = read_metrics(metrics).back();
  ASSERT_TRUE(final["stopped_early_after"].is_number()) << r.out;
  const int best_epoch = final["best_epoch"], stop = final["stopped_early_after"];
  EXPECT_EQ(stop, best_epoch + 2);
  EXPECT_NE(r.out.find("best epoch " + std::to_string(best_epoch) + " (val accuracy "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("stopped early after epoch " + std::to_string(stop) + ": 2 epochs without a gain"),
            std::string::npos);
  // The kept model is the one a run of exactly best_epoch epochs ends with.
  const std::string exact = path("exact.jsonl");
  ASSERT_EQ(
      run(base() + " --lr 0.5 --threads 1 --epochs " + std::to_string(best_epoch) + " --metrics " + exact).exit_code,
      0);
  EXPECT_EQ(load_model_file(best).metadata.at("weights_hash"), hash_of(exact));
  EXPECT_EQ(load_model_file(best).metadata.at("best_epoch"), std::to_string(best_epoch));
  // A resume from the checkpoint after epoch best_epoch + 1 (one without a gain) judges the rest
  // as the run did: its best so far travels in the checkpoint.
  const std::string ck = path("ck-early"), resumed = path("early-resumed.jsonl");
  ASSERT_EQ(run(recipe + " --threads 1 --checkpoint-dir " + ck + " --keep-last 0").exit_code, 0);
  for (const auto& f : std::filesystem::directory_iterator(ck))
    if (f.path().extension() == ".safetensors" &&
        load_model_file(f.path().string()).metadata.at("epoch") != std::to_string(best_epoch + 1))
      std::filesystem::remove(f.path());
  Result again = run(base() + " --epochs 12 --threads 3 --resume " + ck + " --metrics " + resumed);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(hash_of(resumed), final["weights_hash"]);
  EXPECT_EQ(read_metrics(resumed).back()["stopped_early_after"], stop);
  expect_error(run(base() + " --resume " + ck + " --early-stop 5"), 2, "--early-stop 5 contradicts the checkpoint");
  expect_error(run(base() + " --split standard --val-size 0 --early-stop 2"), 2,
               "--early-stop judges epochs on the validation set, and this run has none");
  expect_error(run(base() + " --min-delta 0.1"), 2, "--min-delta goes with --early-stop or --save-best");
  expect_error(run(base() + " --early-stop 2 --early-stop-on f1"), 2,
               "--early-stop-on 'f1': expected accuracy, loss, r2 or train-loss");
}

TEST_F(Checkpoints, CheckpointEveryNEpochsNamedByStep) {
  const std::string ck = path("every");
  ASSERT_EQ(run(base() + " --epochs 4 --checkpoint-every 2 --checkpoint-dir " + ck).exit_code, 0);
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(ck))
    if (!e.path().filename().string().starts_with(".")) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  // 350 training images in batches of 16: 22 steps an epoch.
  EXPECT_EQ(names,
            (std::vector<std::string>{"checkpoint-000000000044.safetensors", "checkpoint-000000000088.safetensors"}));
  ModelFile m = load_model_file((std::filesystem::path(ck) / names[0]).string());
  EXPECT_EQ(m.metadata["kind"], "checkpoint");
  EXPECT_EQ(m.metadata["epoch"], "2");
  EXPECT_EQ(m.metadata["step"], "44");
  EXPECT_EQ(m.metadata["seed"], "42");
  EXPECT_EQ(m.metadata["layers"], "784,112,16,10");
}

TEST_F(Checkpoints, ResumeRefusesContradictingOptionsAndAcceptsTheRest) {
  const std::string ck = path("contra");
  ASSERT_EQ(run(base() + " --epochs 1 --checkpoint-dir " + ck).exit_code, 0);
  const std::string resume = base() + " --epochs 2 --resume " + ck;
  expect_error(run(resume + " --seed 7"), 2, "--seed 7 contradicts the checkpoint");
  expect_error(run(resume + " --layers 784,30,10"), 2, "--layers 784,30,10 contradicts");
  expect_error(run(resume + " --engine scalar"), 2, "--engine scalar contradicts");
  expect_error(run("--data-dir " + data().string() + " --batch-size 8 --resume " + ck), 2,
               "--batch-size 8 contradicts");
  expect_error(run(resume + " --lr 1"), 2, "--lr 1 contradicts");
  Result ok = run(resume + " --threads 1 --chunk-size 2 --quiet --metrics " + path("ok.jsonl"));
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

TEST_F(Checkpoints, ResumeNeedsACheckpoint) {
  const std::string model = path("plain.safetensors");
  ASSERT_EQ(run(base() + " --epochs 1 --save " + model).exit_code, 0);
  expect_error(run(base() + " --resume " + model), 2, "use --init-from");
  expect_error(run(base() + " --resume " + path("absent.safetensors")), 1, "not found");
  expect_error(run(base() + " --resume " + model + " --init-from " + model), 2, "contradict");
  expect_error(run(base() + " --checkpoint-every 2"), 2, "needs --checkpoint-dir");
}

TEST_F(Checkpoints, InitFromThenOneFullBatchStepEqualsTheOraclesStep) {
  const std::string start = path("start.safetensors"), after = path("after.safetensors");
  ASSERT_EQ(run(base() + " --epochs 1 --save " + start).exit_code, 0);
  // The seed split of 500 images trains on 350: one batch of 350 is one full-batch step.
  Result r =
      run("--data-dir " + data().string() + " --epochs 1 --batch-size 350 --init-from " + start + " --save " + after);
  ASSERT_EQ(r.exit_code, 0) << r.err;

  ModelFile before = load_model_file(start);
  MnistData mnist = load_mnist(data().string(), 10);
  NetSpec spec;
  std::vector<float> init(before.params.begin(), before.params.end());
  ReferenceEngine oracle(spec, init);
  oracle.train_step(mnist.all, seed_split(mnist.all.size(), 42).train, 3.0);
  ModelFile got = load_model_file(after);
  EXPECT_TRUE(test::tensors_close(spec.sizes, got.params, oracle.state().params, 1e-5, 1e-4));

  expect_error(run(base() + " --layers 784,30,10 --init-from " + start), 2, "holds a 784,112,16,10 net");
}

TEST_F(Checkpoints, AFailedSaveLeavesThePreviousFileIntact) {
  const std::string model = path("keep.safetensors");
  ASSERT_EQ(run(base() + " --epochs 1 --save " + model).exit_code, 0);
  const std::string before = slurp(model);
  // A file-size limit of 8 KiB makes the 351 KiB write fail, as a full disk would.
  Result r = run(base() + " --epochs 2 --save " + model, "ulimit -f 16;");
  expect_error(r, 1, "--save " + model);
  EXPECT_EQ(slurp(model), before);
  for (const auto& e : std::filesystem::directory_iterator(dir()))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << "left behind: " << e.path();
  expect_error(run(base() + " --epochs 1 --save " + model + "/inside"), 1, "--save " + model + "/inside");

  const std::string ck = path("ck-full");
  ASSERT_EQ(run(base() + " --epochs 1 --checkpoint-dir " + ck).exit_code, 0);
  const std::string first = slurp(ck + "/checkpoint-000000000022.safetensors");
  expect_error(run(base() + " --epochs 2 --resume " + ck + " --checkpoint-dir " + ck, "ulimit -f 16;"), 1,
               "checkpoint");
  EXPECT_EQ(slurp(ck + "/checkpoint-000000000022.safetensors"), first);
}

TEST_F(Checkpoints, QuietPrintsOnlyTheResultAndPipesGetNoCarriageReturns) {
  Result quiet = run(base() + " --epochs 2 --quiet");
  ASSERT_EQ(quiet.exit_code, 0);
  EXPECT_EQ(std::count(quiet.out.begin(), quiet.out.end(), '\n'), 1) << quiet.out;
  EXPECT_EQ(quiet.out.rfind("test accuracy", 0), 0u) << quiet.out;
  Result plain = run(base() + " --epochs 2");
  EXPECT_EQ(plain.out.find('\r'), std::string::npos);
}

TEST_F(Checkpoints, ATerminalGetsAProgressBarThatTheSummaryReplaces) {
  if (std::system("command -v script >/dev/null 2>&1") != 0) GTEST_SKIP() << "no script(1) to make a terminal";
  // script(1) runs ptrain on a pseudo-terminal and copies what it shows to our stdout.
  const std::string out = path("tty.txt");
  const std::string cmd = "script -qfec \"" + std::string(PTRAIN_BINARY) + " " + base() + " --epochs 2\" /dev/null > " +
                          out + " 2>&1 </dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  const std::string shown = slurp(out);
  EXPECT_NE(shown.find("\repoch 1/2 ["), std::string::npos) << shown;
  EXPECT_NE(shown.find("examples/s"), std::string::npos) << shown;
  EXPECT_NE(shown.find("s left"), std::string::npos) << shown;
  EXPECT_NE(shown.find("\r\033[Kepoch   1/2  loss"), std::string::npos) << "the summary replaces the bar: " << shown;
}

TEST_F(Checkpoints, ConfigFileGivesOptionsAndTheCommandLineWins) {
  const std::string cfg = path("run.ini"), m = path("cfg.jsonl");
  std::ofstream(cfg) << "# ptrain options\nepochs = 2\nbatch-size = 16\ndata-dir = " << data().string() << "\n";
  ASSERT_EQ(run("--config " + cfg + " --metrics " + m).exit_code, 0);
  EXPECT_EQ(read_metrics(m).size(), 3u);
  ASSERT_EQ(run("--config " + cfg + " --epochs 3 --metrics " + m).exit_code, 0);
  EXPECT_EQ(read_metrics(m).size(), 4u);
  std::ofstream(path("bad.ini")) << "bogus = 1\n";
  expect_error(run("--config " + path("bad.ini")), 2, "--config " + path("bad.ini"));
  expect_error(run("--config " + path("none.ini")), 2, "--config " + path("none.ini") + ": file not found");
}

}  // namespace
}  // namespace ptrain
