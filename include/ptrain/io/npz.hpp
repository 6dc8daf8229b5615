#pragma once
// NumPy's .npz files: a zip archive of .npy arrays, one entry "NAME.npy" an array, stored
// (np.savez) or deflated (np.savez_compressed). Read through libzip, from memory; each entry's
// CRC is checked, and an entry claiming more bytes than its compressed size can hold is
// refused before anything is allocated for it. Every DataError names the file.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ptrain {

// Whether `bytes` start as a zip archive does (a local file header, or an empty archive's end).
bool is_zip(std::string_view bytes);

class NpzArchive {
 public:
  // `bytes` are the archive, `name` its file for messages.
  NpzArchive(std::string bytes, std::string name);
  static NpzArchive read(const std::string& path);
  NpzArchive(NpzArchive&&) noexcept;
  ~NpzArchive();

  const std::string& name() const { return name_; }
  std::vector<std::string> arrays() const;  // the arrays' names, in the archive's order
  bool has(const std::string& array) const;
  std::string npy_bytes(const std::string& array) const;  // the array's .npy file

 private:
  struct Zip;
  std::string bytes_, name_;
  std::unique_ptr<Zip> zip_;
};

// The two arrays (features, labels) a role reads: `given` when set; else x_<role> and
// y_<role> (Keras's mnist.npz names); else x and y (or X and y) when those are there. Without
// `labels` (prediction) only the features must be there. A DataError lists the arrays the
// archive has when none of these fits.
struct NpzKeys {
  std::string features, labels;
};
NpzKeys npz_keys_for(const NpzArchive& npz, const std::string& role, const NpzKeys& given, bool labels = true);

}  // namespace ptrain
