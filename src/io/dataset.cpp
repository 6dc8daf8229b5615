#include "ptrain/io/dataset.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <tuple>

#include <nlohmann/json.hpp>

#include "ptrain/core/config.hpp"
#include "ptrain/core/errors.hpp"
#include "ptrain/io/file_checks.hpp"
#include "ptrain/io/idx.hpp"
#include "ptrain/io/name_encoding.hpp"
#include "ptrain/io/npy.hpp"
#include "ptrain/core/network.hpp"
#include "ptrain/core/rng.hpp"

namespace ptrain {
namespace {

namespace fs = std::filesystem;

// Mirrors spell the names 'train-images-idx3-ubyte' or 'train-images.idx3-ubyte', and most ship
// them gzip-compressed with '.gz' added (the reader tells gzip by its magic bytes, not the name).
// Two spellings of one file present is refused: which one the user meant is not ours to guess.
std::string find_file(const std::string& dir, const std::string& stem, const std::string& kind) {
  std::string found;
  for (const std::string& name :
       {stem + "-" + kind, stem + "." + kind, stem + "-" + kind + ".gz", stem + "." + kind + ".gz"}) {
    fs::path p = fs::path(dir) / name;
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(p, ec))) continue;
    if (!found.empty())
      throw DataError(dir + ": both " + fs::path(found).filename().string() + " and " + name +
                      " are there; keep one of them");
    found = p.string();
  }
  return found.empty() ? (fs::path(dir) / (stem + "-" + kind)).string() : found;  // the reader reports it missing
}

enum class FileKind { idx, npy, npz, csv };

// CSV by its name (its text has no magic); the others by their first bytes, IDX failing those
// (its reader names what is wrong with it).
FileKind file_kind(const std::string& path) {
  if (csv_name(path)) return FileKind::csv;
  std::ifstream in(path, std::ios::binary);
  char head[6] = {};
  in.read(head, 6);
  const std::string_view h(head, static_cast<std::size_t>(in.gcount()));
  return is_npy(h) ? FileKind::npy : is_zip(h) ? FileKind::npz : FileKind::idx;
}

bool holds_labels(const std::string& path) {
  const FileKind k = file_kind(path);
  return k == FileKind::csv || k == FileKind::npz;
}

// --npz-keys with "{role}" replaced by the role's name.
NpzKeys keys_for_role(const NpzKeys& given, const std::string& role) {
  NpzKeys k = given;
  for (std::string* name : {&k.features, &k.labels})
    for (std::size_t at; (at = name->find("{role}")) != std::string::npos;) name->replace(at, 6, role);
  return k;
}

// One file of an .npz, decoded: the archive keeps the bytes the array views.
struct NpzArray {
  std::string bytes;
  NpyArray array;
  std::string name;
  NpzArray(const NpzArchive& npz, const std::string& key) : bytes(npz.npy_bytes(key)), name(npz.name() + ":" + key) {
    array = decode_npy(bytes, name);
  }
};

IdxShape shape_of(const NpyShape& s, const std::string& path) {
  if (s.count > 0xFFFFFFFFu) throw DataError(path + ": more than 2^32 examples");
  IdxShape out;
  out.count = static_cast<std::uint32_t>(s.count);
  out.rows = static_cast<std::uint32_t>(s.rows);
  out.cols = static_cast<std::uint32_t>(s.cols);
  return out;
}

// An .npz's role arrays appended to `d`.
IdxShape append_npz(const std::string& path, const std::string& role, const NpzKeys& given, int classes, Dataset& d) {
  const NpzArchive npz = NpzArchive::read(path);
  const NpzKeys keys = npz_keys_for(npz, role, keys_for_role(given, role));
  const NpzArray x(npz, keys.features);
  const IdxShape shape = shape_of(append_npy_features(x.array, x.name, d.features), path);
  const NpzArray y(npz, keys.labels);
  const std::vector<std::uint8_t> labels = npy_labels(y.array, y.name, classes);
  if (labels.size() != shape.count)
    throw DataError(path + ": " + keys.features + " holds " + std::to_string(shape.count) + " examples but " +
                    keys.labels + " holds " + std::to_string(labels.size()) + " labels");
  d.labels.insert(d.labels.end(), labels.begin(), labels.end());
  return shape;
}

