// Hostile input, round two: the paths a user names, the files ptrain reads back as its own, and
// the bookkeeping of a run across resumes. Each test shows one refusal or guarantee with the
// command that used to break it.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>

#include "cli_support.hpp"
#include "ptrain/io/model_file.hpp"

namespace ptrain {
namespace {

namespace fs = std::filesystem;
using test::expect_error;
using test::read_metrics;
using test::Result;
using test::slurp;

using Hostile = test::CliTest;

// The run failed before its first epoch: nothing was trained.
void expect_no_training(const Result& r) { EXPECT_EQ(r.out.find("epoch"), std::string::npos) << r.out; }

std::vector<std::string> checkpoint_names(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().starts_with("checkpoint-")) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST_F(Hostile, OutputsThatCannotBeWrittenAreRefusedBeforeTraining) {
  const std::string fifo = path("a-fifo"), folder = path("a-folder");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0644), 0);
  fs::create_directories(folder);
  for (const auto& [args, fragment] : std::vector<std::pair<std::string, std::string>>{
           {"--save " + fifo, "is a FIFO"},
           {"--save " + folder, "is a folder"},
           {"--save " + path("nodir/x.st"), "does not exist"},
           {"--metrics " + fifo, "is a FIFO"},
           {"--checkpoint-dir " + fifo, "exists and is not a folder"},
           {"--checkpoint-dir " + path("nodir/deeper/ck"), "does not exist"}}) {
    Result r = run(base() + " --epochs 1 " + args);
    expect_error(r, 1, fragment);
    expect_no_training(r);
  }
  EXPECT_TRUE(fs::is_fifo(fifo));
  const std::string ck = path("names-ck");
  fs::create_directories(ck);
  expect_error(
      run(base() + " --epochs 1 --checkpoint-dir " + ck + " --save " + ck + "/checkpoint-000000000022.safetensors"), 1,
      "a name the checkpoint folder uses");
  expect_error(run(base() + " --epochs 1 --save \"\""), 2, "--save: an empty path");
}

TEST_F(Hostile, ASymlinkIsWrittenThroughAndStaysALink) {
  const std::string target = path("real.st"), link = path("link.st");
  test::write_file(target, {'o', 'l', 'd'});
  fs::create_symlink(target, link);
  ASSERT_EQ(run(base() + " --epochs 1 --save " + link).exit_code, 0);
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_NO_THROW(load_model_file(target));
}

TEST_F(Hostile, NoOutputMayBeAnInputOrAnotherOutput) {
  const std::string model = path("v.st");
  ASSERT_EQ(run(base() + " --epochs 1 --save " + model).exit_code, 0);
  const std::string before = slurp(model);
  expect_error(run(base() + " --epochs 1 --init-from " + model + " --metrics " + model), 1,
               "is the same file as --init-from");
  expect_error(run("eval --model " + model + " --metrics " + model + " --data-dir " + data().string()), 1,
               "is the same file as --model");
  expect_error(run(base() + " --epochs 1 --save " + path("both") + " --metrics " + path("both")), 1,
               "is also --metrics");
  expect_error(run(base() + " --epochs 1 --save " + (data() / "train-labels-idx1-ubyte").string()), 1,
               "which this run reads");
  EXPECT_EQ(slurp(model), before);
}

