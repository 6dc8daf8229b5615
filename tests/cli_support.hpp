#pragma once
// Running the ptrain program from tests, on a fake MNIST folder shared by a test suite.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support.hpp"

namespace ptrain::test {

struct Result {
  int exit_code;
  std::string out, err;
};

std::string slurp(const std::filesystem::path& p);
// "1.5,2,-3" as numbers (a CSV row).
std::vector<double> numbers(const std::string& text);

// Exit `code` with exactly one line on stderr containing `fragment`.
void expect_error(const Result& r, int code, const std::string& fragment);

std::vector<nlohmann::json> read_metrics(const std::filesystem::path& p);

class CliTest : public ::testing::Test {
 public:
  static constexpr int kEpochs = 5;  // enough passes over the 400 fake images to learn them

 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  static std::filesystem::path data() { return dir_->path() / "mnist"; }
  static std::filesystem::path dir() { return dir_->path(); }

  // `ptrain ARGS`, after the shell words in `prefix` (e.g. "ulimit -f 64;"); another build of
  // the program when `binary` names one.
  Result run(const std::string& args, const std::string& prefix = "", const std::string& binary = PTRAIN_BINARY);
  // The fake data in batches of 16 (22 steps an epoch), and a path in the suite's folder.
  static std::string base() { return "--data-dir " + data().string() + " --batch-size 16"; }
  static std::string path(const std::string& name) { return (dir() / name).string(); }
  std::string train_args() {
    return "--data-dir " + data().string() + " --epochs " + std::to_string(kEpochs) + " --batch-size 16";
  }

  static TempDir* dir_;
};

}  // namespace ptrain::test