// An IDX or .npy features file and its labels file appended to `d`.
IdxShape append_idx_or_npy(const std::string& image_path, const std::string& label_path, int classes, Dataset& d) {
  const IdxInputs shape = append_inputs(image_path, d, {}, 0);
  std::vector<std::uint8_t> labels = file_kind(label_path) == FileKind::npy ? read_npy_labels(label_path, classes)
                                                                            : read_idx_labels(label_path, classes);
  if (shape.count != labels.size())
    throw DataError(image_path + ": holds " + std::to_string(shape.count) + " images but " + label_path + " holds " +
                    std::to_string(labels.size()) + " labels");
  d.labels.insert(d.labels.end(), labels.begin(), labels.end());
  d.float_inputs = shape.floats;
  return shape;
}

// A file of regression targets alone: .npy (N or N × T), IDX float32 (0x0D01 or 0x0D02), or
// CSV (every column a target; the header, when there is one, names them).
std::vector<float> read_target_file(const std::string& path, const CsvFormat& csv, std::uint64_t& count,
                                    std::uint64_t& per_example, std::vector<std::string>& names) {
  const FileKind kind = file_kind(path);
  if (kind == FileKind::npy) {
    const std::string bytes = read_whole_file(path);
    std::vector<float> t = npy_targets(decode_npy(bytes, path), path, per_example);
    count = t.size() / per_example;
    return t;
  }
  if (kind == FileKind::csv) {
    AlignedVector<float> values;
    std::vector<std::uint8_t> no_labels;
    LabelCoding unused;
    const CsvShape s = append_csv(path, csv, CsvLabels::none, 0, kMaxClasses, unused, values, no_labels);
    if (s.features > kMaxClasses)
      throw DataError(path + ": " + std::to_string(s.features) + " target columns; at most " +
                      std::to_string(kMaxClasses));
    count = s.count;
    per_example = s.features;
    names = s.names;
    return std::vector<float>(values.begin(), values.end());
  }
  if (kind == FileKind::npz) throw DataError(path + ": an .npz file holds its targets beside its features");
  std::uint32_t n = 0, t = 0;
  std::vector<float> targets = read_idx_targets(path, n, t);
  count = n;
  per_example = t;
  return targets;
}

// Appends a regression's targets (count × per_example) to `d`: every file must give as many
// targets an example as the first did.
void append_targets(Dataset& d, std::span<const float> targets, std::uint64_t count, std::uint64_t per_example,
                    std::uint64_t examples, const std::string& features_file, const std::string& targets_file) {
  if (count != examples)
    throw DataError(features_file + ": holds " + std::to_string(examples) + " examples but " + targets_file +
                    " holds targets for " + std::to_string(count));
  if (d.target_count != 0 && per_example != static_cast<std::uint64_t>(d.target_count))
    throw DataError(targets_file + ": " + std::to_string(per_example) +
                    " targets an example, but the training data has " + std::to_string(d.target_count));
  d.target_count = static_cast<int>(per_example);
  d.targets.insert(d.targets.end(), targets.begin(), targets.end());
  d.labels.resize(d.labels.size() + examples, 0);
}

// One role's regression examples appended to `d`: features and targets from one CSV (its
// target columns) or .npz (its two arrays), or features from one file and targets from
// another (`label_path`, found beside an IDX or .npy file, or named by --train-targets).
IdxShape append_regression_pair(const std::string& role, const std::string& image_path, const std::string& label_path,
                                const ReadFormat& format, std::uint64_t expect_features, Dataset& d, bool& floats,
                                std::vector<std::string>& names) {
  const FileKind kind = file_kind(image_path);
  floats = true;
  std::uint64_t count = 0, per_example = 0;
  std::vector<float> targets;
  IdxShape shape;
  if (kind == FileKind::csv && label_path == image_path) {
    LabelCoding unused;
    std::vector<std::uint8_t> labels;
    const CsvShape s = append_csv(image_path, format.csv, CsvLabels::required, expect_features, kMaxClasses, unused,
                                  d.features, labels, &targets);
    shape = shape_of({s.count, s.features, 1}, image_path);
    count = s.count;
    per_example = static_cast<std::uint64_t>(s.targets);
    names = s.names;
  } else if (kind == FileKind::npz) {
    const NpzArchive npz = NpzArchive::read(image_path);
    const NpzKeys keys = npz_keys_for(npz, role, keys_for_role(format.npz_keys, role));
    const NpzArray x(npz, keys.features), y(npz, keys.labels);
    shape = shape_of(append_npy_features(x.array, x.name, d.features), image_path);
    targets = npy_targets(y.array, y.name, per_example);
    count = targets.size() / per_example;
  } else {
    const IdxInputs in = append_inputs(image_path, d, format, expect_features, CsvLabels::none);
    shape = in;
    floats = in.floats;
    targets = read_target_file(label_path, format.csv, count, per_example, names);
  }
  append_targets(d, targets, count, per_example, shape.count, image_path, label_path);
  return shape;
}

