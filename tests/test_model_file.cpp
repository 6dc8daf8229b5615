// Model files: written by ptrain, read back by an independent parser here (raw bytes and a
// JSON library, not the reader under test), the header checked field by field against the
// published safetensors format; and every malformed file refused with a message.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <tuple>

#include "ptrain/core/errors.hpp"
#include "ptrain/io/model_file.hpp"
#include "ptrain/core/network.hpp"
#include "support.hpp"

namespace ptrain {
namespace {

ModelFile sample_model(TensorType dtype) {
  ModelFile m;
  m.sizes = {7, 5, 3};
  m.dtype = dtype;
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(-2, 2);
  for (std::size_t i = 0; i < canonical_param_count(m.sizes); ++i) m.params.push_back(static_cast<float>(u(rng)));
  if (dtype == TensorType::f64) m.params.back() = 0.1;  // not representable in float32
  const std::vector<float> as_float(m.params.begin(), m.params.end());
  m.metadata = {{"format", "ptrain"},
                {"format_version", kModelFormatVersion},
                {"seed", "42"},
                {"layers", "7,5,3"},
                {"weights_hash", hash_hex(weights_hash(as_float))}};
  return m;
}

// The metadata as written: the writer adds the payload's and the metadata's checksums.
std::map<std::string, std::string> without_checksums(std::map<std::string, std::string> metadata) {
  metadata.erase("payload_hash");
  metadata.erase("metadata_hash");
  return metadata;
}

std::uint64_t u64_le(const std::string& b) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(b[i]);
  return v;
}

TEST(ModelFile, IndependentParserReadsWhatTheWriterWrote) {
  const ModelFile m = sample_model(TensorType::f32);
  const std::string bytes = encode_model_file(m);

  const std::uint64_t n = u64_le(bytes);
  ASSERT_LE(8 + n, bytes.size());
  EXPECT_EQ(n % 8, 0u) << "header must be padded to a multiple of 8";
  const std::string header_text = bytes.substr(8, n);
  const std::size_t json_end = header_text.find_last_not_of(' ') + 1;
  EXPECT_EQ(header_text[json_end - 1], '}');
  EXPECT_LT(n - json_end, 8u) << "padding is spaces, fewer than 8";
  const nlohmann::json h = nlohmann::json::parse(header_text);

  ASSERT_TRUE(h.contains("__metadata__"));
  EXPECT_EQ(h["__metadata__"]["seed"], "42");
  EXPECT_EQ(h["__metadata__"]["layers"], "7,5,3");
  const std::uint64_t data_start = 8 + n;
  const std::vector<std::pair<std::string, std::vector<int>>> want{
      {"layers.0.weight", {5, 7}}, {"layers.0.bias", {5}}, {"layers.1.weight", {3, 5}}, {"layers.1.bias", {3}}};
  std::uint64_t offset = 0;
  std::size_t param = 0;
  for (const auto& [name, shape] : want) {
    ASSERT_TRUE(h.contains(name)) << name;
    const auto& t = h[name];
    EXPECT_EQ(t["dtype"], "F32") << name;
    EXPECT_EQ(t["shape"].get<std::vector<int>>(), shape) << name;
    const auto off = t["data_offsets"].get<std::vector<std::uint64_t>>();
    ASSERT_EQ(off.size(), 2u);
    EXPECT_EQ(off[0], offset) << name << " must follow the previous tensor";
    std::uint64_t count = 1;
    for (int d : shape) count *= d;
    EXPECT_EQ(off[1] - off[0], 4 * count) << name;
    for (std::uint64_t i = 0; i < count; ++i) {
      float f;
      std::memcpy(&f, bytes.data() + data_start + off[0] + 4 * i, 4);
      ASSERT_EQ(f, static_cast<float>(m.params[param++])) << name << "[" << i << "]";
    }
    offset = off[1];
  }
  EXPECT_EQ(h.size(), want.size() + 1) << "only the four tensors and __metadata__";
  EXPECT_EQ(data_start + offset, bytes.size()) << "the data buffer must end the file";
}

TEST(ModelFile, RoundTripsF32AndF64Exactly) {
  for (TensorType t : {TensorType::f32, TensorType::f64}) {
    const ModelFile m = sample_model(t);
    const ModelFile back = decode_model_file(encode_model_file(m), "m");
    EXPECT_EQ(back.sizes, m.sizes);
    EXPECT_EQ(back.params, m.params);
    EXPECT_EQ(without_checksums(back.metadata), m.metadata);
    EXPECT_EQ(back.dtype, t);
  }
}

TEST(ModelFile, SaveWritesAtomicallyAndLoadReadsIt) {
  test::TempDir dir;
  const auto path = (dir.path() / "m.safetensors").string();
  const ModelFile m = sample_model(TensorType::f32);
  save_model_file(path, m, "--save");
  EXPECT_EQ(load_model_file(path).params, m.params);
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) files += e.is_regular_file();
  EXPECT_EQ(files, 1u) << "no temporary file may be left behind";
  EXPECT_THROW(save_model_file((dir.path() / "m.safetensors" / "x").string(), m, "--save"), DataError);
}

