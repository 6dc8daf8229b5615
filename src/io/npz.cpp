#include "ptrain/io/npz.hpp"

#include <zip.h>

#include <algorithm>

#include "ptrain/core/errors.hpp"
#include "ptrain/io/npy.hpp"

namespace ptrain {
namespace {

// Deflate cannot expand data more than 1032-fold; a claim past that is a damaged or hostile
// archive, refused before its claimed size is allocated.
constexpr std::uint64_t kMaxDeflateRatio = 1032;

std::string zip_problem(zip_error_t* error) {
  std::string why = zip_error_strerror(error);
  zip_error_fini(error);
  return why;
}

}  // namespace

struct NpzArchive::Zip {
  zip_t* archive = nullptr;
  ~Zip() {
    if (archive) zip_discard(archive);
  }
};

bool is_zip(std::string_view bytes) {
  return bytes.substr(0, 4) == std::string_view("PK\x03\x04", 4) ||
         bytes.substr(0, 4) == std::string_view("PK\x05\x06", 4);
}

NpzArchive::NpzArchive(std::string bytes, std::string name)
    : bytes_(std::move(bytes)), name_(std::move(name)), zip_(std::make_unique<Zip>()) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source = zip_source_buffer_create(bytes_.data(), bytes_.size(), 0, &error);
  if (!source) throw DataError(name_ + ": " + zip_problem(&error));
  zip_->archive = zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error);
  if (!zip_->archive) {
    zip_source_free(source);
    throw DataError(name_ + ": not a readable .npz (zip) archive: " + zip_problem(&error));
  }
  zip_error_fini(&error);
}

NpzArchive NpzArchive::read(const std::string& path) { return NpzArchive(read_whole_file(path), path); }
NpzArchive::NpzArchive(NpzArchive&&) noexcept = default;
NpzArchive::~NpzArchive() = default;

std::vector<std::string> NpzArchive::arrays() const {
  std::vector<std::string> out;
  const zip_int64_t n = zip_get_num_entries(zip_->archive, 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    const char* entry = zip_get_name(zip_->archive, static_cast<zip_uint64_t>(i), 0);
    const std::string_view s = entry ? entry : "";
    if (s.size() > 4 && s.substr(s.size() - 4) == ".npy") out.emplace_back(s.substr(0, s.size() - 4));
  }
  return out;
}

bool NpzArchive::has(const std::string& array) const {
  return zip_name_locate(zip_->archive, (array + ".npy").c_str(), 0) >= 0;
}

std::string NpzArchive::npy_bytes(const std::string& array) const {
  const std::string entry = array + ".npy", where = name_ + ": " + entry;
  const zip_int64_t index = zip_name_locate(zip_->archive, entry.c_str(), 0);
  if (index < 0) throw DataError(name_ + ": has no array '" + array + "'");
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(zip_->archive, static_cast<zip_uint64_t>(index), 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE) ||
      !(st.valid & ZIP_STAT_COMP_SIZE))
    throw DataError(where + ": its size cannot be read");
  if (st.size > bytes_.size() * kMaxDeflateRatio + 1024)
    throw DataError(where + ": claims " + std::to_string(st.size) + " bytes, more than its " +
                    std::to_string(st.comp_size) + " compressed bytes can hold");
  zip_file_t* file = zip_fopen_index(zip_->archive, static_cast<zip_uint64_t>(index), 0);
  if (!file) throw DataError(where + ": " + zip_strerror(zip_->archive));
  std::string out(st.size, '\0');
  const zip_int64_t got = zip_fread(file, out.data(), out.size());
  char extra = 0;  // reading past the end is what makes libzip check the CRC
  const zip_int64_t more = got == static_cast<zip_int64_t>(out.size()) ? zip_fread(file, &extra, 1) : -1;
  std::string why = got < 0 || more < 0 ? zip_file_strerror(file) : "";
  zip_fclose(file);
  if (got < 0 || more < 0) throw DataError(where + ": " + (why.empty() ? "read failed" : why));
  if (got != static_cast<zip_int64_t>(out.size()) || more != 0)
    throw DataError(where + ": holds other than the " + std::to_string(st.size) + " bytes its header says");
  return out;
}

NpzKeys npz_keys_for(const NpzArchive& npz, const std::string& role, const NpzKeys& given, bool labels) {
  const auto there = [&](const NpzKeys& k) { return npz.has(k.features) && (!labels || npz.has(k.labels)); };
  if (!given.features.empty()) {
    for (const std::string* a : {&given.features, &given.labels})
      if ((labels || a == &given.features) && !npz.has(*a))
        throw DataError(npz.name() + ": has no array '" + *a + "' (named by --npz-keys)");
    return given;
  }
  for (NpzKeys k : {NpzKeys{"x_" + role, "y_" + role}, NpzKeys{"x", "y"}, NpzKeys{"X", "y"}})
    if (there(k)) return k;
  std::string have;
  for (const std::string& a : npz.arrays()) have += (have.empty() ? "" : ", ") + a;
  const std::string wanted = labels ? "no x_" + role + "/y_" + role + " (or x/y) arrays for the " + role + " role"
                                    : "no x_" + role + " (or x) array";
  throw DataError(npz.name() + ": " + wanted + "; it has " + (have.empty() ? "none" : have) +
                  " (--npz-keys names others)");
}

}  // namespace ptrain
