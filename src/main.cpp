// ptrain's command line: parse the options, hand them to the trainer, map failures to exit codes.
#include <iostream>
#include <new>

#include "ptrain/errors.hpp"
#include "ptrain/options.hpp"

int main(int argc, char** argv) {
  try {
    ptrain::CommandLine cl = ptrain::parse_command_line(argc, argv);
    if (cl.help) {
      std::cout << cl.help_text;
      return 0;
    }
    if (cl.version) {
      std::cout << "ptrain " << PTRAIN_VERSION << "\n";
      return 0;
    }
    ptrain::run_training(cl.config, std::cout);
    return 0;
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