TEST_F(Hostile, MetricsAreKeptUntilTheRunStartsAndAResumeContinuesThem) {
  const std::string keep = path("keep.jsonl");
  test::write_file(keep, {'{', '}', '\n'});
  expect_error(run(base() + " --epochs 1 --layers 100,10 --metrics " + keep), 2, "784 pixels");
  EXPECT_EQ(slurp(keep), "{}\n");

  const std::string ck = path("metrics-ck"), m = path("resumed.jsonl");
  ASSERT_EQ(run(base() + " --epochs 2 --checkpoint-dir " + ck + " --metrics " + m).exit_code, 0);
  ASSERT_EQ(run(base() + " --epochs 4 --resume " + ck + " --checkpoint-dir " + ck + " --metrics " + m).exit_code, 0);
  std::vector<int> epochs;
  for (const auto& r : read_metrics(m))
    if (r.contains("epoch")) epochs.push_back(r["epoch"]);
  EXPECT_EQ(epochs, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_TRUE(read_metrics(m).back().contains("weights_hash"));
}

TEST_F(Hostile, ACheckpointFolderHoldsOneRun) {
  const std::string ck = path("one-run");
  ASSERT_EQ(run(base() + " --epochs 1 --checkpoint-dir " + ck).exit_code, 0);
  const std::vector<std::string> before = checkpoint_names(ck);
  Result r = run(base() + " --epochs 1 --seed 7 --checkpoint-dir " + ck);
  expect_error(r, 1, "holds checkpoints of another run");
  expect_no_training(r);
  EXPECT_EQ(checkpoint_names(ck), before);

  const int lock = open((fs::path(ck) / ".ptrain.lock").c_str(), O_RDWR);
  ASSERT_GE(lock, 0);
  ASSERT_EQ(flock(lock, LOCK_EX), 0);  // as a running ptrain holds it
  expect_error(run(base() + " --epochs 2 --resume " + ck + " --checkpoint-dir " + ck), 1,
               "another ptrain run is using this folder");
  close(lock);
}

TEST_F(Hostile, ResumeChoosesByTheStepInsideSkipsJunkAndCleansUp) {
  const std::string ck = path("choose");
  ASSERT_EQ(run(base() + " --epochs 2 --checkpoint-dir " + ck).exit_code, 0);
  const fs::path dir(ck);
  fs::copy_file(dir / "checkpoint-000000000022.safetensors", dir / "checkpoint-backup.safetensors");
  test::write_file(dir / "checkpoint-999999999999.safetensors", {'j', 'u', 'n', 'k'});
  test::write_file(dir / ".checkpoint-000000000066.safetensors.tmp-Ab12Cd", {'x'});
  Result r = run(base() + " --epochs 4 --resume " + ck + " --checkpoint-dir " + ck);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("resumed from " + (dir / "checkpoint-000000000044.safetensors").string()), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("warning: skipped " + (dir / "checkpoint-999999999999.safetensors").string()), std::string::npos)
      << r.out;
  EXPECT_FALSE(fs::exists(dir / ".checkpoint-000000000066.safetensors.tmp-Ab12Cd"));
  // Pruning takes only the run's own checkpoints: the junk and the copy stay, the run's newest 3.
  EXPECT_EQ(checkpoint_names(ck),
            (std::vector<std::string>{"checkpoint-000000000044.safetensors", "checkpoint-000000000066.safetensors",
                                      "checkpoint-000000000088.safetensors", "checkpoint-999999999999.safetensors",
                                      "checkpoint-backup.safetensors"}));
}

TEST_F(Hostile, KeepLastBoundsTheCheckpoints) {
  const std::string three = path("keep-default"), one = path("keep-one"), all = path("keep-all");
  ASSERT_EQ(run(base() + " --epochs 5 --checkpoint-dir " + three).exit_code, 0);
  EXPECT_EQ(checkpoint_names(three),
            (std::vector<std::string>{"checkpoint-000000000066.safetensors", "checkpoint-000000000088.safetensors",
                                      "checkpoint-000000000110.safetensors"}));
  ASSERT_EQ(run(base() + " --epochs 3 --keep-last 1 --checkpoint-dir " + one).exit_code, 0);
  EXPECT_EQ(checkpoint_names(one), std::vector<std::string>{"checkpoint-000000000066.safetensors"});
  ASSERT_EQ(run(base() + " --epochs 4 --keep-last 0 --checkpoint-dir " + all).exit_code, 0);
  EXPECT_EQ(checkpoint_names(all).size(), 4u);
  expect_error(run(base() + " --keep-last 2"), 2, "--keep-last needs --checkpoint-dir");
}

TEST_F(Hostile, AFlippedBitInACheckpointIsFound) {
  const std::string ck = path("flip");
  ASSERT_EQ(run(base() + " --epochs 1 --checkpoint-dir " + ck).exit_code, 0);
  const fs::path file = fs::path(ck) / "checkpoint-000000000022.safetensors";
  std::string bytes = slurp(file);
  bytes[bytes.size() - 1000] ^= 0x04;
  test::write_file(file, std::vector<std::uint8_t>(bytes.begin(), bytes.end()));
  expect_error(run(base() + " --epochs 2 --resume " + file.string()), 1, file.string() + ": the weights do not match");
}

TEST_F(Hostile, TheDataTravelsWithTheRun) {
  const std::string ck = path("data-ck"), other = path("other-data");
  ASSERT_EQ(run(base() + " --epochs 1 --checkpoint-dir " + ck).exit_code, 0);
  // No --data-dir: the checkpoint's own folder, not the default one.
  Result r = run("--batch-size 16 --epochs 2 --resume " + ck);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("data " + data().string()), std::string::npos) << r.out;
  // Other data: refused unless --data-dir asks for it, then noted.
  test::write_fake_mnist(other, 350, 50, 99);
  ASSERT_EQ(run("--batch-size 16 --epochs 1 --data-dir " + other + " --checkpoint-dir " + path("other-ck")).exit_code,
            0);
  Result mixed = run("--batch-size 16 --epochs 3 --data-dir " + other + " --resume " + ck);
  ASSERT_EQ(mixed.exit_code, 0) << mixed.err;
  EXPECT_NE(mixed.out.find("is not the data the checkpoint was trained on (data_images 350+50"), std::string::npos)
      << mixed.out << mixed.err;
  fs::rename(other, path("moved"));
  fs::rename(data(), other);  // the recorded folder now holds other data
  Result moved = run("--batch-size 16 --epochs 2 --resume " + path("other-ck"));
  fs::rename(other, data());
  fs::rename(path("moved"), other);
  expect_error(moved, 1, "not the data");
}

