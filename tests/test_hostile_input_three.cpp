// Hostile input, round three: the names users give, the numbers they pass, and every line that
// promises something. Each test attacks one class of defect (docs/robustness.md lists them).
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "cli_support.hpp"
#include "ptrain/io/model_file.hpp"
#include "ptrain/io/name_encoding.hpp"

namespace ptrain {
namespace {

namespace fs = std::filesystem;
using test::expect_error;
using test::read_metrics;
using test::Result;
using test::slurp;

using HostileThree = test::CliTest;

void write_text(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// A CSV of `rows` examples: `features` columns counting up from the row, then the label
// `labels[row % labels.size()]`.
std::string csv_rows(int rows, int features, const std::vector<std::string>& labels) {
  std::string text;
  for (int r = 0; r < rows; ++r) {
    for (int f = 0; f < features; ++f) text += std::to_string((r * 7 + f * 3) % 11 * 0.1) + ",";
    text += labels[r % labels.size()] + "\n";
  }
  return text;
}

// Whether every byte of `text` is printable UTF-8 or a newline: no escape sequence, no stray byte.
bool terminal_safe(const std::string& text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && c != '\n') || c == 0x7f) return false;
  }
  return terminal_text(text) == text;
}

// --- 2. Outputs are compared as files, not as spellings ---------------------------------------

TEST_F(HostileThree, OneFileUnderTwoSpellingsIsRefusedBeforeTraining) {
  fs::create_directories(path("sub"));
  fs::create_symlink(path("dangling-target.st"), path("dangling.st"));
  const std::string out = path("same.out");
  for (const auto& [args, fragment] : std::vector<std::pair<std::string, std::string>>{
           {"--save " + out + " --metrics " + path("./same.out"), "is also --metrics"},
           {"--save " + path("sub/../same.out") + " --metrics " + out, "is also --metrics"},
           {"--save " + path("dangling.st") + " --save-best " + path("dangling-target.st"), "is also --save-best"},
           {"--save " + path("ck-as-file") + " --checkpoint-dir " + path("ck-as-file"), "is also --checkpoint-dir"}}) {
    Result r = run(base() + " --epochs 1 " + args);
    expect_error(r, 1, fragment);
    EXPECT_EQ(r.out.find("epoch"), std::string::npos) << r.out;
  }
  // Relative spellings, from the folder they are relative to.
  expect_error(run(base() + " --epochs 1 --save x.st --metrics ./x.st", "cd " + dir().string() + " &&"), 1,
               "is also --metrics");
  EXPECT_FALSE(fs::exists(path("same.out")));
  EXPECT_FALSE(fs::exists(path("dangling-target.st")));
}

// --- 4. A saved model always loads --------------------------------------------------------------

TEST_F(HostileThree, LayersThatDisagreeWithTheNamedClassesAreRefused) {
  write_text(path("pets.csv"), csv_rows(60, 3, {"cat", "dog", "emu"}));
  Result r = run("--train " + path("pets.csv") + " --epochs 1 --layers 3,8,5 --save " + path("pets.st"));
  expect_error(r, 2, "--layers ends in 5 outputs but the labels of " + path("pets.csv") + " name 3 classes");
  EXPECT_FALSE(fs::exists(path("pets.st")));
}