// Appends one role's examples to `d`; returns their shape. Every file holds one kind of
// input (bytes or floats) and one kind of label (whole numbers or, in CSV, names).
IdxShape append_pair(const std::string& role, const std::string& image_path, const std::string& label_path, int classes,
                     const ReadFormat& format, std::uint64_t expect_features, LabelCoding& coding, Dataset& d,
                     std::vector<std::string>& notes, std::vector<std::string>& target_names) {
  const bool first = d.labels.empty() && d.pixels.empty() && d.features.empty();
  std::vector<std::string> unused_names;
  const bool bytes_before = !first && !d.float_inputs;
  const FileKind kind = file_kind(image_path);
  if (kind != FileKind::csv && !coding.names.empty())
    throw DataError(image_path + ": holds whole-number labels but the training data's labels are names");
  IdxShape shape;
  if (format.regression()) {
    bool floats = true;
    shape = append_regression_pair(role, image_path, label_path, format, expect_features, d, floats,
                                   first ? target_names : unused_names);
    d.float_inputs = floats;
  } else if (kind == FileKind::csv) {
    const CsvShape s =
        append_csv(image_path, format.csv, CsvLabels::required, expect_features, classes, coding, d.features, d.labels);
    shape = shape_of({s.count, s.features, 1}, image_path);
    if (!s.note.empty()) notes.push_back(s.note);
    d.float_inputs = true;
  } else if (kind == FileKind::npz) {
    shape = append_npz(image_path, role, format.npz_keys, classes, d);
    d.float_inputs = true;
  } else {
    shape = append_idx_or_npy(image_path, label_path, classes, d);
  }
  coding.decided = true;
  if (!first && bytes_before == d.float_inputs)
    throw DataError(image_path + ": holds " + (d.float_inputs ? "float32 values" : "bytes") +
                    " but the training file " + (bytes_before ? "bytes" : "float32 values") +
                    "; every file must hold one kind");
  return shape;
}

// The labels file beside a features file: the last "images" in its name becomes "labels" and
// "idx3" becomes "idx1" (train-images-idx3-ubyte → train-labels-idx1-ubyte); failing that, a
// leading x becomes y (NumPy's x_train.npy → y_train.npy).
std::string labels_beside(const std::string& images) {
  const fs::path path(images);
  std::string name = path.filename().string();
  const std::size_t at = name.rfind("images");
  if (at == std::string::npos && !name.empty() && (name[0] == 'x' || name[0] == 'X')) {
    name[0] = 'y';
    return (path.parent_path() / name).string();
  }
  if (at == std::string::npos)
    throw DataError(images +
                    ": no labels file can be named after it (expected 'images' in the name, as in "
                    "train-images-idx3-ubyte, or a leading x, as in x_train.npy)");
  name.replace(at, 6, "labels");
  if (const std::size_t idx3 = name.find("idx3"); idx3 != std::string::npos) name.replace(idx3, 4, "idx1");
  return (path.parent_path() / name).string();
}

// A recorded name's bytes: percent-encoded since format version 3 (name_encoding.hpp), as they
// were before it.
std::string recorded_name(const std::map<std::string, std::string>& metadata, const std::string& value) {
  auto version = metadata.find("format_version");
  const bool encoded = version != metadata.end() && version->second != "1" && version->second != "2";
  return encoded ? decode_name(value) : value;
}

// A path as recorded: absolute, so a resume, eval or predict from another folder finds it.
std::string recorded_path(const std::string& path) {
  std::error_code ec;
  const fs::path absolute = fs::absolute(path, ec);
  return encode_name((ec ? fs::path(path) : absolute).lexically_normal().string());
}

}  // namespace

