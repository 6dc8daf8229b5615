#include "cli_support.hpp"

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace ptrain::test {

TempDir* CliTest::dir_ = nullptr;

std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::vector<double> numbers(const std::string& text) {
  std::vector<double> out;
  std::stringstream items(text);
  std::string item;
  while (std::getline(items, item, ',')) out.push_back(std::stod(item));
  return out;
}

void expect_error(const Result& r, int code, const std::string& fragment) {
  EXPECT_EQ(r.exit_code, code) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "stderr: " << r.err;
  EXPECT_NE(r.err.find(fragment), std::string::npos) << "stderr: " << r.err;
}

std::vector<nlohmann::json> read_metrics(const std::filesystem::path& p) {
  std::vector<nlohmann::json> lines;
  std::ifstream f(p);
  for (std::string line; std::getline(f, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

void CliTest::SetUpTestSuite() {
  dir_ = new TempDir;
  write_fake_mnist(data(), 400, 100, 5);
}

void CliTest::TearDownTestSuite() {
  delete dir_;
  dir_ = nullptr;
}

Result CliTest::run(const std::string& args, const std::string& prefix, const std::string& binary) {
  auto out = dir() / "stdout", err = dir() / "stderr";
  // PTRAIN_TEST_BINARY runs the tests against another build (an older one, to see them fail).
  const char* other = std::getenv("PTRAIN_TEST_BINARY");
  const std::string program = other && binary == PTRAIN_BINARY ? other : binary;
  const std::string cmd =
      prefix + " " + program + " " + args + " >" + out.string() + " 2>" + err.string() + " </dev/null";
  const int status = std::system(("/bin/sh -c '" + cmd + "'").c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
}

}  // namespace ptrain::test