// Every kind of model the suite trains is written, then read back by every command that takes
// one: eval, predict --index, --init-from and --resume.
TEST_F(HostileThree, EveryAcceptedCombinationSavesAModelEveryCommandLoads) {
  write_text(path("combo.csv"), csv_rows(90, 4, {"a", "b%", "c"}));
  const std::string csv = "--train " + path("combo.csv") + " --batch-size 8";
  // (the data, the net and its recipe): --init-from takes the data alone, as the model brings the rest.
  const std::vector<std::pair<std::string, std::string>> combos{
      {base(), ""},
      {base(), "--activation relu --loss xent --init he"},
      {base(), "--activation tanh --optimizer adam --lr 0.001 --weight-decay 0.001"},
      {base(), "--optimizer adamw --lr 0.001 --lr-decay cosine --warmup-epochs 1"},
      {base(), "--momentum 0.9 --lr 0.1 --lr-decay step --step-size 1"},
      {base(), "--preset blog --hidden 20"},
      {base(), "--engine scalar --hidden none --split standard --val-size 40"},
      {base(), "--early-stop 1 --early-stop-on loss --min-delta 0.001"},
      {csv, ""},
      {csv, "--standardize --hidden 6,5,4"},
      {csv, "--scale 0.5 --loss xent"},
      {csv, "--layers 4,7,3 --classes 3"},
  };
  for (std::size_t i = 0; i < combos.size(); ++i) {
    const auto& [data, net] = combos[i];
    SCOPED_TRACE(data + " " + net);
    const std::string model = path("combo-" + std::to_string(i) + ".st"), ck = path("combo-ck-" + std::to_string(i));
    Result trained = run(data + " " + net + " --epochs 2 --save " + model + " --checkpoint-dir " + ck);
    ASSERT_EQ(trained.exit_code, 0) << trained.err;
    Result eval = run("eval --model " + model);
    EXPECT_EQ(eval.exit_code, 0) << eval.err;
    Result predict = run("predict --model " + model + " --index 0");
    EXPECT_EQ(predict.exit_code, 0) << predict.err;
    Result init = run(data + " --epochs 1 --init-from " + model);
    EXPECT_EQ(init.exit_code, 0) << init.err;
    Result resumed = run("--resume " + ck + " --epochs 2");  // loaded and checked; a cosine decay fixes the epochs
    EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
  }
}

// --- 5. Any bytes in a name ----------------------------------------------------------------------

TEST(NameEncoding, PercentEncodesWhatIsNotPlainUtf8AndReadsItBack) {
  // Hand-encoded: '%', control bytes and bytes outside valid UTF-8 become %XX; UTF-8 stays.
  EXPECT_EQ(encode_name("caf\xe9 50%\x1b[31m"), "caf%E9 50%25%1B[31m");
  EXPECT_EQ(encode_name("caf\xc3\xa9/\xe2\x82\xac"), "caf\xc3\xa9/\xe2\x82\xac");
  EXPECT_EQ(encode_name("\xc0\xaf\xed\xa0\x80"), "%C0%AF%ED%A0%80");  // overlong '/', a surrogate
  EXPECT_EQ(decode_name("caf%E9 50%25%1B[31m"), "caf\xe9 50%\x1b[31m");
  EXPECT_EQ(decode_name("100%"), "100%");  // not an escape: left as it is
  std::string every_byte;
  for (int b = 1; b < 256; ++b) every_byte += static_cast<char>(b);
  EXPECT_EQ(decode_name(encode_name(every_byte)), every_byte);
}

TEST(NameEncoding, TerminalTextShowsControlBytesAsEscapes) {
  EXPECT_EQ(terminal_text("red\x1b[31m \x9b\xc2\x9b ok\xe2\x82\xac\n"),
            "red\\x1b[31m \\x9b\\xc2\\x9b ok\xe2\x82\xac\n");
  EXPECT_EQ(terminal_text("a\nb", false), "a\\x0ab");
}