TEST_F(Hostile, EvalUsesTheModelsOwnSplit) {
  const std::string model = path("standard.st");
  Result trained = run(base() + " --epochs 1 --split standard --val-size 50 --save " + model);
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  Result r = run("eval --model " + model + " --data-dir " + data().string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("split standard of " + data().string() + ", 100 test images"), std::string::npos) << r.out;
}

TEST_F(Hostile, ConfigFilesAndStrayWords) {
  expect_error(run("--config " + dir().string()), 2, "is a folder");
  expect_error(run("--config /dev/zero"), 2, "is a device");
  test::write_file(path("nested.ini"), {'c', 'o', 'n', 'f', 'i', 'g', '=', 'x', '\n'});
  expect_error(run("--config " + path("nested.ini")), 2, "cannot name another");
  expect_error(run(base() + " --epochs 1 predict"), 2, "unexpected word 'predict'");
  expect_error(run(base() + " --epochs 1 image.pgm"), 2, "unexpected word 'image.pgm'");
  expect_error(run("eval --model m.st extra"), 2, "unexpected word 'extra'");
}

TEST_F(Hostile, StrictWhereItWasLenient) {
  const fs::path both = dir() / "both-spellings";
  test::write_fake_mnist(both, 20, 10, 1);
  fs::copy_file(both / "t10k-labels-idx1-ubyte", both / "t10k-labels.idx1-ubyte");
  expect_error(run("--epochs 1 --data-dir " + both.string()), 1,
               "both t10k-labels-idx1-ubyte and t10k-labels.idx1-ubyte");
  const fs::path tiny = dir() / "one-image";
  test::write_fake_mnist(tiny, 1, 0, 1);
  expect_error(run("--epochs 1 --classes 10 --data-dir " + tiny.string()), 1, "leaves no training images");
}

TEST_F(Hostile, MessagesNameTheRealProblem) {
  const std::string loop = path("loop.st");
  fs::create_symlink(loop, loop);
  expect_error(run(base() + " --epochs 1 --init-from " + loop), 1, "symbolic links");
  const std::string model = path("m.st");
  ASSERT_EQ(run(base() + " --epochs 1 --save " + model).exit_code, 0);
  expect_error(run("predict --model " + model + " " + dir().string()), 1, "is a folder");
  expect_error(run(base() + " --lr 1e-400"), 2, "out of range");
  expect_error(run(base() + " --threads \"$(printf \"2\\033[31m\")\""), 2, "'2\\x1b[31m'");
  expect_error(run(base() + " --engine scalar --profile --metrics " + path("never.jsonl")), 2, "--profile");
  EXPECT_FALSE(fs::exists(path("never.jsonl")));
  Result r = run(base() + " --epochs 1 --threads 1");
  EXPECT_NE(r.out.find("1 thread,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(", 1 epoch,"), std::string::npos) << r.out;
}

#if defined(__SANITIZE_ADDRESS__)
#define PTRAIN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PTRAIN_ASAN 1
#endif
#endif

TEST_F(Hostile, OutOfMemoryNamesTheOption) {
#ifdef PTRAIN_ASAN
  GTEST_SKIP() << "AddressSanitizer reserves more address space than the limit allows";
#else
  // 794 million weights under a 2 GB address-space limit.
  expect_error(run(base() + " --epochs 1 --layers 784,1000000,10", "ulimit -v 2000000;"), 2,
               "--layers 784,1000000,10: out of memory for its weights");
  // The option the user gave names it, not one they did not (round three).
  expect_error(run(base() + " --epochs 1 --hidden 1000000", "ulimit -v 2000000;"), 2,
               "--hidden 1000000 (net 784,1000000,10): out of memory for its weights");
#endif
}

// A checkpoint taken after an epoch's last step but before its end (as older builds wrote on
// a signal there) resumes into the next epoch without printing an empty one.
TEST_F(Hostile, AResumeAtAnEpochsEndPrintsNoEmptyEpoch) {
  const std::string ck = path("boundary");
  ASSERT_EQ(run(base() + " --epochs 1 --checkpoint-dir " + ck).exit_code, 0);
  const std::string file = (fs::path(ck) / "checkpoint-000000000022.safetensors").string();
  ModelFile m = load_model_file(file);
  m.metadata["epoch"] = "0";
  m.metadata["batches_in_epoch"] = "22";
  save_model_file(path("last-step.st"), m, "test");
  Result r = run(base() + " --epochs 2 --resume " + path("last-step.st"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("epoch   1/2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("epoch   2/2"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace ptrain
