// Faults while training: a diverging run, SIGINT and SIGTERM. Each stops with one clear line
// and the right exit code, never leaves non-finite weights in a file, keeps the last good
// checkpoint, and (with a checkpoint folder) resumes to bitwise the same weights.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "cli_support.hpp"
#include "ptrain/io/model_file.hpp"

namespace ptrain {
namespace {

using test::expect_error;
using test::read_metrics;
using test::Result;
using test::slurp;

using Faults = test::CliTest;

TEST_F(Faults, ADivergingRunNamesEpochAndStepAndWritesNoModelOrCheckpoint) {
  const std::string ck = path("diverge-ck"), model = path("diverged.safetensors");
  // An lr float32 holds (1e300 is refused up front) that still overflows the weights.
  Result r = run(base() + " --epochs 3 --activation relu --lr 1e30 --checkpoint-dir " + ck + " --save " + model);
  expect_error(r, 1, "training diverged in epoch 1 at step");
  EXPECT_NE(r.err.find("smaller --lr"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(model)) << "no final model from non-finite weights";
  for (const auto& e : std::filesystem::directory_iterator(ck))
    EXPECT_EQ(e.path().filename().string().find("checkpoint-"), std::string::npos) << "written: " << e.path();
}

// Starts ptrain with `args`, waits until its stdout shows `marker`, sends `signal`, and returns
// the exit status and stderr.
struct Stopped {
  int exit_code;
  std::string out, err;
};

Stopped signal_after(const std::string& args, const std::string& marker, int signal, const std::string& err_file) {
  int out_pipe[2];
  if (pipe(out_pipe) != 0) throw std::runtime_error("pipe");
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], STDOUT_FILENO);
    const int err = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(err, STDERR_FILENO);
    close(out_pipe[0]);
    execl("/bin/sh", "sh", "-c", (std::string("exec ") + PTRAIN_BINARY + " " + args).c_str(), nullptr);
    _exit(127);
  }
  close(out_pipe[1]);
  std::string out;
  bool sent = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{out_pipe[0], POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = read(out_pipe[0], buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (!sent && out.find(marker) != std::string::npos) {
      kill(pid, signal);
      sent = true;
    }
  }
  close(out_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(sent) << "never saw '" << marker << "' in: " << out;
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out, slurp(err_file)};
}

TEST_F(Faults, SigintFinishesTheStepWritesACheckpointAndResumesExactly) {
  const std::string ck = path("sigint-ck"), straight = path("straight.jsonl"), resumed = path("resumed.jsonl");
  const std::string run_args = base() + " --epochs 150";
  ASSERT_EQ(run(run_args + " --metrics " + straight).exit_code, 0);
  Stopped s = signal_after(run_args + " --checkpoint-dir " + ck + " --checkpoint-every 1000", "epoch   2/", SIGINT,
                           path("sigint.err"));
  EXPECT_EQ(s.exit_code, 130) << s.err;
  EXPECT_EQ(std::count(s.err.begin(), s.err.end(), '\n'), 1) << s.err;
  EXPECT_NE(s.err.find("stopped by SIGINT after epoch"), std::string::npos) << s.err;
  EXPECT_NE(s.err.find("resume with: ptrain --resume " + ck + " --epochs 150"), std::string::npos) << s.err;
  Result r = run(base() + " --epochs 150 --threads 1 --resume " + ck + " --metrics " + resumed);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_metrics(resumed).back()["weights_hash"], read_metrics(straight).back()["weights_hash"]);
}

TEST_F(Faults, SighupStopsLikeSigtermAndTheHintRepeatsTheOptions) {
  const std::string ck = path("sighup-ck"), metrics = path("sighup.jsonl");
  Stopped s = signal_after(base() + " --epochs 150 --threads 1 --checkpoint-dir " + ck + " --metrics " + metrics,
                           "epoch   2/", SIGHUP, path("sighup.err"));
  EXPECT_EQ(s.exit_code, 129) << s.err;
  EXPECT_NE(s.err.find("stopped by SIGHUP"), std::string::npos) << s.err;
  EXPECT_NE(s.err.find("resume with: ptrain --resume " + ck + " --epochs 150 --checkpoint-dir " + ck + " --metrics " +
                       metrics + " --threads 1"),
            std::string::npos)
      << s.err;
}

TEST_F(Faults, AClosedStdoutDoesNotLoseTheRun) {
  const std::string model = path("piped.st");
  const std::string cmd = "/bin/bash -c '" + std::string(PTRAIN_BINARY) + " " + base() + " --epochs 20 --save " +
                          model + " | head -c 10 >/dev/null; exit ${PIPESTATUS[0]}'";
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_NO_THROW(load_model_file(model));
}

TEST_F(Faults, SigtermWithoutACheckpointFolderSaysNothingWasSaved) {
  Stopped s = signal_after(base() + " --epochs 150", "epoch   2/", SIGTERM, path("sigterm.err"));
  EXPECT_EQ(s.exit_code, 143) << s.err;
  EXPECT_NE(s.err.find("stopped by SIGTERM"), std::string::npos) << s.err;
  EXPECT_NE(s.err.find("nothing saved"), std::string::npos) << s.err;
}

}  // namespace
}  // namespace ptrain
