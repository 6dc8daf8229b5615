#pragma once
// The paths a user names, checked before any long work: an output must be writable where it
// is and must not be something else (a folder, a device, a FIFO, a socket), nor any file the
// run reads. A symbolic link to a file is written through: the file it names is replaced, the
// link stays. Every failure is a DataError naming the option and the path.
#include <string>
#include <utility>
#include <vector>

namespace ptrain {

// (option, path) as the user gave them, e.g. {"--save", "model.safetensors"}.
using NamedPath = std::pair<std::string, std::string>;

// What a write to `path` replaces: the path itself, or the file a symbolic link names.
std::string output_target(const std::string& path);

// An output file: a non-empty path in an existing, writable folder, naming nothing but a
// regular file (or nothing yet).
void check_output_file(const NamedPath& output);

// A folder a run writes into: an existing writable folder, or one that can be made (its
// parent exists and is writable).
void check_output_folder(const NamedPath& output);

// No output may be the same file as an input or as another output. Inputs that do not exist
// are skipped (their readers report them).
void refuse_shared_files(const std::vector<NamedPath>& outputs, const std::vector<NamedPath>& inputs);

// What stops `path` being read as a file: "" for a readable regular file, else "file not
// found", "is a folder, not a file", or the system's reason (a symbolic link loop...).
std::string input_problem(const std::string& path);

// The same as a DataError naming the option: "--config x: is a folder, not a file".
void check_input_file(const NamedPath& input);

}  // namespace ptrain