IdxInputs append_inputs(const std::string& path, Dataset& d, const ReadFormat& format, std::uint64_t expect_features,
                        CsvLabels csv_labels) {
  const FileKind kind = file_kind(path);
  NpyShape s;
  if (kind == FileKind::idx) return append_idx_inputs(path, d.pixels, d.features);
  if (kind == FileKind::npy) s = append_npy_features(path, d.features);
  if (kind == FileKind::npz) {
    const NpzArchive npz = NpzArchive::read(path);
    const NpzArray x(npz, npz_keys_for(npz, "test", keys_for_role(format.npz_keys, "test"), false).features);
    s = append_npy_features(x.array, x.name, d.features);
  }
  if (kind == FileKind::csv) {
    LabelCoding unread;  // a label column, when there is one, is skipped unread
    std::vector<std::uint8_t> no_labels;
    const CsvShape c =
        append_csv(path, format.csv, csv_labels, expect_features, kMaxClasses, unread, d.features, no_labels);
    s = {c.count, c.features, 1};
  }
  const IdxShape shape = shape_of(s, path);
  IdxInputs in;
  in.floats = true;
  in.count = shape.count;
  in.rows = shape.rows;
  in.cols = shape.cols;
  return in;
}

DataFiles mnist_folder_files(const std::string& dir) {
  DataFiles f;
  f.folder = dir;
  f.train_images = find_file(dir, "train-images", "idx3-ubyte");
  f.train_labels = find_file(dir, "train-labels", "idx1-ubyte");
  f.test_images = find_file(dir, "t10k-images", "idx3-ubyte");
  f.test_labels = find_file(dir, "t10k-labels", "idx1-ubyte");
  return f;
}

DataFiles role_files(const std::string& train, const std::string& test, const std::string& val,
                     const ReadFormat& format, const RoleTargets& targets) {
  DataFiles f;
  f.format = format;
  auto labels_of = [](const std::string& path, const std::string& named) {
    if (!named.empty()) return named;
    // A missing file is called that, whatever its name would say of its labels.
    if (const std::string problem = input_problem(path); !problem.empty()) throw DataError(path + ": " + problem);
    return holds_labels(path) ? path : labels_beside(path);
  };
  f.train_images = train;
  f.train_labels = labels_of(train, targets.train);
  if (!test.empty()) f.test_images = test, f.test_labels = labels_of(test, targets.test);
  if (!val.empty()) f.val_images = val, f.val_labels = labels_of(val, targets.val);
  return f;
}

std::string DataFiles::describe() const {
  if (!folder.empty()) return folder;
  if (train_role != "train") return train_images;  // one file, tested whole
  std::string s = train_images;
  s += " (train)";
  for (auto [path, role] : {std::pair{&test_images, " (test)"}, std::pair{&val_images, " (validation)"}})
    if (!path->empty()) {
      s += ", ";
      s += *path;
      s += role;
    }
  return s;
}

std::vector<std::string> listed_files(const DataFiles& f) {
  std::vector<std::string> out;
  for (const std::string* p :
       {&f.train_images, &f.train_labels, &f.test_images, &f.test_labels, &f.val_images, &f.val_labels})
    if (!p->empty() && std::find(out.begin(), out.end(), *p) == out.end()) out.push_back(*p);
  return out;
}

MnistData load_data_files(const DataFiles& files, int classes, const LabelCoding& coding) {
  std::error_code ec;
  if (!files.folder.empty()) {
    if (!fs::exists(files.folder, ec))
      throw DataError("data folder '" + files.folder +
                      "' not found; run tools/setup.sh to fetch MNIST, or pass --data-dir");
    if (!fs::is_directory(files.folder, ec)) throw DataError("data folder '" + files.folder + "' is not a folder");
  }
  MnistData m;
  m.coding = coding;
  // One buffer for every file, sized from the files up front: growing it would briefly hold
  // two copies of the images. The readers still validate every header.
  std::uint64_t hint = 0;
  for (const std::string* p : {&files.train_images, &files.test_images, &files.val_images})
    if (!p->empty() && file_kind(*p) == FileKind::idx) hint += idx_size_hint(*p);
  m.all.pixels.reserve(hint);
  const IdxShape train = append_pair(files.train_role, files.train_images, files.train_labels, classes, files.format, 0,
                                     m.coding, m.all, m.notes, m.target_names);
  m.train_file_count = train.count;
  m.rows = train.rows;
  m.cols = train.cols;
  auto add = [&](const char* role, const std::string& images, const std::string& labels, std::size_t& count) {
    if (images.empty()) return;
    const IdxShape s = append_pair(role, images, labels, classes, files.format, train.rows * train.cols, m.coding,
                                   m.all, m.notes, m.target_names);
    if (s.rows != train.rows || s.cols != train.cols)
      throw DataError(images + ": its images are " + std::to_string(s.rows) + "x" + std::to_string(s.cols) +
                      " but the training images are " + std::to_string(train.rows) + "x" + std::to_string(train.cols));
    count = s.count;
  };
  add("test", files.test_images, files.test_labels, m.test_file_count);
  add("val", files.val_images, files.val_labels, m.val_file_count);
  m.all.image_size = static_cast<int>(train.rows * train.cols);
  return m;
}

