#pragma once
// The three kinds of failure the command line reports, each with its exit code.
#include <stdexcept>
#include <string>

namespace ptrain {

// Bad data, unreadable files or a run-time failure: exit code 1.
struct DataError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A bad command line: exit code 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// SIGINT or SIGTERM stopped the run after a whole step: exit code 128 + signal.
struct Interrupted : std::runtime_error {
  Interrupted(const std::string& what, int signal) : std::runtime_error(what), signal(signal) {}
  int signal;
};

}  // namespace ptrain
