// ptrain eval and ptrain predict on saved models, as a user runs them: eval reports the training
// run's own test accuracy and a consistent confusion matrix; predict agrees on a test index and
// the same image as P5 and P2 files, refuses images of another shape, and writes a whole
// file's predictions as CSV that agree with eval on that file.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "cli_support.hpp"
#include "ptrain/io/dataset.hpp"
#include "ptrain/io/idx.hpp"

namespace ptrain {
namespace {

using test::expect_error;
using test::numbers;
using test::read_metrics;
using test::Result;
using test::slurp;
using EvalPredict = test::CliTest;

TEST_F(EvalPredict, EvalReportsTheTrainingRunsTestAccuracy) {
  const std::string model = path("eval.safetensors"), train_metrics = path("train.jsonl"),
                    eval_json = path("eval.json");
  ASSERT_EQ(run(train_args() + " --save " + model + " --metrics " + train_metrics).exit_code, 0);
  Result r = run("eval --model " + model + " --data-dir " + data().string() + " --metrics " + eval_json);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json e = nlohmann::json::parse(slurp(eval_json));
  EXPECT_EQ(e["test_accuracy"].get<double>(), read_metrics(train_metrics).back()["test_accuracy"].get<double>());
  ASSERT_EQ(e["per_class_accuracy"].size(), 10u);
  ASSERT_EQ(e["confusion_matrix"].size(), 10u);
  std::uint64_t total = 0, diagonal = 0;
  for (int i = 0; i < 10; ++i)
    for (int j = 0; j < 10; ++j) {
      total += e["confusion_matrix"][i][j].get<std::uint64_t>();
      if (i == j) diagonal += e["confusion_matrix"][i][j].get<std::uint64_t>();
    }
  EXPECT_EQ(total, 100u) << "the seed split tests on 20% of the 500 images";
  EXPECT_DOUBLE_EQ(e["test_accuracy"].get<double>(), 100.0 * diagonal / total);
  EXPECT_NE(r.out.find("confusion matrix"), std::string::npos);
}

TEST_F(EvalPredict, PredictAnIndexOrAPgmFileAlike) {
  const std::string model = path("predict.safetensors");
  ASSERT_EQ(run(train_args() + " --save " + model).exit_code, 0);
  Result by_index = run("predict --model " + model + " --data-dir " + data().string() + " --index 3");
  ASSERT_EQ(by_index.exit_code, 0) << by_index.err;
  EXPECT_NE(by_index.out.find("predicted "), std::string::npos);
  EXPECT_NE(by_index.out.find("(label "), std::string::npos);
  EXPECT_NE(by_index.out.find("|"), std::string::npos) << "the image is drawn";

  // The same test image as PGM files, plain and raw.
  MnistData mnist = load_mnist(data().string(), 10);
  const std::uint8_t* px = mnist.all.image(seed_split(mnist.all.size(), 42).test[3]);
  std::ofstream p5(path("img5.pgm"), std::ios::binary), p2(path("img2.pgm"));
  p5 << "P5\n# a comment\n28 28\n255\n";
  p5.write(reinterpret_cast<const char*>(px), 784);
  p5.close();
  p2 << "P2\n28 28\n255\n";
  for (int i = 0; i < 784; ++i) p2 << int(px[i]) << (i % 28 == 27 ? '\n' : ' ');
  p2.close();
  auto scores = [](const std::string& out) { return out.substr(out.find("scores")); };
  for (const char* file : {"img5.pgm", "img2.pgm"}) {
    Result r = run("predict --model " + model + " " + path(file));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(scores(r.out), scores(by_index.out)) << file;
  }
  test::write_file(path("small.pgm"), {'P', '5', ' ', '2', ' ', '2', ' ', '2', '5', '5', ' ', 1, 2, 3, 4});
  expect_error(run("predict --model " + model + " " + path("small.pgm")), 1, "trained on 28x28 images");
  // 784 pixels, but not 28 rows of 28.
  std::vector<std::uint8_t> wide{'P', '5', ' ', '5', '6', ' ', '1', '4', ' ', '2', '5', '5', ' '};
  wide.resize(wide.size() + 784, 7);
  test::write_file(path("wide.pgm"), wide);
  expect_error(run("predict --model " + model + " " + path("wide.pgm")), 1, "a 56x14 image");
  test::write_file(path("junk.pgm"), {'G', 'I', 'F', '8'});
  expect_error(run("predict --model " + model + " " + path("junk.pgm")), 1, "not a PGM image");
  expect_error(run("predict --model " + model), 2, "exactly one of");
}

// predict --input: every image of an IDX file, one CSV row each. Its predictions agree with
// eval --test's accuracy on the same file, each row's class is its largest score, and the CSV
// goes to --output whole or not at all.
TEST_F(EvalPredict, PredictsAWholeFileToCsv) {
  const std::string model = (dir() / "p.st").string(), csv = (dir() / "p.csv").string();
  ASSERT_EQ(run(base() + " --epochs 2 --save " + model).exit_code, 0);
  const std::string images = (data() / "t10k-images-idx3-ubyte").string();
  Result r = run("predict --model " + model + " --input " + images + " --output " + csv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("predicted 100 images of " + images + " into " + csv), std::string::npos) << r.out;
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "index,predicted,score_0,score_1,score_2,score_3,score_4,score_5,score_6,score_7,score_8,score_9");
  const std::vector<std::uint8_t> labels = read_idx_labels((data() / "t10k-labels-idx1-ubyte").string(), 10);
  std::size_t rows = 0, correct = 0;
  while (std::getline(in, line)) {
    const std::vector<double> v = numbers(line);
    ASSERT_EQ(v.size(), 12u) << line;
    EXPECT_EQ(v[0], static_cast<double>(rows));
    EXPECT_EQ(v[1], static_cast<double>(std::max_element(v.begin() + 2, v.end()) - (v.begin() + 2))) << line;
    correct += v[1] == labels[rows];
    ++rows;
  }
  EXPECT_EQ(rows, 100u);
  Result e = run("eval --model " + model + " --test " + images);
  ASSERT_EQ(e.exit_code, 0) << e.err;
  std::string counted = "(";  // appended, not prepended: GCC 12 warns falsely on "(" + string
  counted += std::to_string(correct) + "/100)";
  EXPECT_NE(e.out.find(counted), std::string::npos) << e.out;
  Result to_stdout = run("predict --model " + model + " --input " + images + " --threads 1");
  EXPECT_EQ(std::count(to_stdout.out.begin(), to_stdout.out.end(), '\n'), 101);

  expect_error(run("predict --model " + model + " --input " + images + " --output " + model), 1, "--output");
  expect_error(
      run("predict --model " + model + " --input " + images + " --output " + (dir() / "no" / "p.csv").string()), 1,
      "--output");
  expect_error(run("predict --model " + model + " --index 3 --input " + images), 2, "exactly one of");
  expect_error(run("predict --model " + model + " --index 3 --output " + csv), 2, "--output goes with --input");
  expect_error(run("predict --model " + model + " --input " + (data() / "t10k-labels-idx1-ubyte").string()), 1,
               "t10k-labels-idx1-ubyte");
}

}  // namespace
}  // namespace ptrain
