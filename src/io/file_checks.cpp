#include "ptrain/io/file_checks.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>

#include "ptrain/core/errors.hpp"

namespace ptrain {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void refuse(const NamedPath& p, const std::string& why) {
  throw DataError(p.first + " " + p.second + ": " + why);
}

// What a stat names, for a message: "a folder", "a device"... or empty for a regular file.
std::string kind_of(const struct stat& st) {
  if (S_ISREG(st.st_mode)) return "";
  if (S_ISDIR(st.st_mode)) return "a folder";
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) return "a device";
  if (S_ISFIFO(st.st_mode)) return "a FIFO";
  if (S_ISSOCK(st.st_mode)) return "a socket";
  return "not a regular file";
}

std::string folder_of(const std::string& path) {
  const fs::path p(path);
  return p.has_parent_path() ? p.parent_path().string() : ".";
}

void check_writable_folder(const NamedPath& p, const std::string& folder) {
  struct stat st {};
  if (::stat(folder.c_str(), &st) != 0)
    refuse(p, "its folder '" + folder + "' " + (errno == ENOENT ? "does not exist" : std::strerror(errno)));
  if (!S_ISDIR(st.st_mode)) refuse(p, "'" + folder + "' is not a folder");
  if (::access(folder.c_str(), W_OK | X_OK) != 0)
    refuse(p, "cannot write in '" + folder + "': " + std::strerror(errno));
}

struct FileId {
  dev_t dev;
  ino_t ino;
};

std::optional<FileId> id_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileId{st.st_dev, st.st_ino};
}

// Whether two paths name one file: by device and inode when both exist; when neither does, by
// their absolute, normalised spellings (x, ./x and dir/../x are one; weakly_canonical alone
// leaves a relative path with no existing prefix relative, so it is made absolute first).
bool same_file(const std::string& a, const std::string& b) {
  const std::optional<FileId> ia = id_of(a), ib = id_of(b);
  if (ia && ib) return ia->dev == ib->dev && ia->ino == ib->ino;
  if (ia || ib) return false;
  std::error_code ec;
  const fs::path ca = fs::weakly_canonical(fs::absolute(a, ec), ec), cb = fs::weakly_canonical(fs::absolute(b, ec), ec);
  return !ec && ca == cb;
}

}  // namespace

std::string output_target(const std::string& path) {
  std::string at = path;
  for (int links = 0; links < 40; ++links) {  // as the kernel's own limit; a loop stays a loop
    std::error_code ec;
    if (!fs::is_symlink(fs::symlink_status(at, ec))) return at;
    fs::path target = fs::read_symlink(at, ec);
    if (ec) return at;
    if (target.is_relative()) target = fs::path(folder_of(at)) / target;
    at = target.string();
  }
  return path;  // the write then fails with ELOOP, named
}

void check_output_file(const NamedPath& p) {
  if (p.second.empty()) throw UsageError(p.first + ": an empty path");
  const std::string target = output_target(p.second);  // a loop stays itself, and stat names it
  struct stat st {};
  if (::stat(target.c_str(), &st) == 0) {
    const std::string kind = kind_of(st);
    if (!kind.empty()) refuse(p, "is " + kind + ", not a file ptrain may replace");
  } else if (errno != ENOENT) {
    refuse(p, std::strerror(errno));
  }
  check_writable_folder(p, folder_of(target));
}

void check_output_folder(const NamedPath& p) {
  if (p.second.empty()) throw UsageError(p.first + ": an empty path");
  struct stat st {};
  if (::stat(p.second.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) refuse(p, "exists and is not a folder");
    if (::access(p.second.c_str(), W_OK | X_OK) != 0)
      refuse(p, std::string("cannot write in it: ") + std::strerror(errno));
    return;
  }
  if (errno != ENOENT) refuse(p, std::strerror(errno));
  std::string path = p.second;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  check_writable_folder(p, folder_of(path));
}

void refuse_shared_files(const std::vector<NamedPath>& outputs, const std::vector<NamedPath>& inputs) {
  for (std::size_t o = 0; o < outputs.size(); ++o) {
    const std::string target = output_target(outputs[o].second);
    for (const NamedPath& in : inputs)
      if (id_of(target) && same_file(target, in.second))
        refuse(outputs[o], "is the same file as " + in.first + " " + in.second + ", which this run reads");
    for (std::size_t other = o + 1; other < outputs.size(); ++other)
      if (same_file(target, output_target(outputs[other].second)))
        refuse(outputs[o], "is also " + outputs[other].first + " " + outputs[other].second);
  }
}

std::string input_problem(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return errno == ENOENT ? "file not found" : std::strerror(errno);
  const std::string kind = kind_of(st);
  if (!kind.empty()) return "is " + kind + ", not a file";
  if (::access(path.c_str(), R_OK) != 0) return std::string("cannot read: ") + std::strerror(errno);
  return "";
}

void check_input_file(const NamedPath& p) {
  if (const std::string problem = input_problem(p.second); !problem.empty()) refuse(p, problem);
}

}  // namespace ptrain
