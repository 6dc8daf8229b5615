// libFuzzer target: the .npz reader on arbitrary bytes: the archive opened, each role's arrays
// looked up, every array read and decoded as features and as labels. Anything but a result or a
// DataError is a bug.
#include <cstdint>
#include <string>

#include "ptrain/core/errors.hpp"
#include "ptrain/io/npy.hpp"
#include "ptrain/io/npz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const ptrain::NpzArchive npz(std::string(reinterpret_cast<const char*>(data), size), "fuzz.npz");
    for (const char* role : {"train", "test"}) try {
        (void)ptrain::npz_keys_for(npz, role, {});
      } catch (const ptrain::DataError&) {
      }
    for (const std::string& name : npz.arrays()) try {
        const std::string bytes = npz.npy_bytes(name);
        const ptrain::NpyArray a = ptrain::decode_npy(bytes, name);
        ptrain::AlignedVector<float> features;
        try {
          ptrain::append_npy_features(a, name, features);
        } catch (const ptrain::DataError&) {
        }
        (void)ptrain::npy_labels(a, name, 256);
      } catch (const ptrain::DataError&) {
      }
  } catch (const ptrain::DataError&) {
  }
  return 0;
}
