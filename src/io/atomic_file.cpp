#include "ptrain/io/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "ptrain/core/errors.hpp"
#include "ptrain/io/file_checks.hpp"

namespace ptrain {
namespace {

[[noreturn]] void fail(const std::string& what, const std::string& step, int err) {
  throw DataError(what + ": " + step + ": " + std::strerror(err));
}

}  // namespace

void write_file_atomically(const std::string& given, std::string_view bytes, const std::string& what) {
  namespace fs = std::filesystem;
  const std::string path = output_target(given);  // through a symbolic link, which stays
  const fs::path target(path);
  const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::string hidden = target.filename().string();
  hidden.insert(0, 1, '.');
  hidden += ".tmp-XXXXXX";
  std::string temp = (folder / hidden).string();
  const int fd = mkstemp(temp.data());
  if (fd < 0) fail(what, "cannot create a file in '" + folder.string() + "'", errno);

  auto abandon = [&](const std::string& step, int err) {
    ::close(fd);
    ::unlink(temp.c_str());
    fail(what, step, err);
  };
  for (std::size_t done = 0; done < bytes.size();) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) abandon("write failed", n < 0 ? errno : ENOSPC);
    done += static_cast<std::size_t>(n);
  }
  if (::fchmod(fd, 0644) != 0) abandon("cannot set permissions", errno);
  if (::fsync(fd) != 0) abandon("fsync failed", errno);
  if (::close(fd) != 0) {
    ::unlink(temp.c_str());
    fail(what, "close failed", errno);
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    fail(what, "cannot rename into place", err);
  }
  // The rename itself is durable only once the folder is synced.
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

}  // namespace ptrain
