#pragma once
// The command line (Boost.Program_options) turned into a TrainConfig.
#include <string>

#include "ptrain/trainer.hpp"

namespace ptrain {

struct CommandLine {
  bool help = false;
  bool version = false;
  std::string help_text;
  TrainConfig config;
};

// Throws UsageError with one line naming the bad option and value.
CommandLine parse_command_line(int argc, const char* const* argv);

}  // namespace ptrain