TEST_F(HostileThree, NamesThatAreNotUtf8TrainSaveAndLoad) {
  const std::string folder = path("data-\xfe\x1b[2J"), model = path("model-\xff.st");
  fs::create_directories(folder);
  write_text(fs::path(folder) / "set.csv", csv_rows(90, 4, {"caf\xe9", "red\x1b[31m", "blue", "50%"}));
  Result trained = run("--train " + folder + "/set.csv --epochs 2 --save " + model);
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  EXPECT_TRUE(terminal_safe(trained.out)) << trained.out;
  EXPECT_NE(trained.out.find("caf\\xe9"), std::string::npos) << trained.out;
  // The model records the path absolute and the names encoded; eval and predict find the data
  // from another folder and print the names escaped.
  const ModelFile m = load_model_file(model);
  EXPECT_EQ(m.metadata.at("data_train"), encode_name(folder + "/set.csv"));
  EXPECT_EQ(m.metadata.at("class_names"), "[\"50%25\",\"blue\",\"caf%E9\",\"red%1B[31m\"]");
  for (const std::string& command : {"eval --model " + model, "predict --model " + model + " --index 1"}) {
    Result r = run(command, "cd / &&");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(terminal_safe(r.out)) << r.out;
  }
  Result eval = run("eval --model " + model + " --metrics " + path("eval.json"));
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_NE(slurp(path("eval.json")).find("\"red%1B[31m\""), std::string::npos);
  // predict --input's CSV keeps the bytes when it goes to a file or a pipe.
  Result csv = run("predict --model " + model + " --input " + folder + "/set.csv");
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  std::istringstream rows(csv.out);
  std::string row;
  std::getline(rows, row);  // the header
  const std::set<std::string> names{"caf\xe9", "red\x1b[31m", "blue", "50%"};
  while (std::getline(rows, row)) {
    const std::string predicted = row.substr(row.find(',') + 1, row.find(',', row.find(',') + 1) - row.find(',') - 1);
    EXPECT_TRUE(names.count(predicted)) << row;
  }
}

// --- 1 and 12. Every promise printed is true -------------------------------------------------------

TEST_F(HostileThree, SaveBestGivenOnAResumeSavesOnlyWhatItHas) {
  const std::string ck = path("best-ck");
  // lr 30 stalls the fake data: epoch 1 stays the best of 4.
  ASSERT_EQ(run(base() + " --lr 30 --epochs 4 --early-stop 9 --keep-last 0 --checkpoint-dir " + ck).exit_code, 0);
  const fs::path at2 = fs::path(ck) / "checkpoint-000000000044.safetensors";
  // Epoch 1's checkpoint is kept: its weights are written.
  Result kept = run("--resume " + at2.string() + " --epochs 3 --save-best " + path("best-kept.st"));
  ASSERT_EQ(kept.exit_code, 0) << kept.err;
  EXPECT_NE(kept.out.find("wrote the best epoch so far, 1, from its checkpoint"), std::string::npos) << kept.out;
  EXPECT_EQ(load_model_file(path("best-kept.st")).metadata.at("epoch"), "1");
  // Without it nothing holds them: the run says so and claims no file.
  fs::remove(fs::path(ck) / "checkpoint-000000000022.safetensors");
  Result lost = run("--resume " + at2.string() + " --epochs 3 --save-best " + path("best-lost.st"));
  ASSERT_EQ(lost.exit_code, 0) << lost.err;
  EXPECT_NE(lost.out.find("the best epoch so far, 1, came before this resume"), std::string::npos) << lost.out;
  EXPECT_NE(lost.out.find("not saved: it came before --save-best"), std::string::npos) << lost.out;
  EXPECT_EQ(lost.out.find("saved " + path("best-lost.st")), std::string::npos) << lost.out;
  EXPECT_FALSE(fs::exists(path("best-lost.st")));
}

TEST_F(HostileThree, NoEpochNoBestAndBestEpochIsAWholeNumber) {
  Result none = run(base() + " --epochs 0 --save-best " + path("never.st"));
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_NE(none.out.find("--save-best " + path("never.st") + ": nothing written, as no epoch ran (--epochs 0)"),
            std::string::npos)
      << none.out;
  EXPECT_FALSE(fs::exists(path("never.st")));
  ASSERT_EQ(run(base() + " --epochs 2 --save-best " + path("b.st") + " --metrics " + path("b.jsonl")).exit_code, 0);
  const auto records = read_metrics(path("b.jsonl"));
  for (const auto& r : records) EXPECT_TRUE(r["best_epoch"].is_number_integer()) << r.dump();
}

