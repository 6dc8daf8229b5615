#pragma once
// The command line (Boost.Program_options): `ptrain [train] [options]`, `ptrain eval …`,
// `ptrain predict …`, `ptrain export …`, turned into the configuration of one command.
#include <cstdint>
#include <optional>
#include <string>

#include "ptrain/core/config.hpp"

namespace ptrain {

enum class CommandKind { train, eval, predict, export_onnx, help, version };

struct CommandLine {
  CommandKind kind = CommandKind::train;
  std::string help_text;
  TrainConfig train;
  InferenceConfig inference;  // eval, predict and export (its model and output)
};

// Throws UsageError with one line naming the bad option and value.
CommandLine parse_command_line(int argc, const char* const* argv);

}  // namespace ptrain
