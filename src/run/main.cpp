// ptrain's command line: parse the options, run the command, map failures to exit codes.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <iostream>
#include <new>

#include "ptrain/cluster/cluster.hpp"
#include "ptrain/run/commands.hpp"
#include "ptrain/core/errors.hpp"
#include "ptrain/io/name_encoding.hpp"
#include "ptrain/run/options.hpp"
#include "ptrain/run/trainer.hpp"

namespace {

// Prints the failure's one line and returns its exit code.
int report(const std::exception_ptr& failure) {
  try {
    std::rethrow_exception(failure);
  } catch (const ptrain::AgreedFailure& f) {
    return report(f.failure);
  } catch (const std::bad_alloc&) {
    std::cerr << "ptrain: out of memory\n";
  } catch (const std::exception& e) {
    std::cerr << "ptrain: " << ptrain::terminal_text(e.what(), false) << "\n";
  } catch (...) {
    std::cerr << "ptrain: unknown failure\n";
  }
  return ptrain::exit_code_of(failure);
}

}  // namespace

int main(int argc, char** argv) {
  // Built for x86-64-v3 or later; say so on an older CPU instead of dying on an instruction.
  if (!__builtin_cpu_supports("fma") || !__builtin_cpu_supports("avx2")) {
    std::cerr << "ptrain: this CPU lacks AVX2 and FMA, which ptrain needs (x86-64-v3 or later)\n";
    return 1;
  }
  // A write past a file-size limit then fails with EFBIG, reported like a full disk, instead of
  // killing the process mid-save.
  std::signal(SIGXFSZ, SIG_IGN);
  // A reader of stdout that goes away (`ptrain | head`) must not kill the run: its writes fail
  // quietly instead, and training, checkpoints and --save go on.
  std::signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<ptrain::Cluster> cluster = ptrain::join_cluster(argc, argv);
  try {
    ptrain::CommandLine cl;
    ptrain::all_or_none(*cluster, [&] { cl = ptrain::parse_command_line(argc, argv); });
    // Only training is spread over ranks; under mpirun rank 0 alone runs anything else.
    if (cl.kind != ptrain::CommandKind::train && !cluster->leader()) return 0;
    switch (cl.kind) {
      case ptrain::CommandKind::help:
        std::cout << cl.help_text;
        break;
      case ptrain::CommandKind::version:
        std::cout << "ptrain " << PTRAIN_VERSION << "\n";
        break;
      case ptrain::CommandKind::eval:
        ptrain::run_eval(cl.inference, std::cout);
        break;
      case ptrain::CommandKind::predict:
        cl.inference.terminal = isatty(STDOUT_FILENO) == 1;
        ptrain::run_predict(cl.inference, std::cout);
        break;
      case ptrain::CommandKind::export_onnx:
        ptrain::run_export(cl.inference, std::cout);
        break;
      case ptrain::CommandKind::train:
        // Under mpirun stdout is a pipe to mpirun even when it looks like a terminal.
        cl.train.progress_bar = isatty(STDOUT_FILENO) == 1 && cluster->size() == 1;
        ptrain::run_training(cl.train, std::cout, *cluster);
        break;
    }
    return 0;
  } catch (const ptrain::SilentFailure& f) {
    return f.exit_code;  // another rank reports it
  } catch (const ptrain::AgreedFailure& f) {
    return report(f.failure);  // every rank knows: each ends normally
  } catch (...) {
    const int code = report(std::current_exception());
    // A failure the other ranks do not know of: they may be waiting for this one, so end them all.
    if (cluster->size() > 1) cluster->abort(code);
    return code;
  }
}