TEST_F(HostileThree, TheValidationHintNamesTheCause) {
  test::write_fake_mnist(path("nine"), 6, 3, 5);
  expect_error(run("--data-dir " + path("nine") + " --epochs 1 --early-stop 2"), 2,
               "the seed split's 10% of 9 examples is none");
  Result zero = run(base() + " --epochs 1 --split standard --val-size 0 --save-best " + path("z.st"));
  expect_error(zero, 2, "(--val-size 0)");
}

}  // namespace
}  // namespace ptrain

namespace ptrain {
namespace {

// The processes whose command line holds `marker`.
std::vector<pid_t> processes_with(const std::string& marker) {
  std::vector<pid_t> found;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = slurp(entry.path() / "cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(marker) != std::string::npos && cmdline.find("/bin/sh") == std::string::npos)
      found.push_back(std::stoi(name));
  }
  return found;
}

// --- 6. Signals as the user set them -----------------------------------------------------------

TEST_F(HostileThree, SignalsInheritedAsIgnoredStayIgnored) {
  // As nohup leaves them: ignored in this process, and so in the ptrain it starts.
  struct sigaction ignore {
  }, old_int{}, old_hup{};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGINT, &ignore, &old_int);
  sigaction(SIGHUP, &ignore, &old_hup);
  const std::string metrics = path("nohup-marker.jsonl");
  Result r;
  std::thread training([&] { r = run(base() + " --engine scalar --epochs 40 --metrics " + metrics); });
  while (!fs::exists(metrics) || slurp(metrics).empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const std::vector<pid_t> ptrain = processes_with(metrics);
  for (pid_t p : ptrain) kill(p, SIGINT), kill(p, SIGHUP);
  training.join();
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGHUP, &old_hup, nullptr);
  EXPECT_EQ(ptrain.size(), 1u);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("test accuracy"), std::string::npos) << r.out;
  EXPECT_EQ(read_metrics(metrics).size(), 41u);  // every epoch and the final record
}

}  // namespace
}  // namespace ptrain

