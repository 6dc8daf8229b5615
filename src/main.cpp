// ptrain's command line: parse the options, run the command, map failures to exit codes.
#include <unistd.h>

#include <csignal>
#include <iostream>
#include <new>

#include "ptrain/commands.hpp"
#include "ptrain/errors.hpp"
#include "ptrain/options.hpp"

int main(int argc, char** argv) {
  // A write past a file-size limit then fails with EFBIG, reported like a full disk, instead of
  // killing the process mid-save.
  std::signal(SIGXFSZ, SIG_IGN);
  try {
    ptrain::CommandLine cl = ptrain::parse_command_line(argc, argv);
    switch (cl.kind) {
      case ptrain::CommandKind::help: std::cout << cl.help_text; break;
      case ptrain::CommandKind::version: std::cout << "ptrain " << PTRAIN_VERSION << "\n"; break;
      case ptrain::CommandKind::eval: ptrain::run_eval(cl.use, std::cout); break;
      case ptrain::CommandKind::predict: ptrain::run_predict(cl.use, std::cout); break;
      case ptrain::CommandKind::train:
        cl.train.progress_bar = isatty(STDOUT_FILENO) == 1;
        ptrain::run_training(cl.train, std::cout);
        break;
    }
    return 0;
  } catch (const ptrain::Interrupted& e) {
    std::cerr << "ptrain: " << e.what() << "\n";
    return 128 + e.signal;
  } catch (const ptrain::UsageError& e) {
    std::cerr << "ptrain: " << e.what() << "\n";
    return 2;
  } catch (const ptrain::DataError& e) {
    std::cerr << "ptrain: " << e.what() << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "ptrain: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "ptrain: " << e.what() << "\n";
    return 1;
  }
}