// One flipped bit anywhere in the tensors, and each metadata field that names the format or the
// net, set wrong: every one refused with the file's name.
TEST(ModelFile, ChecksumsAndFormatFieldsAreVerifiedOnLoad) {
  ModelFile m = sample_model(TensorType::f32);
  m.velocity.assign(m.params.size(), 0.25);
  const std::string good = encode_model_file(m);
  ASSERT_NO_THROW(decode_model_file(good, "good"));
  const std::uint64_t n = u64_le(good);
  const std::size_t data = 8 + n, params_bytes = 4 * m.params.size();
  auto refused = [](const std::string& bytes, const std::string& fragment) {
    try {
      decode_model_file(bytes, "f.st");
      ADD_FAILURE() << "accepted; expected: " << fragment;
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).rfind("f.st: ", 0), 0u) << e.what();
    }
  };
  std::string flipped = good;
  flipped[data + 5] ^= 0x10;  // a weight
  refused(flipped, "weights_hash");
  flipped = good;
  flipped[data + params_bytes + 9] ^= 0x01;  // a velocity
  refused(flipped, "payload_hash");
  flipped = good;
  const std::size_t seed = flipped.find("\"42\"");
  ASSERT_LT(seed, data);
  flipped[seed + 2] = '3';  // "seed": "43", in the header
  refused(flipped, "metadata_hash");
  for (const auto& [key, value, fragment] :
       std::vector<std::tuple<std::string, std::string, std::string>>{{"format", "other", "format 'other'"},
                                                                      {"format_version", "99", "format_version '99'"},
                                                                      {"layers", "7,6,3", "disagree"}}) {
    ModelFile wrong = m;
    wrong.metadata[key] = value;
    refused(encode_model_file(wrong), fragment);
  }
  ModelFile old = m;  // version 1 had no payload_hash and stays readable
  old.metadata["format_version"] = "1";
  old.metadata.erase("weights_hash");
  EXPECT_NO_THROW(decode_model_file(encode_model_file(old), "old"));
}

// Rewrites the JSON header of a valid file (keeping the data) and expects a refusal.
class Malformed : public ::testing::Test {
 protected:
  std::string with_header(const nlohmann::json& h, const std::string& data) {
    std::string text = h.dump();
    std::string out(8, '\0');
    const std::uint64_t n = text.size();
    std::memcpy(out.data(), &n, 8);
    return out + text + data;
  }
  void expect_refused(const std::string& bytes, const std::string& fragment) {
    try {
      decode_model_file(bytes, "bad.safetensors");
      ADD_FAILURE() << "accepted; expected a refusal mentioning '" << fragment << "'";
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("bad.safetensors"), std::string::npos) << e.what();
    }
  }
  void SetUp() override {
    good_ = encode_model_file(sample_model(TensorType::f32));
    const std::uint64_t n = u64_le(good_);
    header_ = nlohmann::json::parse(good_.substr(8, n));
    data_ = good_.substr(8 + n);
  }
  std::string good_, data_;
  nlohmann::json header_;
};

TEST_F(Malformed, HeaderLengthBeyondTheFileOrAbsurd) {
  std::string b = good_;
  const std::uint64_t huge = b.size();
  std::memcpy(b.data(), &huge, 8);
  expect_refused(b, "runs past the end");
  const std::uint64_t absurd = 1ull << 60;
  std::memcpy(b.data(), &absurd, 8);
  expect_refused(b, "absurdly large");
  expect_refused("abc", "too short");
}

TEST_F(Malformed, InvalidJson) {
  expect_refused(with_header(nlohmann::json::array(), data_), "not a JSON object");
  std::string b = good_;
  b[8] = '[';
  expect_refused(b, "not valid JSON");
}

TEST_F(Malformed, UnsupportedDtype) {
  header_["layers.0.bias"]["dtype"] = "BF16";
  expect_refused(with_header(header_, data_), "dtype BF16");
}

TEST_F(Malformed, ShapesThatDoNotChain) {
  header_["layers.1.weight"]["shape"] = {3, 4};
  expect_refused(with_header(header_, data_), "takes 4 inputs");
}

TEST_F(Malformed, MissingAndUnexpectedTensors) {
  auto h = header_;
  h.erase("layers.1.bias");
  expect_refused(with_header(h, data_), "missing tensor layers.1.bias");
  h = header_;
  h["extra"] = h["layers.1.bias"];
  expect_refused(with_header(h, data_), "unexpected tensor 'extra'");
}

TEST_F(Malformed, OffsetsOverlappingOutOfBoundsOrShort) {
  auto h = header_;
  h["layers.0.bias"]["data_offsets"] = {0, 20};  // overlaps layers.0.weight
  expect_refused(with_header(h, data_), "starts at byte");
  h = header_;
  h["layers.1.bias"]["data_offsets"] = {h["layers.1.bias"]["data_offsets"][0], 1000};
  expect_refused(with_header(h, data_), "bytes of data; its shape needs");
  expect_refused(with_header(header_, data_.substr(0, data_.size() - 4)), "shorter than declared");
  expect_refused(with_header(header_, data_ + "xxxx"), "after the last tensor");
}

TEST_F(Malformed, NonFiniteWeights) {
  std::string d = data_;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(d.data() + 8, &nan, 4);
  expect_refused(with_header(header_, d), "non-finite value at index 2");
}

}  // namespace
}  // namespace ptrain
