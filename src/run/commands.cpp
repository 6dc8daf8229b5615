#include "ptrain/run/commands.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <numeric>
#include <ostream>
#include <sstream>

#include "ptrain/io/dataset.hpp"
#include "ptrain/io/input_transform.hpp"
#include "ptrain/core/profile.hpp"
#include "ptrain/io/idx.hpp"
#include "ptrain/io/atomic_file.hpp"
#include "ptrain/run/engine_factory.hpp"
#include "ptrain/run/loaded_model.hpp"
#include "ptrain/core/errors.hpp"
#include "ptrain/run/metrics.hpp"
#include "ptrain/run/onnx_export.hpp"
#include "ptrain/run/regression_scores.hpp"
#include "ptrain/run/run_files.hpp"
#include "ptrain/io/model_file.hpp"
#include "ptrain/io/name_encoding.hpp"
#include "ptrain/io/pgm.hpp"
#include "ptrain/core/threads.hpp"

namespace ptrain {
namespace {

// Class c as the data spelled it: its name, or its number.
std::string class_name(const LoadedModel& m, std::size_t c) {
  return m.coding.names.empty() ? std::to_string(c) : m.coding.names[c];
}

// A CSV field: quoted (quotes doubled) when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// A model trained on float32 features takes those, one trained on bytes takes bytes.
void require_input_kind(const LoadedModel& m, bool floats, const std::string& path) {
  const bool model_floats = m.float_inputs;
  if (floats != model_floats)
    throw DataError(path + ": holds " + (floats ? "float32 values" : "bytes") + " but " + m.path + " was trained on " +
                    (model_floats ? "float32 values" : "bytes"));
}

struct TestSet {
  MnistData mnist;
  std::string name;  // the folder or file, for messages
  std::string kind;  // how the test set was chosen: the split's name, or "whole file"
  Split split;
};

// The data to test on: --test's file whole; else --data-dir's folder; else the files the model
// was trained on, or the default folder.
DataFiles test_files(const InferenceConfig& cfg, const LoadedModel& m) {
  const ReadFormat format = inference_format(cfg, m.file.metadata);
  if (!cfg.test_targets.empty() && !m.spec().regression())
    throw UsageError("--test-targets applies to a regression's model; " + cfg.model + " classifies");
  if (!cfg.test_file.empty()) {
    DataFiles whole = role_files(cfg.test_file, "", "", format, {cfg.test_targets, "", ""});
    whole.train_role = "test";
    return whole;
  }
  DataFiles recorded = recorded_files(m.file.metadata);
  recorded.format = format;
  std::error_code ec;  // a recorded folder that is gone (or relative, from before paths were absolute): the default
  const bool folder_there = !recorded.folder.empty() && std::filesystem::is_directory(recorded.folder, ec);
  if (!cfg.data_dir_given && (folder_there || (recorded.folder.empty() && !recorded.train_images.empty())))
    return recorded;
  return mnist_folder_files(cfg.data_dir);
}

// The model's data and split: the split, its seed and validation size default to the model's
// own, so the test set is the one its training run reported on.
TestSet load_test_set(const InferenceConfig& cfg, const LoadedModel& m) {
  TestSet t;
  const DataFiles files = test_files(cfg, m);
  t.name = files.describe();
  t.mnist = load_data_files(files, m.spec().classes(), m.coding);
  require_input_kind(m, t.mnist.all.float_inputs, files.name());
  m.transform.apply(t.mnist.all);
  m.target_transform.apply(t.mnist.all);  // as the net was trained on them; scores map both back
  if (m.spec().regression() && t.mnist.all.target_count != m.spec().classes())
    throw UsageError(cfg.model + " predicts " + std::to_string(m.spec().classes()) + " targets but " + t.name +
                     " has " + std::to_string(t.mnist.all.target_count) + " an example");
  if (t.mnist.all.image_size != m.spec().inputs())
    throw UsageError(cfg.model + " takes " + std::to_string(m.spec().inputs()) + " inputs but the images in " + t.name +
                     " have " + std::to_string(t.mnist.all.image_size) + " pixels");
  if (!cfg.test_file.empty()) {
    t.kind = "whole file";
    t.split.test.resize(t.mnist.all.size());
    std::iota(t.split.test.begin(), t.split.test.end(), 0u);
    return t;
  }
  const std::uint64_t seed = cfg.seed.value_or(m.recipe.seed);
  const std::size_t val = cfg.val_size.value_or(m.recipe.val_size);
  const SplitKind kind = cfg.split.value_or(m.recipe.split);
  if (kind != SplitKind::standard && cfg.val_size)
    throw UsageError("--val-size applies only to --split standard, and " + cfg.model +
                     " was trained on the seed split");
  t.kind = std::string("split ") + name_of(kind);
  t.split = kind == SplitKind::standard ? standard_split(t.mnist, val) : seed_split(t.mnist.all.size(), seed);
  return t;
}

std::size_t argmax(const float* v, int n) { return static_cast<std::size_t>(std::max_element(v, v + n) - v); }

// Two characters per pixel keep the picture's aspect in a terminal.
void draw(std::ostream& out, const std::uint8_t* pixels, int width, int height) {
  static const char ramp[] = " .:-=+*#%@";
  for (int y = 0; y < height; ++y) {
    out << "  |";
    for (int x = 0; x < width; ++x) {
      const char c = ramp[pixels[y * width + x] * 9 / 255];
      out << c << c;
    }
    out << "|\n";
  }
}

}  // namespace

namespace {

// A regression's eval: RMSE, MAE and R² averaged over the targets, then per target.
void eval_regression(const InferenceConfig& cfg, const LoadedModel& m, const TestSet& t, std::ostream& terminal) {
  const std::vector<std::uint32_t>& test = t.split.test;
  ThreadLimit threads(cfg.threads);
  const RegressionScores s =
      *threads.run([&] { return regression_scores(*m.engine, t.mnist.all, test, m.target_transform); });
  std::ostringstream out;
  out << "model " << cfg.model << ": net " << m.spec().describe() << ", " << t.kind << " of " << t.name << ", "
      << test.size() << " test examples\n"
      << "test " << scores_text(s) << std::setprecision(4) << "\n\ntarget        RMSE         MAE      R²  name\n";
  for (std::size_t j = 0; j < s.r2.size(); ++j)
    out << std::setw(6) << j + 1 << "  " << std::setw(10) << s.rmse[j] << "  " << std::setw(10) << s.mae[j] << "  "
        << std::fixed << std::setw(6) << s.r2[j] << std::defaultfloat << "  " << m.target_names[j] << "\n";
  nlohmann::json report{{"test_rmse", s.mean_rmse},  {"test_mae", s.mean_mae},
                        {"test_r2", s.mean_r2},      {"test_examples", test.size()},
                        {"per_target_rmse", s.rmse}, {"per_target_mae", s.mae},
                        {"per_target_r2", s.r2},     {"target_names", encoded_names(m.target_names)}};
  write_json_file(cfg.metrics_path, report);
  terminal << terminal_text(out.str());
}

}  // namespace

void run_eval(const InferenceConfig& cfg, std::ostream& terminal) {
  check_eval_files(cfg);
  std::ostringstream out;  // printed whole, names escaped
  LoadedModel m = load_model(cfg.model);
  TestSet t = load_test_set(cfg, m);
  const std::vector<std::uint32_t>& test = t.split.test;
  if (test.empty()) throw DataError(t.name + ": the test set is empty");
  if (m.spec().regression()) return eval_regression(cfg, m, t, terminal);
  ThreadLimit threads(cfg.threads);
  const std::vector<float> scores = threads.run([&] { return m.engine->outputs(t.mnist.all, test); });
  const int classes = m.spec().classes();
  std::vector<std::vector<std::uint64_t>> confusion(classes, std::vector<std::uint64_t>(classes, 0));
  std::uint64_t correct = 0;
  for (std::size_t e = 0; e < test.size(); ++e) {
    const std::size_t truth = t.mnist.all.labels[test[e]], guess = argmax(scores.data() + e * classes, classes);
    ++confusion[truth][guess];
    correct += truth == guess;
  }
  const double accuracy = 100.0 * static_cast<double>(correct) / static_cast<double>(test.size());
  nlohmann::json per_class = nlohmann::json::array();
  out << "model " << cfg.model << ": net " << m.spec().describe() << ", " << t.kind << " of " << t.name << ", "
      << test.size() << (t.mnist.all.float_inputs ? " test examples\n" : " test images\n") << "test accuracy "
      << std::fixed << std::setprecision(2) << accuracy << "% (" << correct << "/" << test.size()
      << ")\n\nclass  accuracy  images" << (m.coding.names.empty() ? "" : "  name") << "\n";
  for (int c = 0; c < classes; ++c) {
    std::uint64_t n = 0;
    for (std::uint64_t v : confusion[c]) n += v;
    const double a = n ? 100.0 * static_cast<double>(confusion[c][c]) / static_cast<double>(n) : 0.0;
    per_class.push_back(n ? nlohmann::json(a) : nlohmann::json());
    out << std::setw(5) << c << "  " << std::setw(7) << (n ? a : 0.0) << "%  " << std::setw(6) << n;
    out << (m.coding.names.empty() ? "" : "  " + class_name(m, c)) << "\n";
  }
  out << "\nconfusion matrix (rows: true label, columns: predicted)\n      ";
  for (int c = 0; c < classes; ++c) out << std::setw(6) << c;
  out << "\n";
  for (int r = 0; r < classes; ++r) {
    out << std::setw(6) << r;
    for (int c = 0; c < classes; ++c) out << std::setw(6) << confusion[r][c];
    out << "\n";
  }
  nlohmann::json report{{"test_accuracy", accuracy},
                        {"test_images", test.size()},
                        {"per_class_accuracy", per_class},
                        {"confusion_matrix", confusion}};
  if (!m.coding.names.empty()) report["class_names"] = encoded_names(m.coding.names);
  write_json_file(cfg.metrics_path, report);
  terminal << terminal_text(out.str());
}

namespace {

// A regression's predictions as CSV: index, then one column per target headed by its name, in
// the targets' units (7 significant digits: float32's).
void prediction_rows(std::ostream& csv, const LoadedModel& m, const std::vector<float>& outputs, std::size_t count) {
  const int targets = m.spec().classes();
  const std::vector<double> values = outputs_in_units(outputs, targets, m.target_transform);
  csv << "index";
  for (const std::string& name : m.target_names) csv << "," << csv_field(name);
  csv << "\n" << std::setprecision(7);
  for (std::size_t e = 0; e < count; ++e) {
    csv << e;
    for (int j = 0; j < targets; ++j) csv << "," << values[e * targets + j];
    csv << "\n";
  }
}

// Every example of a file through the model, all threads: a CSV row each (index, predicted
// class — its name when the labels were names —, every class's score, 6 significant digits), to
// --output atomically or to `out`.
void predict_file(const InferenceConfig& cfg, const LoadedModel& m, std::ostream& out) {
  Dataset data;
  const IdxInputs images = append_inputs(cfg.input, data, inference_format(cfg, m.file.metadata), m.spec().inputs());
  const std::string shape = std::to_string(images.rows) + "x" + std::to_string(images.cols);
  require_input_kind(m, images.floats, cfg.input);
  auto recorded = m.file.metadata.find("image_shape");
  if ((recorded != m.file.metadata.end() && recorded->second != shape) ||
      static_cast<int>(images.rows * images.cols) != m.spec().inputs())
    throw DataError(cfg.input + ": " + shape + " images, but " + cfg.model + " takes " +
                    (recorded != m.file.metadata.end() ? recorded->second + " images"
                                                       : std::to_string(m.spec().inputs()) + " pixels"));
  data.image_size = m.spec().inputs();
  data.float_inputs = images.floats;
  data.labels.assign(images.count, 0);
  m.transform.apply(data);
  std::vector<std::uint32_t> all(images.count);
  std::iota(all.begin(), all.end(), 0u);
  ThreadLimit threads(cfg.threads);
  const auto start = ProfileClock::now();
  const std::vector<float> scores = threads.run([&] { return m.engine->outputs(data, all); });
  const double seconds = seconds_between(start, ProfileClock::now());
  const int classes = m.spec().classes();
  std::ostringstream csv;
  if (m.spec().regression()) {
    prediction_rows(csv, m, scores, all.size());
  } else {
    csv << "index,predicted";
    for (int c = 0; c < classes; ++c) csv << ",score_" << c;
    csv << "\n" << std::setprecision(6);
    for (std::size_t e = 0; e < all.size(); ++e) {
      const float* s = scores.data() + e * classes;
      csv << e << "," << csv_field(class_name(m, argmax(s, classes)));
      for (int c = 0; c < classes; ++c) csv << "," << s[c];
      csv << "\n";
    }
  }
  if (cfg.output.empty()) {  // the CSV's bytes as they are, unless a terminal shows them
    out << (cfg.terminal ? terminal_text(csv.str()) : csv.str());
    return;
  }
  write_file_atomically(cfg.output, csv.str(), "--output " + cfg.output);
  const char* what = images.floats ? " examples" : " images";
  out << "predicted " << all.size() << what << " of " << terminal_text(cfg.input, false) << " into "
      << terminal_text(cfg.output, false) << " (" << std::fixed << std::setprecision(0)
      << static_cast<double>(all.size()) / std::max(seconds, 1e-9) << what << "/s, " << threads.threads()
      << (threads.threads() == 1 ? " thread)\n" : " threads)\n");
}

}  // namespace

void run_predict(const InferenceConfig& cfg, std::ostream& terminal) {
  check_predict_files(cfg);
  LoadedModel m = load_model(cfg.model);
  if (!cfg.input.empty()) return predict_file(cfg, m, terminal);
  std::ostringstream out;  // printed whole, names escaped
  Dataset one;
  one.image_size = m.spec().inputs();
  int width = 0, height = 0;
  std::string source;
  std::optional<int> truth;
  std::vector<double> truth_targets;  // regression: the example's targets, in their units
  if (!cfg.image.empty()) {
    require_input_kind(m, false, cfg.image);
    GreyImage img = read_pgm(cfg.image);
    const std::string shape = std::to_string(img.height) + "x" + std::to_string(img.width);  // rows x columns
    auto recorded = m.file.metadata.find("image_shape");
    if (recorded != m.file.metadata.end() && recorded->second != shape)
      throw DataError(cfg.image + ": a " + std::to_string(img.width) + "x" + std::to_string(img.height) +
                      " image (width x height), but the model was trained on " + recorded->second +
                      " images (rows x columns)");
    if (img.width * img.height != m.spec().inputs())
      throw DataError(cfg.image + ": a " + std::to_string(img.width) + "x" + std::to_string(img.height) +
                      " image, but the model takes " + std::to_string(m.spec().inputs()) + " pixels");
    width = img.width;
    height = img.height;
    one.pixels = std::move(img.pixels);
    source = cfg.image;
  } else {
    TestSet t = load_test_set(cfg, m);
    if (*cfg.index >= t.split.test.size())
      throw UsageError("--index " + std::to_string(*cfg.index) + ": the test set has " +
                       std::to_string(t.split.test.size()) + " images (0 to " +
                       std::to_string(t.split.test.size() - 1) + ")");
    const std::uint32_t i = t.split.test[*cfg.index];
    one.float_inputs = t.mnist.all.float_inputs;
    if (one.float_inputs)
      one.features.assign(t.mnist.all.row(i), t.mnist.all.row(i) + one.image_size);
    else
      one.pixels.assign(t.mnist.all.image(i), t.mnist.all.image(i) + one.image_size);
    truth = t.mnist.all.labels[i];
    for (int j = 0; j < t.mnist.all.target_count; ++j)
      truth_targets.push_back(m.target_transform.in_units(t.mnist.all.target(i)[j], j));
    const int side = static_cast<int>(std::lround(std::sqrt(one.image_size)));
    width = side * side == one.image_size ? side : one.image_size;
    height = one.image_size / width;
    source = "test image " + std::to_string(*cfg.index) + " of " + t.kind + " of " + t.name;
  }
  one.labels = {0};
  const std::vector<std::uint32_t> index{0};
  ThreadLimit threads(cfg.threads);
  const std::vector<float> scores = threads.run([&] { return m.engine->outputs(one, index); });
  const int classes = m.spec().classes();
  out << source << " (" << width << "x" << height << "):\n";
  if (!one.float_inputs) draw(out, one.pixels.data(), width, height);
  if (m.spec().regression()) {
    const std::vector<double> values = outputs_in_units(scores, classes, m.target_transform);
    for (int j = 0; j < classes; ++j) {
      out << "predicted " << m.target_names[j] << " " << std::setprecision(7) << values[j];
      if (!truth_targets.empty()) out << " (target " << truth_targets[j] << ")";
      out << "\n";
    }
    terminal << terminal_text(out.str());
    return;
  }
  out << "predicted " << class_name(m, argmax(scores.data(), classes));
  if (truth) out << " (label " << class_name(m, *truth) << ")";
  out << "\nscores ";
  for (int c = 0; c < classes; ++c) out << " " << c << ":" << std::fixed << std::setprecision(4) << scores[c];
  out << "\n";
  terminal << terminal_text(out.str());
}

void run_export(const InferenceConfig& cfg, std::ostream& out) {
  check_export_files(cfg);
  const LoadedModel model = describe_model(load_model_file(cfg.model), cfg.model);
  export_onnx(model, cfg.output, "--output " + cfg.output);
  const NetSpec& spec = model.spec();
  out << "exported " << cfg.model << " (" << spec.describe() << ", " << name_of(spec.task) << ") to " << cfg.output
      << ": input [N, " << spec.inputs() << "] float32; "
      << (spec.regression() ? "predictions [N, " + std::to_string(spec.classes()) + "]"
                            : "probabilities [N, " + std::to_string(spec.classes()) + "], label [N]")
      << "\n";
}

}  // namespace ptrain