namespace ptrain {
namespace {

// --- 3. Every number fits the arithmetic it feeds ------------------------------------------------

TEST_F(HostileThree, NumbersFloat32CannotHoldAreRefusedNamingTheOption) {
  write_text(path("plain.csv"), csv_rows(60, 3, {"0", "1"}));
  const std::string csv = "--train " + path("plain.csv") + " --epochs 1 ";
  for (const auto& [args, fragment] : std::vector<std::pair<std::string, std::string>>{
           {base() + " --epochs 1 --lr 1e-50", "--lr 1e-50: the step epoch 1 takes"},
           {base() + " --epochs 1 --lr 1e300", "above float32's largest number"},
           {base() + " --epochs 1 --optimizer adam --eps 1e-45", "--eps 1e-45: is below float32's smallest normal"},
           {base() + " --epochs 1 --momentum 1e-40", "--momentum 1e-40"},
           {base() + " --epochs 3 --lr 0.1 --lr-decay step --step-size 1 --gamma 1e-30", "the step epoch 3 takes"},
           {csv + "--scale 1e-50", "--scale 1e-50: below float32's smallest normal"},
           {csv + "--scale 1e300", "--scale 1e+300: above float32's largest"},
           {csv + "--scale 1e20", "of example 0 is"}}) {
    Result r = run(args);
    expect_error(r, 2, fragment);
    EXPECT_EQ(r.out.find("epoch "), std::string::npos) << r.out;
  }
  // Features near float32's largest, as CSV and .npy both accept them.
  write_text(path("huge.csv"),
             "3.4028235e38,1,0\n-3e38,2,1\n1e38,3,0\n2e38,1,1\n0,2,0\n1,1,1\n5,2,0\n6,3,1\n7,1,0\n8,2,1\n");
  expect_error(run("--train " + path("huge.csv") + " --epochs 1"), 2, "feature 1 of example 0 is 3.4e+38");
  Result standardized = run("--train " + path("huge.csv") + " --epochs 1 --standardize");
  EXPECT_EQ(standardized.exit_code, 0) << standardized.err;
}

TEST_F(HostileThree, AFeatureThatVariesOnlyInItsLastBitsIsConstant) {
  // Feature 1 is 1 + 1e-7·k (k = 0, 1, 2): float32 rounding around 1. Standardised as signal, its factor
  // would be ~1e7; treated as constant, it keeps factor 1 (and feature 2, which varies, does not).
  std::string text;
  for (int r = 0; r < 40; ++r)
    text += "1.000000" + std::to_string(r % 3) + "," + std::to_string(r % 5) + "," + std::to_string(r % 2) + "\n";
  write_text(path("flat.csv"), text);
  ASSERT_EQ(run("--train " + path("flat.csv") + " --epochs 1 --standardize --save " + path("flat.st")).exit_code, 0);
  const std::vector<double> factors = test::numbers(load_model_file(path("flat.st")).metadata.at("input_factor"));
  ASSERT_EQ(factors.size(), 2u);
  EXPECT_EQ(factors[0], 1.0);
  EXPECT_NEAR(factors[1], 1 / std::sqrt(2.0), 0.05);  // 0..4 over the training rows: σ ≈ √2
}

// --- 7. Runs that move ---------------------------------------------------------------------------

TEST_F(HostileThree, ARunResumesEvaluatesAndPredictsFromAnotherFolderAndAfterItsDataMoved) {
  fs::create_directories(path("move/data"));
  write_text(path("move/data/set.csv"), csv_rows(80, 3, {"x", "y"}));
  const std::string in_move = "cd " + path("move") + " &&";
  ASSERT_EQ(run("--train data/set.csv --epochs 1 --checkpoint-dir ck --save m.st", in_move).exit_code, 0);
  // From another folder: the recorded paths are absolute.
  EXPECT_EQ(run("--resume " + path("move/ck") + " --epochs 2", "cd / &&").exit_code, 0);
  EXPECT_EQ(run("eval --model " + path("move/m.st"), "cd / &&").exit_code, 0);
  EXPECT_EQ(run("predict --model " + path("move/m.st") + " --index 0", "cd / &&").exit_code, 0);
  // The data moved: named again on resume, checked against what the checkpoint recorded.
  fs::rename(path("move/data"), path("move/moved"));
  expect_error(run("--resume " + path("move/ck") + " --epochs 3"), 1, "file not found");
  Result again = run("--resume " + path("move/ck") + " --epochs 3 --train " + path("move/moved/set.csv"));
  EXPECT_EQ(again.exit_code, 0) << again.err;
  write_text(path("move/other.csv"), csv_rows(80, 3, {"y", "x", "x"}));
  expect_error(run("--resume " + path("move/ck") + " --epochs 4 --train " + path("move/other.csv")), 1, "not the data");
}

// --- 8. --init-from is the model it names --------------------------------------------------------

TEST_F(HostileThree, InitFromCarriesActivationLossAndPresetAndRefusesContradictions) {
  const std::string relu = path("relu.st");
  ASSERT_EQ(run(base() + " --epochs 1 --activation relu --loss xent --save " + relu).exit_code, 0);
  ASSERT_EQ(run(base() + " --epochs 1 --init-from " + relu + " --save " + path("relu2.st")).exit_code, 0);
  const auto& meta = load_model_file(path("relu2.st")).metadata;
  EXPECT_EQ(meta.at("activation"), "relu");
  EXPECT_EQ(meta.at("loss"), "xent");
  expect_error(run(base() + " --epochs 1 --init-from " + relu + " --activation tanh"), 2,
               "--activation tanh contradicts --init-from " + relu + ", whose net has relu");
  const std::string blog = path("blog.st");
  ASSERT_EQ(run(base() + " --epochs 1 --preset blog --save " + blog).exit_code, 0);
  ASSERT_EQ(run(base() + " --epochs 1 --init-from " + blog + " --save " + path("blog2.st")).exit_code, 0);
  EXPECT_EQ(load_model_file(path("blog2.st")).metadata.at("input_scale"), "1");
  write_text(path("feats.csv"), csv_rows(60, 3, {"0", "1"}));
  ASSERT_EQ(run("--train " + path("feats.csv") + " --epochs 1 --standardize --save " + path("std.st")).exit_code, 0);
  expect_error(run("--train " + path("feats.csv") + " --epochs 1 --init-from " + path("std.st") + " --scale 2"), 2,
               "--init-from applies the transform its model keeps");
  expect_error(run("--train " + path("feats.csv") + " --epochs 1 --init-from " + relu), 2,
               "was trained on bytes but " + path("feats.csv") + " holds float32 values");
}

// --- 10. Bookkeeping across a resume -------------------------------------------------------------

TEST_F(HostileThree, AResumeRefusesWhatItWouldIgnoreAndAnotherRunsMetrics) {
  const std::string ck = path("book-ck");
  ASSERT_EQ(run(base() + " --epochs 1 --checkpoint-dir " + ck + " --metrics " + path("own.jsonl")).exit_code, 0);
  for (const std::string option : {"--classes 10", "--header yes", "--label-column first", "--npz-keys a,b"})
    expect_error(run("--resume " + ck + " --epochs 2 " + option), 2, "--resume continues its checkpoint's run");
  ASSERT_EQ(run(base() + " --epochs 1 --metrics " + path("other.jsonl")).exit_code, 0);
  const std::string before = slurp(path("other.jsonl"));
  Result r = run("--resume " + ck + " --epochs 2 --metrics " + path("other.jsonl"));
  expect_error(r, 1, "is a record of another run");
  EXPECT_EQ(slurp(path("other.jsonl")), before);
  EXPECT_EQ(r.out.find("epoch "), std::string::npos) << r.out;
  EXPECT_EQ(run("--resume " + ck + " --epochs 2 --metrics " + path("own.jsonl")).exit_code, 0);
}

// Stops a run with SIGTERM in the middle of epoch 2 (batches of 1: 280 float64 steps an epoch), then
// resumes it: epoch 2's reported loss is the whole epoch's, as the uninterrupted run reports it.
TEST_F(HostileThree, AnEpochResumedMidwayReportsTheWholeEpochsLoss) {
  const std::string recipe = "--data-dir " + data().string() + " --batch-size 1 --engine scalar --epochs 3";
  ASSERT_EQ(run(recipe + " --metrics " + path("whole.jsonl")).exit_code, 0);
  const double whole = read_metrics(path("whole.jsonl"))[1]["train_loss"];
  for (int attempt = 0; attempt < 3; ++attempt) {  // a signal in an epoch's last step stops at its end
    const std::string ck = path("mid-ck-" + std::to_string(attempt)), m = path("mid-" + std::to_string(attempt));
    Result stopped;
    std::thread training([&] { stopped = run(recipe + " --checkpoint-dir " + ck + " --metrics " + m); });
    while (!fs::exists(m) || slurp(m).empty()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    for (pid_t p : processes_with(m)) kill(p, SIGTERM);
    training.join();
    ASSERT_NE(stopped.exit_code, 0) << stopped.out;
    std::string newest;
    for (const auto& e : fs::directory_iterator(ck))
      if (e.path().extension() == ".safetensors") newest = std::max(newest, e.path().string());
    const ModelFile at = load_model_file(newest);
    if (at.metadata.at("batches_in_epoch") == "0" || at.metadata.at("epoch") != "1") continue;
    ASSERT_EQ(run("--resume " + ck + " --epochs 3 --checkpoint-dir " + ck + " --metrics " + m).exit_code, 0);
    EXPECT_EQ(read_metrics(m)[1]["train_loss"].get<double>(), whole);
    return;
  }
  FAIL() << "no stop landed inside epoch 2";
}

}  // namespace
}  // namespace ptrain

namespace ptrain {
namespace {

// Every option of `ptrain --help` is, for --resume, one of: a run option (applies to any run), a
// recipe field (checked against the checkpoint), or new-run-only (refused). An option added
// later fails here until it is placed, and a new-run-only one must be refused.
TEST_F(HostileThree, EveryOptionIsPlacedForAResumeAndTheNewRunOnesAreRefused) {
  const std::set<std::string> run_options{
      "help",           "version",   "epochs",  "threads",      "chunk-size", "subnormals",
      "rank-timeout",   "metrics",   "profile", "save",         "save-best",  "checkpoint-every",
      "checkpoint-dir", "keep-last", "resume",  "exact-reduce", "quiet",      "config",
      "data-dir",       "train",     "test",    "val"};
  const std::set<std::string> recipe{
      "task",      "layers",          "engine",   "seed",          "preset",     "batch-size",
      "lr",        "split",           "val-size", "activation",    "loss",       "init",
      "momentum",  "optimizer",       "beta1",    "beta2",         "eps",        "weight-decay",
      "lr-decay",  "step-size",       "gamma",    "warmup-epochs", "early-stop", "early-stop-on",
      "min-delta", "early-stop-rule", "shuffle",  "momentum-kind", "power-t"};
  const std::vector<std::pair<std::string, std::string>> new_run_only{{"hidden", "8"},
                                                                      {"classes", "10"},
                                                                      {"standardize", ""},
                                                                      {"scale", "2"},
                                                                      {"header", "yes"},
                                                                      {"label-column", "first"},
                                                                      {"npz-keys", "a,b"},
                                                                      {"init-from", path("any.st")},
                                                                      {"target-columns", "last"},
                                                                      {"train-targets", path("t.csv")},
                                                                      {"test-targets", path("t.csv")},
                                                                      {"val-targets", path("t.csv")}};
  std::istringstream help(run("--help").out);
  std::string line;
  std::set<std::string> listed;
  while (std::getline(help, line)) {
    const std::size_t dashes = line.find("--");
    if (!line.starts_with("  -") || dashes == std::string::npos) continue;
    listed.insert(line.substr(dashes + 2, line.find_first_of(" \t", dashes) - dashes - 2));
  }
  std::set<std::string> placed = run_options;
  placed.insert(recipe.begin(), recipe.end());
  for (const auto& [option, value] : new_run_only) placed.insert(option);
  EXPECT_EQ(listed, placed);
  const std::string ck = path("placed-ck");
  ASSERT_EQ(run(base() + " --epochs 1 --checkpoint-dir " + ck).exit_code, 0);
  for (const auto& [option, value] : new_run_only) {
    Result r = run("--resume " + ck + " --epochs 2 --" + option + " " + value);
    EXPECT_EQ(r.exit_code, 2) << option << ": " << r.err;
    EXPECT_NE(r.err.find("--resume"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace ptrain

namespace ptrain {
namespace {

// --- 9. Messages say what happened ---------------------------------------------------------------

TEST_F(HostileThree, MessagesNameWhatIsWrong) {
  for (const std::string missing : {"gone.npz", "gone.NPY", "gone.csv", "gone-images-idx3-ubyte"})
    expect_error(run("--train " + path(missing) + " --epochs 1"), 1, path(missing) + ": file not found");
  write_text(path("UPPER.CSV"), csv_rows(40, 3, {"0", "1"}));
  write_text(path("UPPER.TSV.GZ"), "");  // not gzip, and empty: read as an empty TSV
  EXPECT_EQ(run("--train " + path("UPPER.CSV") + " --epochs 1").exit_code, 0);
  expect_error(run("--train " + path("UPPER.TSV.GZ") + " --epochs 1"), 1, "no rows of data");
  write_text(path("features.csv"), "0.5,0.25,0.125\n0.75,0.5,0.375\n0.25,0.125,0.0625\n");
  expect_error(run("--train " + path("features.csv") + " --epochs 1"), 1, "line 1: no label column");
  // An unclosed quote that opens a row is reported on its own line, not the row before.
  write_text(path("quote.csv"), "a,b,label\n1,2,0\n3,4,1\n\"5,6,0\n7,8,1\n9,10,0\n");
  expect_error(run("--train " + path("quote.csv") + " --epochs 1"), 1, "line 4: malformed CSV");
  // A header of numbers read as data, its label a class of one row: pointed out.
  write_text(path("numeric-header.csv"), "1,2,3\n" + csv_rows(40, 2, {"cat", "dog"}));
  Result header = run("--train " + path("numeric-header.csv") + " --epochs 1");
  ASSERT_EQ(header.exit_code, 0) << header.err;
  EXPECT_NE(header.out.find("line 1 was read as data, and its label '3' is a class of that row alone"),
            std::string::npos)
      << header.out;
  // A number the labels skip: pointed out, unless --classes asks for the room.
  write_text(path("skip.csv"), csv_rows(40, 2, {"0", "1", "2", "3"}) + "0.5,0.5,11\n");
  Result skip = run("--train " + path("skip.csv") + " --epochs 1");
  ASSERT_EQ(skip.exit_code, 0) << skip.err;
  EXPECT_NE(skip.out.find("no example is labelled 4, yet the net gets 12 outputs, one per number up to the largest "
                          "label (0×10, 1×10, 2×10, 3×10, 11×1)"),
            std::string::npos)
      << skip.out;
  Result asked = run("--train " + path("skip.csv") + " --epochs 1 --classes 12");
  ASSERT_EQ(asked.exit_code, 0) << asked.err;
  EXPECT_EQ(asked.out.find("warning"), std::string::npos) << asked.out;
}

// --- 11. Integrity covers the table, not only the bytes -------------------------------------------

// The file with two tensors' entries in its header swapping their data_offsets; the header
// keeps its length (the offsets' digits are the same), so only the table changed.
void swap_offsets(const std::string& file, const std::string& a, const std::string& b) {
  std::string bytes = slurp(file);
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  nlohmann::json header = nlohmann::json::parse(bytes.substr(8, n));
  std::swap(header[a]["data_offsets"], header[b]["data_offsets"]);
  std::string text = header.dump();
  ASSERT_LE(text.size(), n);
  text.append(n - text.size(), ' ');
  write_text(file, bytes.substr(0, 8) + text + bytes.substr(8 + n));
}

TEST_F(HostileThree, ATensorTableThatWasAlteredIsRefused) {
  const std::string ck = path("table-ck");
  ASSERT_EQ(run(base() + " --epochs 1 --optimizer adam --lr 0.001 --checkpoint-dir " + ck).exit_code, 0);
  const std::string file = ck + "/checkpoint-000000000022.safetensors";
  // Adam's two moments swapped: the weights (and their weights_hash) are untouched.
  swap_offsets(file, "velocity.layers.2.bias", "second_moment.layers.2.bias");
  expect_error(run("--resume " + file + " --epochs 2"), 1, "its tensor table was altered");
}

TEST_F(HostileThree, BytesAfterTheGzipDataAreRefused) {
  const std::string plain = csv_rows(40, 3, {"0", "1"});
  // Two members (as `cat a.gz b.gz` makes) are one stream; anything else after them is refused.
  ASSERT_EQ(std::system(("printf '%s' '" + plain + "' | gzip -c > " + path("two.csv.gz") +
                         " && printf '0.1,0.2,0.3,1\\n' | gzip -c >> " + path("two.csv.gz"))
                            .c_str()),
            0);
  Result two = run("--train " + path("two.csv.gz") + " --epochs 1");
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_NE(two.out.find("41 examples"), std::string::npos) << two.out;
  ASSERT_EQ(std::system(
                ("cp " + path("two.csv.gz") + " " + path("tail.csv.gz") + " && printf 'junk' >> " + path("tail.csv.gz"))
                    .c_str()),
            0);
  expect_error(run("--train " + path("tail.csv.gz") + " --epochs 1"), 1, "4 bytes after the end of the gzip data");
}

}  // namespace
}  // namespace ptrain