MnistData load_mnist(const std::string& dir, int classes) { return load_data_files(mnist_folder_files(dir), classes); }

std::map<std::string, std::string> data_metadata(const MnistData& data, const DataFiles& files) {
  const std::string_view labels(reinterpret_cast<const char*>(data.all.labels.data()), data.all.labels.size());
  const std::string shape = std::to_string(data.rows) + "x" + std::to_string(data.cols);
  std::string counts = std::to_string(data.train_file_count) + "+" + std::to_string(data.test_file_count);
  if (!files.val_images.empty()) {
    counts += '+';
    counts += std::to_string(data.val_file_count);
  }
  counts += " of ";
  counts += shape;
  std::map<std::string, std::string> m{{"data_images", counts},
                                       {"input_kind", data.all.float_inputs ? "float32" : "bytes"},
                                       {"data_labels_hash", hash_hex(bytes_hash(labels))},
                                       {"image_shape", shape}};
  if (!files.folder.empty()) {
    m["data_dir"] = recorded_path(files.folder);
  } else {
    m["data_train"] = recorded_path(files.train_images);
    if (!files.test_images.empty()) m["data_test"] = recorded_path(files.test_images);
    if (!files.val_images.empty()) m["data_val"] = recorded_path(files.val_images);
  }
  const ReadFormat& f = files.format;
  if (f.regression()) {
    const std::string_view targets(reinterpret_cast<const char*>(data.all.targets.data()),
                                   data.all.targets.size() * sizeof(float));
    m["data_labels_hash"] = hash_hex(bytes_hash(targets));
    m["csv_target_columns"] = encoded_names(f.csv.target_columns).dump();
    if (!data.target_names.empty()) m["target_names"] = encoded_names(data.target_names).dump();
    for (auto [images, labels, key] : {std::tuple{&files.train_images, &files.train_labels, "data_train_targets"},
                                       std::tuple{&files.test_images, &files.test_labels, "data_test_targets"},
                                       std::tuple{&files.val_images, &files.val_labels, "data_val_targets"}})
      if (!labels->empty() && *labels != *images && files.folder.empty()) m[key] = recorded_path(*labels);
  }
  if (f.csv.header != CsvHeader::detect) m["csv_header"] = name_of(f.csv.header);
  if (f.csv.label_column != "last") m["csv_label_column"] = encode_name(f.csv.label_column);
  if (!f.npz_keys.features.empty()) m["npz_keys"] = encode_name(f.npz_keys.features + "," + f.npz_keys.labels);
  if (!data.coding.names.empty()) m["class_names"] = encoded_names(data.coding.names).dump();
  return m;
}

ReadFormat recorded_format(const std::map<std::string, std::string>& metadata) {
  ReadFormat f;
  if (auto it = metadata.find("csv_header"); it != metadata.end()) try {
      f.csv.header = parse_choice<CsvHeader>(it->second);
    } catch (const UsageError& e) {
      throw DataError(std::string("the model's metadata csv_header: ") + e.what());
    }
  if (auto it = metadata.find("csv_label_column"); it != metadata.end())
    f.csv.label_column = recorded_name(metadata, it->second);
  if (auto it = metadata.find("npz_keys"); it != metadata.end())
    f.npz_keys = parse_npz_keys(recorded_name(metadata, it->second));
  if (auto it = metadata.find("task"); it != metadata.end() && it->second == name_of(Task::regression)) {
    f.task = Task::regression;
    f.csv.target_columns = recorded_names(metadata, "csv_target_columns", "the model's metadata");
    if (f.csv.target_columns.empty()) f.csv.target_columns = {"last"};
  }
  return f;
}

std::vector<std::string> recorded_names(const std::map<std::string, std::string>& metadata, const std::string& key,
                                        const std::string& path) {
  std::vector<std::string> out;
  auto it = metadata.find(key);
  if (it == metadata.end()) return out;
  const nlohmann::json names = nlohmann::json::parse(it->second, nullptr, false);
  if (!names.is_array() || names.size() > kMaxClasses)
    throw DataError(path + ": metadata " + key + " must be a JSON array of at most 256 names");
  for (const auto& n : names) {
    if (!n.is_string()) throw DataError(path + ": metadata " + key + " must be a JSON array of names");
    out.push_back(recorded_name(metadata, n.get<std::string>()));
  }
  return out;
}

