#pragma once
// Writes that never leave a partial file under the final name: a temporary file in the same
// folder, written, flushed and fsync'd, then renamed over the target (and the folder fsync'd).
// A crash, a full disk or an unwritable folder leaves any previous file untouched. A symbolic
// link is written through: the file it names is replaced, the link stays.
#include <string>
#include <string_view>

namespace ptrain {

// Throws DataError naming `what` (e.g. "--save model.safetensors") and the system's reason.
void write_file_atomically(const std::string& path, std::string_view bytes, const std::string& what);

}  // namespace ptrain
