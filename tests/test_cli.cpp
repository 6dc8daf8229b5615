// The ptrain program as a user runs it, on a small fake MNIST folder: output, metrics, the
// same weights_hash for any --threads, and one clear line plus the right exit code for every
// bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include <zlib.h>

#include "cli_support.hpp"
#include "ptrain/io/idx.hpp"
#include "ptrain/io/model_file.hpp"

namespace ptrain {
namespace {

using test::expect_error;
using test::read_metrics;
using test::Result;
using Cli = test::CliTest;
using test::numbers;
using test::slurp;

// "weights_hash 0123456789abcdef" from a run's output.
std::string hash(const std::string& out) {
  const std::size_t at = out.find("weights_hash");
  return at == std::string::npos ? "no weights_hash in: " + out : out.substr(at, 29);
}

TEST_F(Cli, TrainsAndWritesMetrics) {
  auto metrics = dir_->path() / "m.jsonl";
  Result r = run(train_args() + " --threads 2 --metrics " + metrics.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("2 threads"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("train 350, validation 50, test 100"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("test accuracy"), std::string::npos) << r.out;
  auto lines = read_metrics(metrics);
  ASSERT_EQ(lines.size(), kEpochs + 1u);
  for (int e = 0; e < kEpochs; ++e) {
    EXPECT_EQ(lines[e]["epoch"], e + 1);
    for (const char* key : {"train_loss", "val_accuracy", "examples_per_sec", "seconds"})
      EXPECT_TRUE(lines[e][key].is_number()) << key;
  }
  EXPECT_LT(lines[kEpochs - 1]["train_loss"].get<double>(), lines[0]["train_loss"].get<double>());
  const nlohmann::json& last = lines.back();
  EXPECT_GT(last["test_accuracy"].get<double>(), 90.0);
  EXPECT_EQ(last["weights_hash"].get<std::string>().size(), 16u);
  EXPECT_TRUE(last["total_seconds"].is_number());
}

TEST_F(Cli, SameWeightsHashForEveryThreadCount) {
  std::string first;
  for (int threads : {1, 2, 3}) {
    const std::string n = std::to_string(threads);
    auto metrics = dir_->path() / "threads.jsonl";
    Result r = run(train_args() + " --threads " + n + " --metrics " + metrics.string());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::string hash = read_metrics(metrics).back()["weights_hash"];
    if (first.empty()) first = hash;
    EXPECT_EQ(hash, first) << n << " threads";
  }
}

TEST_F(Cli, ScalarEngineAgreesWithParallel) {
  auto m_par = dir_->path() / "par.jsonl", m_ref = dir_->path() / "ref.jsonl";
  ASSERT_EQ(run(train_args() + " --metrics " + m_par.string()).exit_code, 0);
  ASSERT_EQ(run(train_args() + " --engine scalar --metrics " + m_ref.string()).exit_code, 0);
  double par = read_metrics(m_par).back()["test_accuracy"], ref = read_metrics(m_ref).back()["test_accuracy"];
  EXPECT_NEAR(par, ref, 2.0);
}

TEST_F(Cli, StandardSplitAndZeroValidation) {
  Result r = run(train_args() + " --split standard --val-size 0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("train 400, validation 0, test 100"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("val n/a"), std::string::npos) << r.out;
}

TEST_F(Cli, ProfileReportsPhasesThatAddUpToTheEpoch) {
  auto metrics = dir_->path() / "profile.jsonl";
  Result r = run(train_args() + " --threads 2 --profile --metrics " + metrics.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = read_metrics(metrics);
  for (int e = 0; e < kEpochs; ++e) {
    const nlohmann::json& phases = lines[e]["phase_seconds"];
    double sum = 0;
    for (const char* name :
         {"data", "forward", "backward", "sync", "exchange", "reduce_update", "evaluation", "other"}) {
      ASSERT_TRUE(phases[name].is_number()) << name;
      EXPECT_GE(phases[name].get<double>(), 0.0) << name;
      sum += phases[name].get<double>();
    }
    EXPECT_GT(phases["forward"].get<double>(), 0.0);
    EXPECT_GT(phases["reduce_update"].get<double>(), 0.0);
    EXPECT_NEAR(sum, lines[e]["seconds"].get<double>(), 1e-3 + 0.01 * sum);
  }
  EXPECT_NE(r.out.find("profile:  data"), std::string::npos) << r.out;
  expect_error(run(train_args() + " --engine scalar --profile"), 2, "--profile");
}

// Not MNIST's shape: 8×8 images and 26 classes (EMNIST letters' count). Without --layers the
// data shapes the net, and eval, predict and --init-from take it from the model.
TEST_F(Cli, TheDataShapesTheNetForAnyImageSizeAndClassCount) {
  const auto letters = dir_->path() / "letters";
  test::write_fake_mnist(letters, 780, 520, 4, 8, 8, 26);
  const std::string d = " --data-dir " + letters.string() + " --threads 2 --lr 1 --batch-size 16";
  const std::string model = (dir_->path() / "letters.st").string();
  Result r = run("--hidden 40 --epochs 8" + d + " --save " + model);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("net 64-40-26,"), std::string::npos) << r.out;
  const std::size_t at = r.out.find("test accuracy ");
  ASSERT_NE(at, std::string::npos) << r.out;
  EXPECT_GT(std::stod(r.out.substr(at + 14)), 60.0) << r.out;  // chance is 3.8%

  Result e = run("eval --model " + model + " --data-dir " + letters.string());
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NE(e.out.find("\n   25 "), std::string::npos) << e.out;  // a row for the last class
  Result p = run("predict --model " + model + " --index 3 --data-dir " + letters.string());
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_NE(p.out.find(" 25:"), std::string::npos) << p.out;  // a score for every class

  Result again = run("--epochs 1 --init-from " + model + d);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("net 64-40-26,"), std::string::npos) << again.out;
  expect_error(run("--epochs 1 --hidden 12 --init-from " + model + d), 2, "--hidden shapes a new net");
  expect_error(run("--epochs 1 --classes 30 --init-from " + model + d), 2, "ends in 26 outputs");
  Result plain = run("--epochs 1 --hidden none" + d);
  EXPECT_NE(plain.out.find("net 64-26,"), std::string::npos) << plain.out;
  Result more = run("--epochs 1 --classes 30" + d);  // room for classes the data has not shown
  EXPECT_NE(more.out.find("net 64-112-16-30,"), std::string::npos) << more.out;

  // A resume takes the checkpoint's net and lands on the uninterrupted run's weights.
  const std::string ck = (dir_->path() / "letters_ck").string();
  Result whole = run("--hidden 40 --epochs 3" + d);
  ASSERT_EQ(run("--hidden 40 --epochs 1 --checkpoint-dir " + ck + d).exit_code, 0);
  Result resumed = run("--epochs 3 --resume " + ck + d);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(hash(resumed.out), hash(whole.out));
}

// IDX files named by role (EMNIST's names), not a folder of MNIST's: --train alone is split by
// the seed; with --test the training file trains less its last 10%; --val names the validation
// file. A resume, eval and predict find the files in the model; eval --test takes any file whole.
TEST_F(Cli, FilesByRoleTrainResumeAndEvaluate) {
  const auto em = dir_->path() / "emnist";
  test::write_fake_mnist(em, 900, 300, 5, 8, 8, 26);
  for (const auto& [from, to] : {std::pair{"train-images-idx3-ubyte", "letters-train-images-idx3-ubyte"},
                                 {"train-labels-idx1-ubyte", "letters-train-labels-idx1-ubyte"},
                                 {"t10k-images-idx3-ubyte", "letters-test-images-idx3-ubyte"},
                                 {"t10k-labels-idx1-ubyte", "letters-test-labels-idx1-ubyte"}})
    std::filesystem::rename(em / from, em / to);
  const std::string train = (em / "letters-train-images-idx3-ubyte").string();
  const std::string test = (em / "letters-test-images-idx3-ubyte").string();
  const std::string recipe = " --hidden 40 --lr 1 --batch-size 16 --threads 2";
  const std::string both = " --train " + train + " --test " + test + recipe;

  Result r = run("--epochs 4" + both);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(train + " (train), " + test +
                       " (test): 1200 images of 64 pixels; split standard: train 810, "
                       "validation 90, test 300"),
            std::string::npos)
      << r.out;
  Result alone = run("--epochs 1 --train " + train + recipe);
  EXPECT_NE(alone.out.find("split seed: train 630, validation 90, test 180"), std::string::npos) << alone.out;
  Result val = run("--epochs 1 --val " + test + both);
  EXPECT_NE(val.out.find("split standard: train 900, validation 300, test 300"), std::string::npos) << val.out;

  const std::string ck = (dir_->path() / "em_ck").string(), model = (dir_->path() / "em.st").string();
  ASSERT_EQ(run("--epochs 2 --checkpoint-dir " + ck + both).exit_code, 0);
  Result resumed = run("--epochs 4 --threads 1 --resume " + ck + " --save " + model);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(hash(resumed.out), hash(r.out));

  Result e = run("eval --model " + model);
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NE(e.out.find("split standard of " + train + " (train), " + test + " (test), 300 test images"),
            std::string::npos)
      << e.out;
  Result whole = run("eval --model " + model + " --test " + train);
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  EXPECT_NE(whole.out.find("whole file of " + train + ", 900 test images"), std::string::npos) << whole.out;
  EXPECT_EQ(run("predict --model " + model + " --index 299").exit_code, 0);

  expect_error(run("--test " + test + recipe), 2, "--test needs --train FILE");
  expect_error(run("--val " + test + both.substr(0, both.find(" --test"))), 2, "--val needs --test too");
  expect_error(run("--data-dir " + em.string() + both), 2, "--train and --data-dir contradict");
  expect_error(run("--split seed" + both), 2, "--split applies to --data-dir");
  expect_error(run("--val-size 5 --val " + test + both), 2, "--val-size and --val contradict");
  expect_error(run("eval --model " + model + " --test " + test + " --seed 3"), 2, "--test evaluates a whole file");
  std::filesystem::copy_file(em / "letters-test-images-idx3-ubyte", em / "holdout.idx");
  expect_error(run("--train " + (em / "holdout.idx").string() + recipe), 1, "no labels file can be named after it");
  std::filesystem::copy_file(em / "letters-test-images-idx3-ubyte", em / "other-images-idx3-ubyte");
  expect_error(run("--train " + (em / "other-images-idx3-ubyte").string() + recipe), 1, "other-labels-idx1-ubyte");
  expect_error(run("--epochs 1 --save " + train + both), 1, train);  // an output that is an input
}

// IDX float32 rows (13 features, 3 classes, as in a tabular set): trained, evaluated and
// predicted through the float path; a byte model and a float file (or a PGM) do not mix.
TEST_F(Cli, FloatFeatureRowsFromIdxFloat32Files) {
  const auto tab = dir_->path() / "tabular";
  test::write_float_rows_set(tab, "wine", 300, 90, 13, 3, 8);
  const std::string train = (tab / "wine-train-images").string(), test = (tab / "wine-test-images").string();
  const std::string model = (dir_->path() / "wine.st").string();
  Result r = run("--train " + train + " --test " + test +
                 " --hidden 20 --epochs 10 --lr 0.5 --batch-size 8 --threads 2"
                 " --save " +
                 model);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("390 examples of 13 features"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("net 13-20-3,"), std::string::npos) << r.out;
  const std::size_t at = r.out.find("test accuracy ");
  ASSERT_NE(at, std::string::npos);
  EXPECT_GT(std::stod(r.out.substr(at + 14)), 90.0) << r.out;  // separable prototypes; chance is 33%
  Result e = run("eval --model " + model + " --test " + test);
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NE(e.out.find(r.out.substr(at + 14, 6)), std::string::npos) << "eval gives training's accuracy: " << e.out;
  Result p = run("predict --model " + model + " --input " + test);
  EXPECT_EQ(std::count(p.out.begin(), p.out.end(), '\n'), 91) << p.err;
  EXPECT_EQ(run("predict --model " + model + " --index 5").exit_code, 0);

  const std::string byte_model = (dir_->path() / "bytes.st").string();
  ASSERT_EQ(run(base() + " --epochs 1 --save " + byte_model).exit_code, 0);
  expect_error(run("predict --model " + byte_model + " --input " + test), 1, "holds float32 values but");
  test::write_file(dir_->path() / "x.pgm", {'P', '5', ' ', '1', ' ', '1', ' ', '2', '5', '5', '\n', 0});
  expect_error(run("predict --model " + model + " " + (dir_->path() / "x.pgm").string()), 1, "holds bytes but");
  expect_error(run("--test " + test + " --train " + (data() / "train-images-idx3-ubyte").string()), 1,
               "every file must hold one kind");
}

// --standardize: each feature's mean and 1/sd from the training rows (the training file
// whole, with --val), kept in the model; eval, predict and a resume apply the same transform.
TEST_F(Cli, StandardizedFeaturesTravelWithTheModel) {
  const auto tab = dir_->path() / "tabular_std";
  test::write_float_rows_set(tab, "wine", 200, 60, 13, 3, 9);
  const std::string train = (tab / "wine-train-images").string(), test = (tab / "wine-test-images").string();
  for (const std::string& f : {train, test}) {  // features far from 0, as raw measurements are
    AlignedVector<std::uint8_t> unused;
    AlignedVector<float> v;
    const IdxInputs shape = append_idx_inputs(f, unused, v);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = v[i] * 30.0f + 40.0f + static_cast<float>(i % 13);
    test::write_file(f, test::idx_bytes(0x0D02, {shape.count, 13}, test::float_bytes(v)));
  }
  const std::string files = " --train " + train + " --test " + test + " --val " + test;
  const std::string recipe = " --hidden 20 --lr 0.5 --batch-size 8 --threads 2 --standardize";
  const std::string model = (dir_->path() / "std.st").string();
  Result r = run("--epochs 6" + files + recipe + " --save " + model);
  ASSERT_EQ(r.exit_code, 0) << r.err;

  AlignedVector<std::uint8_t> unused;
  AlignedVector<float> x;
  append_idx_inputs(train, unused, x);
  const ModelFile m = load_model_file(model);
  ASSERT_TRUE(m.metadata.count("input_shift") && m.metadata.count("input_factor"));
  const std::vector<double> shift = numbers(m.metadata.at("input_shift")),
                            factor = numbers(m.metadata.at("input_factor"));
  ASSERT_EQ(shift.size(), 13u);
  for (int i = 0; i < 13; ++i) {  // two passes in double, by hand
    double mean = 0, var = 0;
    for (int e = 0; e < 200; ++e) mean += x[e * 13 + i] / 200.0;
    for (int e = 0; e < 200; ++e) var += (x[e * 13 + i] - mean) * (x[e * 13 + i] - mean) / 200.0;
    EXPECT_NEAR(shift[i], mean, 1e-6 * (1 + std::abs(mean))) << "feature " << i;
    EXPECT_NEAR(factor[i], 1 / std::sqrt(var), 1e-5 / std::sqrt(var)) << "feature " << i;
  }
  const std::size_t at = r.out.find("test accuracy ");
  ASSERT_NE(at, std::string::npos);
  Result e = run("eval --model " + model + " --test " + test);
  EXPECT_NE(e.out.find("test accuracy " + r.out.substr(at + 14, 6)), std::string::npos) << e.out << r.out;

  const std::string ck = (dir_->path() / "std_ck").string();
  ASSERT_EQ(run("--epochs 3 --checkpoint-dir " + ck + files + recipe).exit_code, 0);
  Result resumed = run("--epochs 6 --resume " + ck);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(resumed.out.substr(resumed.out.find("weights_hash"), 29), r.out.substr(r.out.find("weights_hash"), 29));

  // One layer (13-3, sigmoid outputs), by hand from the model's weights and transform:
  // predict --input must feed the net the transformed features.
  const std::string linear = (dir_->path() / "linear.st").string();
  ASSERT_EQ(
      run("--epochs 2 --hidden none --save " + linear + files + " --lr 0.5 --batch-size 8 --standardize").exit_code, 0);
  const ModelFile lm = load_model_file(linear);
  const std::vector<double> lshift = numbers(lm.metadata.at("input_shift"));
  const std::vector<double> lfactor = numbers(lm.metadata.at("input_factor"));
  AlignedVector<std::uint8_t> unused_test;
  AlignedVector<float> xt;
  append_idx_inputs(test, unused_test, xt);
  Result csv = run("predict --model " + linear + " --input " + test);
  std::stringstream lines(csv.out);
  std::string line;
  std::getline(lines, line);  // the header
  for (int e = 0; e < 60 && std::getline(lines, line); ++e) {
    const std::vector<double> v = numbers(line);
    for (int j = 0; j < 3; ++j) {
      double z = lm.params[3 * 13 + j];  // weights [3][13], then the biases
      for (int i = 0; i < 13; ++i) {
        const float xi = (xt[e * 13 + i] - static_cast<float>(lshift[i])) * static_cast<float>(lfactor[i]);
        z += lm.params[j * 13 + i] * xi;
      }
      EXPECT_NEAR(v[2 + j], 1 / (1 + std::exp(-z)), 2e-5) << "example " << e << " class " << j;
    }
  }

  // The test set's first example through predict --index (eval's way of reading data).
  Result one = run("predict --model " + linear + " --index 0");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  for (int j = 0; j < 3; ++j) {
    double z = lm.params[3 * 13 + j];
    for (int i = 0; i < 13; ++i)
      z += lm.params[j * 13 + i] * ((xt[i] - static_cast<float>(lshift[i])) * static_cast<float>(lfactor[i]));
    const std::size_t at_score = one.out.find(" " + std::to_string(j) + ":");
    ASSERT_NE(at_score, std::string::npos) << one.out;
    EXPECT_NEAR(std::stod(one.out.substr(at_score + 3)), 1 / (1 + std::exp(-z)), 1e-4) << one.out;
  }

  Result scaled = run("--epochs 1 --scale 2 --save " + (dir_->path() / "scaled.st").string() + files +
                      " --hidden 20 --batch-size 8");
  ASSERT_EQ(scaled.exit_code, 0) << scaled.err;
  EXPECT_EQ(load_model_file((dir_->path() / "scaled.st").string()).metadata.at("input_factor").substr(0, 4), "2,2,");
  expect_error(run(base() + " --epochs 1 --standardize"), 2, "apply to float features");
  expect_error(run("--epochs 1 --standardize --scale 2" + files), 2, "contradict");
}

// NumPy files by role: x_train.npy with y_train.npy beside it (x → y), float32 features and
// int64 labels; trained with --standardize, evaluated, predicted, resumed.
TEST_F(Cli, TrainsOnNumpyFiles) {
  const auto np = dir_->path() / "numpy";
  test::write_npy_set(np, 240, 60, 10, 4, 12);
  const std::string train = (np / "x_train.npy").string(), test = (np / "x_test.npy").string();
  const std::string model = (dir_->path() / "np.st").string();
  const std::string args =
      " --train " + train + " --test " + test + " --hidden 16 --lr 0.5 --batch-size 8 --standardize";
  Result r = run("--epochs 8" + args + " --save " + model);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("net 10-16-4,"), std::string::npos) << r.out;
  const std::size_t at = r.out.find("test accuracy ");
  ASSERT_NE(at, std::string::npos);
  EXPECT_GT(std::stod(r.out.substr(at + 14)), 90.0) << r.out;  // chance is 25%
  Result e = run("eval --model " + model + " --test " + test);
  EXPECT_NE(e.out.find("test accuracy " + r.out.substr(at + 14, 6)), std::string::npos) << e.out;
  Result p = run("predict --model " + model + " --input " + test);
  EXPECT_EQ(std::count(p.out.begin(), p.out.end(), '\n'), 61) << p.err;
  const std::string ck = (dir_->path() / "np_ck").string();
  ASSERT_EQ(run("--epochs 4 --checkpoint-dir " + ck + args).exit_code, 0);
  Result resumed = run("--epochs 8 --resume " + ck);
  EXPECT_EQ(resumed.out.substr(resumed.out.find("weights_hash"), 29), r.out.substr(r.out.find("weights_hash"), 29));
  std::filesystem::remove(np / "y_test.npy");
  expect_error(run("--epochs 1" + args), 1, "y_test.npy");
}

// The same examples as .npy files, one .npz (stored or deflated), a CSV and a gzipped CSV: the
// same weights, bit for bit, whatever the file's format.
TEST_F(Cli, EveryFormatOfTheSameExamplesTrainsTheSameWeights) {
  const auto d = dir_->path() / "formats";
  test::write_npy_set(d, 240, 60, 10, 4, 12);
  test::write_npz_set(d / "stored.npz", 240, 60, 10, 4, 12, false);
  test::write_npz_set(d / "deflated.npz", 240, 60, 10, 4, 12, true);
  test::write_csv_set(d, "set", 240, 60, 10, 4, 12);
  const std::string csv_text = slurp(d / "set-train.csv");
  gzFile gz = gzopen((d / "set-train.csv.gz").c_str(), "wb");
  gzwrite(gz, csv_text.data(), static_cast<unsigned>(csv_text.size()));
  gzclose(gz);
  const std::string recipe = " --epochs 3 --hidden 16 --lr 0.5 --batch-size 8 --standardize --threads 2";
  Result npy = run("--train " + (d / "x_train.npy").string() + " --test " + (d / "x_test.npy").string() + recipe);
  ASSERT_EQ(npy.exit_code, 0) << npy.err;
  for (const std::string& args :
       {"--train " + (d / "stored.npz").string() + " --test " + (d / "stored.npz").string(),
        "--train " + (d / "deflated.npz").string() + " --test " + (d / "deflated.npz").string(),
        "--train " + (d / "set-train.csv").string() + " --test " + (d / "set-test.csv").string(),
        "--train " + (d / "set-train.csv.gz").string() + " --test " + (d / "set-test.csv").string()}) {
    Result r = run(args + recipe);
    ASSERT_EQ(r.exit_code, 0) << args << "\n" << r.err;
    EXPECT_EQ(hash(r.out), hash(npy.out)) << args;
    const auto counts = [](const std::string& out) {  // "N examples of F features; split …: train …, test T"
      const std::size_t at = out.find("examples of");
      return at == std::string::npos ? out : out.substr(at, out.find('\n', at) - at);
    };
    EXPECT_EQ(counts(r.out), counts(npy.out)) << args;
    EXPECT_EQ(r.out.substr(r.out.find("test accuracy"), 20), npy.out.substr(npy.out.find("test accuracy"), 20)) << args;
  }
  // --npz-keys names other arrays, "{role}" standing for the role.
  test::write_npz(d / "named.npz", {{"z", test::npy_bytes("<f4", "(1, 1)", test::le_bytes(std::vector<float>{1}))}},
                  false);
  expect_error(run("--train " + (d / "named.npz").string() + recipe), 1,
               "no x_train/y_train (or x/y) arrays for the train role; it has z");
  expect_error(run("--train " + (d / "stored.npz").string() + " --npz-keys a_{role},b_{role}" + recipe), 1,
               "has no array 'a_train' (named by --npz-keys)");
  expect_error(run("--train " + (d / "stored.npz").string() + " --npz-keys x_train" + recipe), 2,
               "--npz-keys 'x_train': expected two array names");
}

// Labels that are names: classes in sorted order, kept in the model; eval and predict speak
// the names; a resume and any thread count give the same weights; an unknown name is refused.
TEST_F(Cli, TrainsEvaluatesResumesAndPredictsOnACsvWithNamedLabels) {
  const auto d = dir_->path() / "named";
  const std::vector<std::string> names{"ant", "bee", "cat", "dog"};  // sorted: class c is names[c]
  test::write_csv_set(d, "pets", 240, 60, 10, 4, 12, names);
  test::write_npy_set(d, 240, 60, 10, 4, 12);
  const std::string train = (d / "pets-train.csv").string(), test = (d / "pets-test.csv").string();
  const std::string model = (d / "m.st").string(), args = " --train " + train + " --test " + test +
                                                          " --hidden 16 --lr 0.5 --batch-size 8 --standardize";
  Result r = run("--epochs 6 --threads 1 --save " + model + args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\nclasses 0 ant, 1 bee, 2 cat, 3 dog\n"), std::string::npos) << r.out;
  Result npy = run("--epochs 6 --threads 1 --train " + (d / "x_train.npy").string() + " --test " +
                   (d / "x_test.npy").string() + " --hidden 16 --lr 0.5 --batch-size 8 --standardize");
  EXPECT_EQ(hash(r.out), hash(npy.out)) << "names in sorted order number the classes as the numbers do";
  EXPECT_EQ(hash(run("--epochs 6 --threads 3" + args).out), hash(r.out));
  const std::string ck = (d / "ck").string();
  ASSERT_EQ(run("--epochs 3 --checkpoint-dir " + ck + args).exit_code, 0);
  EXPECT_EQ(hash(run("--epochs 6 --resume " + ck).out), hash(r.out));

  const std::size_t at = r.out.find("test accuracy ");
  ASSERT_NE(at, std::string::npos);
  const std::string accuracy = r.out.substr(at + 14, 6);
  Result e = run("eval --model " + model);
  EXPECT_NE(e.out.find("test accuracy " + accuracy), std::string::npos) << e.out;
  EXPECT_NE(e.out.find("  dog\n"), std::string::npos) << e.out;
  // predict on the test file: its label column skipped, the classes' names out; as many right
  // as eval counts.
  Result p = run("predict --model " + model + " --input " + test);
  ASSERT_EQ(p.exit_code, 0) << p.err;
  std::istringstream rows(p.out), truth(slurp(test));
  std::string row, want;
  std::getline(rows, row);
  std::getline(truth, want);
  int right = 0, total = 0;
  while (std::getline(rows, row) && std::getline(truth, want)) {
    const std::string guess = row.substr(row.find(',') + 1, 3);
    EXPECT_NE(std::find(names.begin(), names.end(), guess), names.end()) << row;
    right += guess == want.substr(want.rfind(',') + 1);
    ++total;
  }
  EXPECT_EQ(total, 60);
  char counted[16];
  std::snprintf(counted, sizeof counted, "%.2f", 100.0 * right / total);
  EXPECT_EQ(accuracy.substr(0, accuracy.find('%')), counted);

  std::string odd = slurp(test);
  odd.replace(odd.rfind(',') + 1, 3, "eel");
  std::ofstream(d / "odd.csv") << odd;
  expect_error(run("eval --model " + model + " --test " + (d / "odd.csv").string()), 1,
               "odd.csv: line 61: label 'eel' is not one of the classes (ant, bee, cat, dog)");
  expect_error(run("--epochs 1 --classes 5" + args), 2, "--classes is 5 but the labels of");
  expect_error(run("--epochs 1 --header maybe" + args), 2, "--header 'maybe': expected auto, yes or no");
  expect_error(run("--epochs 1 --label-column kind" + args), 1, "--label-column 'kind': not in the header row");
}

// How the files were read travels with the model: eval and predict read the model's CSV files,
// and others, with the label column and header the training run was told, unless told again.
TEST_F(Cli, TheLabelColumnAndHeaderTravelWithTheModel) {
  const auto d = dir_->path() / "first";
  test::write_csv_set(d, "set", 200, 50, 6, 3, 9);
  for (const char* role : {"train", "test"}) {  // label first, no header
    std::istringstream in(slurp(d / ("set-" + std::string(role) + ".csv")));
    std::ofstream out(d / ("first-" + std::string(role) + ".csv"));
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line))
      out << line.substr(line.rfind(',') + 1) << "," << line.substr(0, line.rfind(',')) << "\n";
  }
  const std::string train = (d / "first-train.csv").string(), test = (d / "first-test.csv").string();
  const std::string model = (d / "m.st").string();
  const std::string recipe = " --hidden 8 --lr 0.5 --batch-size 8 --standardize --epochs 4";
  Result r = run("--train " + train + " --test " + test + " --label-column first --header no --save " + model + recipe);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Result same = run("--train " + (d / "set-train.csv").string() + " --test " + (d / "set-test.csv").string() + recipe);
  EXPECT_EQ(hash(r.out), hash(same.out)) << "the same examples, the label column moved";
  const std::string accuracy = r.out.substr(r.out.find("test accuracy"), 20);
  EXPECT_NE(run("eval --model " + model).out.find(accuracy), std::string::npos);
  EXPECT_NE(run("eval --model " + model + " --test " + test).out.find(accuracy), std::string::npos);
  // Told otherwise, the label column is the last: a feature column of decimals, not classes.
  expect_error(run("eval --model " + model + " --test " + test + " --label-column last"), 1,
               "is not a whole number from 0 to 255");
  Result p = run("predict --model " + model + " --input " + test);
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_EQ(std::count(p.out.begin(), p.out.end(), '\n'), 51);
}

TEST_F(Cli, HelpAndVersion) {
  Result h = run("--help");
  EXPECT_EQ(h.exit_code, 0);
  for (const char* opt : {"--threads", "--epochs", "--batch-size", "--lr", "--seed", "--layers", "--split",
                          "--val-size", "--data-dir", "--engine", "--preset", "--metrics", "--version"})
    EXPECT_NE(h.out.find(opt), std::string::npos) << opt;
  EXPECT_EQ(run("--version").exit_code, 0);
}

TEST_F(Cli, MissingOrMalformedDataIsExit1WithOneLine) {
  expect_error(run("--data-dir " + (dir_->path() / "nowhere").string()), 1, "not found");
  auto bad = dir_->path() / "bad";
  test::write_fake_mnist(bad, 20, 10, 1);
  test::write_file(bad / "train-labels-idx1-ubyte", test::idx_bytes(2051, {20}, std::vector<std::uint8_t>(20)));
  expect_error(run("--data-dir " + bad.string()), 1, "train-labels-idx1-ubyte: wrong magic number");
  test::write_file(bad / "train-labels-idx1-ubyte", test::idx_bytes(2049, {20}, std::vector<std::uint8_t>(20, 12)));
  expect_error(run("--classes 10 --data-dir " + bad.string()), 2, "train-labels-idx1-ubyte: label 12 at index 0");
  test::write_file(bad / "train-labels-idx1-ubyte", test::idx_bytes(2049, {20}, std::vector<std::uint8_t>(20, 0)));
  test::write_file(bad / "t10k-labels-idx1-ubyte", test::idx_bytes(2049, {10}, std::vector<std::uint8_t>(10, 0)));
  expect_error(run("--data-dir " + bad.string()), 1, "every label is 0");
}

TEST_F(Cli, BadOptionsAreExit2WithOneLine) {
  const std::string d = " --data-dir " + data().string();
  expect_error(run("--threads 0" + d), 2, "--threads 0");
  expect_error(run("--threads -4" + d), 2, "--threads -4");
  expect_error(run("--threads many" + d), 2, "--threads 'many'");
  expect_error(run("--batch-size 0" + d), 2, "--batch-size 0");
  expect_error(run("--batch-size -3" + d), 2, "--batch-size -3");
  expect_error(run("--batch-size x" + d), 2, "--batch-size 'x'");
  expect_error(run("--layers 784,0,10" + d), 2, "size 0 must be between 1");
  expect_error(run("--layers 784,-5,10" + d), 2, "size -5 must be between 1");
  expect_error(run("--epochs 2.5" + d), 2, "--epochs '2.5'");
  expect_error(run("--epochs -1" + d), 2, "--epochs -1");
  expect_error(run("--lr -0.5" + d), 2, "--lr -0.5");
  expect_error(run("--lr nan" + d), 2, "--lr nan");
  expect_error(run("--lr inf" + d), 2, "--lr inf");
  expect_error(run("--layers 784,,10" + d), 2, "empty item");
  expect_error(run("--layers 784,112,9" + d), 2, "is outside 0-8, the classes of --layers (9 outputs)");
  expect_error(run("--classes 9" + d), 2, "is outside 0-8, the classes of --classes 9");
  expect_error(run("--classes 1" + d), 2, "--classes 1");
  expect_error(run("--classes 300" + d), 2, "--classes 300");
  expect_error(run("--layers 784,112,10 --classes 12" + d), 2, "--layers ends in 10 outputs but --classes is 12");
  expect_error(run("--layers 784,112,10 --hidden 30" + d), 2, "--layers and --hidden contradict");
  expect_error(run("--hidden 30,,4" + d), 2, "--hidden '30,,4': empty item");
  expect_error(run("--layers 784,x,10" + d), 2, "'x' is not a whole number");
  expect_error(run("--layers 10" + d), 2, "at least two sizes");
  expect_error(run("--layers 100,10" + d), 2, "784 pixels");
  expect_error(run("--engine gpu" + d), 2, "--engine 'gpu'");
  expect_error(run("--activation swish" + d), 2, "--activation 'swish'");
  expect_error(run("--loss hinge" + d), 2, "--loss 'hinge'");
  expect_error(run("--init zeros" + d), 2, "--init 'zeros'");
  expect_error(run("--momentum 1" + d), 2, "--momentum 1: must be a number from 0");
  expect_error(run("--momentum -0.1" + d), 2, "--momentum -0.1");
  expect_error(run("--optimizer rmsprop" + d), 2, "--optimizer 'rmsprop': expected sgd, adam or adamw");
  expect_error(run("--optimizer adam --beta1 1" + d), 2, "--beta1 1: must be a number from 0 up to (not including) 1");
  expect_error(run("--optimizer adamw --beta2 -0.5" + d), 2, "--beta2 -0.5: must be a number from 0");
  expect_error(run("--optimizer adam --eps 0" + d), 2, "--eps 0: must be a finite positive number");
  expect_error(run("--weight-decay -0.01" + d), 2, "--weight-decay -0.01: must be a number from 0 to 1e6");
  expect_error(run("--optimizer adam --momentum 0.9" + d), 2, "--momentum applies to --optimizer sgd");
  expect_error(run("--beta1 0.8" + d), 2, "--beta1 applies to --optimizer adam or adamw");
  expect_error(run("--step-size 3" + d), 2, "--step-size applies to --lr-decay step");
  expect_error(run("--lr-decay step --gamma 1.5" + d), 2, "--gamma 1.5: must be a number in (0, 1]");
  expect_error(run("--lr-decay step --step-size 0" + d), 2, "--step-size 0: must be between 1");
  expect_error(run("--warmup-epochs 2 --epochs 2" + d), 2, "--warmup-epochs 2 leaves no epochs after the warm-up");
  expect_error(run("--early-stop 0" + d), 2, "--early-stop 0: the patience must be at least 1 epoch");
  expect_error(run("--early-stop -2" + d), 2, "--early-stop -2: must be between 0");
  expect_error(run("--early-stop 3 --min-delta -1" + d), 2, "--min-delta -1: must be a number from 0");
  expect_error(run(d + " --save-best \"\""), 2, "--save-best: an empty path");
  expect_error(run("--lr-decay linear" + d), 2,
               "--lr-decay 'linear': expected none, cosine, step, invscaling or adaptive");
  expect_error(run("--split random" + d), 2, "--split 'random'");
  expect_error(run("--preset fast" + d), 2, "--preset 'fast'");
  expect_error(run("--val-size 10" + d), 2, "--val-size applies only to --split standard");
  expect_error(run("--split standard --val-size 400" + d), 2, "leaves no training images");
  expect_error(run("--seed -1" + d), 2, "--seed -1");
  expect_error(run("--bogus" + d), 2, "bogus");
  expect_error(run("--threads" + d.substr(0, 0)), 2, "threads");
  expect_error(run("--metrics " + (dir_->path() / "no" / "such" / "dir.jsonl").string() + d), 1, "--metrics");
}

}  // namespace
}  // namespace ptrain