LabelCoding recorded_coding(const std::map<std::string, std::string>& metadata, const std::string& path) {
  LabelCoding c;
  c.decided = true;
  auto it = metadata.find("class_names");
  if (it == metadata.end()) return c;
  const nlohmann::json names = nlohmann::json::parse(it->second, nullptr, false);
  if (!names.is_array() || names.empty() || names.size() > kMaxClasses)
    throw DataError(path + ": metadata class_names must be a JSON array of 1 to 256 names");
  for (const auto& n : names) {
    if (!n.is_string()) throw DataError(path + ": metadata class_names must be a JSON array of names");
    c.names.push_back(recorded_name(metadata, n.get<std::string>()));
  }
  if (!std::is_sorted(c.names.begin(), c.names.end()) ||
      std::adjacent_find(c.names.begin(), c.names.end()) != c.names.end())
    throw DataError(path + ": metadata class_names must be distinct and in sorted order");
  return c;
}

nlohmann::json encoded_names(const std::vector<std::string>& names) {
  nlohmann::json out = nlohmann::json::array();
  for (const std::string& n : names) out.push_back(encode_name(n));
  return out;
}

NpzKeys parse_npz_keys(const std::string& text) {
  const std::size_t comma = text.find(',');
  NpzKeys k;
  if (comma != std::string::npos) k = {text.substr(0, comma), text.substr(comma + 1)};
  if (k.features.empty() || k.labels.empty() || k.labels.find(',') != std::string::npos)
    throw UsageError("--npz-keys '" + text + "': expected two array names, FEATURES,LABELS (e.g. x_{role},y_{role})");
  return k;
}

DataFiles recorded_files(const std::map<std::string, std::string>& metadata) {
  auto get = [&](const char* key) {
    auto it = metadata.find(key);
    return it == metadata.end() ? std::string() : recorded_name(metadata, it->second);
  };
  if (!get("data_train").empty())
    return role_files(get("data_train"), get("data_test"), get("data_val"), recorded_format(metadata),
                      {get("data_train_targets"), get("data_test_targets"), get("data_val_targets")});
  if (!get("data_dir").empty()) return mnist_folder_files(get("data_dir"));
  return {};
}

std::string data_difference(const std::map<std::string, std::string>& recorded,
                            const std::map<std::string, std::string>& now) {
  for (const char* key : {"data_images", "data_labels_hash"}) {
    auto it = recorded.find(key);
    if (it != recorded.end() && it->second != now.at(key))
      return std::string(key) + " " + now.at(key) + " (the model's: " + it->second + ")";
  }
  return "";
}

Split seed_split(std::size_t total, std::uint64_t seed) {
  std::vector<std::uint32_t> order(total);
  std::iota(order.begin(), order.end(), 0u);
  auto rng = make_stream(seed, Stream::split);
  shuffle(order, rng);
  std::size_t n_train = total * 7 / 10, n_val = total / 10;
  Split s;
  s.train.assign(order.begin(), order.begin() + n_train);
  s.val.assign(order.begin() + n_train, order.begin() + n_train + n_val);
  s.test.assign(order.begin() + n_train + n_val, order.end());
  return s;
}

Split standard_split(const MnistData& data, std::size_t val_size) {
  const std::size_t train_file_count = data.train_file_count, test_file_count = data.test_file_count;
  if (val_size >= train_file_count)
    throw UsageError("--val-size " + std::to_string(val_size) + " leaves no training images (the training file has " +
                     std::to_string(train_file_count) + ")");
  Split s;
  std::size_t n_train = train_file_count - val_size;
  s.train.resize(n_train);
  std::iota(s.train.begin(), s.train.end(), 0u);
  s.val.resize(val_size);
  std::iota(s.val.begin(), s.val.end(), static_cast<std::uint32_t>(n_train));
  s.test.resize(test_file_count);
  std::iota(s.test.begin(), s.test.end(), static_cast<std::uint32_t>(train_file_count));
  if (data.val_file_count > 0) {  // the validation file validates, after the test file's images
    s.val.resize(data.val_file_count);
    std::iota(s.val.begin(), s.val.end(), static_cast<std::uint32_t>(train_file_count + test_file_count));
  }
  return s;
}

}  // namespace ptrain
