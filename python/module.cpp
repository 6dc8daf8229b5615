// The ptrain Python extension: NumPy arrays in, a trained model out, over the same library the
// command line uses. Options arrive as the command line's texts (the Python package spells them),
// so they are read — and refused — by the same code, with the same messages.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "ptrain/core/config.hpp"
#include "ptrain/core/errors.hpp"
#include "ptrain/core/float32_range.hpp"
#include "ptrain/core/float_mode.hpp"
#include "ptrain/core/recipe.hpp"
#include "ptrain/core/text_parsers.hpp"
#include "ptrain/run/array_training.hpp"
#include "exit_gate.hpp"

namespace py = pybind11;
using namespace ptrain;
using ptrain_python::ExitGate;
using ptrain_python::InterpreterExiting;

namespace {

// A CSR matrix as the package hands it over: (values float32, columns int32, offsets int64,
// features), read in place; every offset and column checked, every stored value finite.
Dataset sparse_examples_of(const py::tuple& csr, const char* name, std::vector<py::object>& keep) {
  constexpr auto kInPlace = py::array::c_style | py::array::forcecast;
  if (csr.size() != 4) throw UsageError(std::string(name) + ": a sparse matrix in CSR form is expected");
  const auto values = py::array_t<float, kInPlace>::ensure(csr[0]);
  const auto columns = py::array_t<std::int32_t, kInPlace>::ensure(csr[1]);
  const auto offsets = py::array_t<std::int64_t, kInPlace>::ensure(csr[2]);
  const long long features = csr[3].cast<long long>();
  if (!values || !columns || !offsets || offsets.size() < 1 || features < 1 || features > (1 << 24) ||
      columns.size() != values.size())
    throw UsageError(std::string(name) + ": a sparse matrix of 1 to 16777216 columns, in CSR form, is expected");
  keep.insert(keep.end(), {values, columns, offsets});
  const std::size_t n = static_cast<std::size_t>(offsets.size()) - 1, stored = static_cast<std::size_t>(values.size());
  const std::int64_t* at = offsets.data();
  for (std::size_t i = 0; i < n; ++i)
    if (at[i] < 0 || at[i] > at[i + 1] || static_cast<std::size_t>(at[i + 1]) > stored)
      throw UsageError(std::string(name) + ": the sparse matrix's row pointers are malformed at row " +
                       std::to_string(i));
  if (at[0] != 0 || static_cast<std::size_t>(at[n]) != stored)
    throw UsageError(std::string(name) + ": the sparse matrix's row pointers do not span its values");
  for (std::size_t k = 0; k < stored; ++k) {
    if (columns.data()[k] < 0 || columns.data()[k] >= features)
      throw UsageError(std::string(name) + ": a sparse entry's column " + std::to_string(columns.data()[k]) +
                       " is outside 0-" + std::to_string(features - 1));
    if (!std::isfinite(values.data()[k]))
      throw UsageError(std::string(name) + ": stored value " + std::to_string(k) + " is not a finite float32");
  }
  Dataset d;
  d.image_size = static_cast<int>(features);
  d.labels.assign(n, 0);
  d.float_inputs = true;
  d.sparse_values = values.data();
  d.sparse_columns = columns.data();
  d.sparse_offsets = at;
  return d;
}

// X as the library reads examples: uint8 is bytes (scaled by 1/255 like images), anything else
// float32 rows; 2-D (N × F) or 3-D (N × R × C, flattened); or a CSR tuple (above). C-contiguous
// uint8 and float32 arrays are read in place (`keep` holds them while the data set lives);
// others are converted once.
Dataset examples_of(const py::object& X_object, const char* name, std::vector<py::object>& keep) {
  if (py::isinstance<py::tuple>(X_object)) return sparse_examples_of(X_object.cast<py::tuple>(), name, keep);
  const py::array X = X_object.cast<py::array>();
  if (X.ndim() != 2 && X.ndim() != 3)
    throw UsageError(std::string(name) + " must be 2-D (examples × features) or 3-D (examples × rows × columns)");
  Dataset d;
  const std::size_t n = static_cast<std::size_t>(X.shape(0));
  std::size_t per = 1;
  for (py::ssize_t i = 1; i < X.ndim(); ++i) per *= static_cast<std::size_t>(X.shape(i));
  if (per == 0 || per > (1u << 24)) throw UsageError(std::string(name) + ": 1 to 16777216 values an example");
  d.image_size = static_cast<int>(per);
  d.labels.assign(n, 0);
  if (py::isinstance<py::array_t<std::uint8_t>>(X)) {
    const auto a = py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>::ensure(X);
    keep.push_back(a);
    d.pixel_view = a.data();
    return d;
  }
  const auto a = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(X);
  if (!a) throw UsageError(std::string(name) + " must hold numbers");
  keep.push_back(a);  // X itself when it was C-contiguous float32, else its one converted copy
  d.feature_view = a.data();
  d.float_inputs = true;
  for (std::size_t i = 0; i < n * per; ++i)
    if (!std::isfinite(d.feature_view[i]))
      throw UsageError(std::string(name) + ": value " + std::to_string(i % per) + " of example " +
                       std::to_string(i / per) + " is not a finite float32");
  return d;
}

void set_labels(Dataset& d, const py::array& y, const char* name) {
  const auto a = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(y);
  if (!a || a.ndim() != 1 || static_cast<std::size_t>(a.shape(0)) != d.labels.size())
    throw UsageError(std::string(name) + " must be 1-D with one label per example (" + std::to_string(d.labels.size()) +
                     ")");
  for (std::size_t i = 0; i < d.labels.size(); ++i) {
    const double v = a.data()[i];
    if (!(v >= 0 && v <= 255 && v == std::floor(v)))
      throw UsageError(std::string(name) + ": label " + std::to_string(v) + " at index " + std::to_string(i) +
                       " is not a whole number from 0 to 255");
    d.labels[i] = static_cast<std::uint8_t>(v);
  }
}

// A regression's targets, N or N × T real numbers, each a finite float32.
void set_targets(Dataset& d, const py::array& y, const char* name) {
  const auto a = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(y);
  const std::size_t n = d.labels.size();
  if (!a || (a.ndim() != 1 && a.ndim() != 2) || static_cast<std::size_t>(a.shape(0)) != n)
    throw UsageError(std::string(name) + " must be 1-D or 2-D (examples × targets) with a row per example (" +
                     std::to_string(n) + ")");
  const py::ssize_t per = a.ndim() == 2 ? a.shape(1) : 1;
  if (per < 1 || per > kMaxClasses) throw UsageError(std::string(name) + ": 1 to 256 targets an example");
  d.target_count = static_cast<int>(per);
  d.targets.resize(n * static_cast<std::size_t>(per));
  for (std::size_t i = 0; i < d.targets.size(); ++i) {
    const double v = a.data()[i];
    if (!rounds_to_finite_float32(v))
      throw UsageError(std::string(name) + ": target " + std::to_string(i % per) + " of example " +
                       std::to_string(i / per) + " is not a finite float32");
    d.targets[i] = static_cast<float>(v);
  }
}

// The command line's option texts into a configuration; recipe options by the recipe table.
TrainConfig config_of(const std::map<std::string, std::string>& options) {
  TrainConfig c;
  for (const auto& [option, text] : options) {
    c.explicit_options.insert(option);
    if (option == "hidden")
      c.hidden = parse_hidden(text);
    else if (option == "classes")
      c.classes = static_cast<int>(parse_integer("classes", text, 2, kMaxClasses));
    else if (option == "epochs")
      c.epochs = static_cast<int>(parse_integer("epochs", text, 0, 1'000'000));
    else if (option == "threads")
      c.threads = static_cast<int>(parse_integer("threads", text, 1, 4096));
    else if (option == "chunk-size")
      c.chunk_size = static_cast<int>(parse_integer("chunk-size", text, 1, 4096));
    else if (option == "restore-best")
      c.restore_best = text == "1";
    else if (option == "standardize")
      c.standardize = text == "1";
    else if (option == "scale")
      c.feature_scale = parse_positive_real("scale", text);
    else
      recipe_field(option).adopt(c, text);
  }
  apply_preset_lr(c);
  apply_task_defaults(c);
  return c;
}

// Between steps: a pending Ctrl-C becomes a KeyboardInterrupt after the step in progress.
// Taking the GIL after every step costs a large share of a small net's step (perf/python_vs_cli.py),
// so it is looked at every 5 ms: a stop still falls between two whole steps. Whether the
// interpreter is exiting is looked at every step. Python's signal handlers run with the
// interpreter's own flush bits, not training's.
void check_signals(PyThreadState* saved, unsigned python_flush_bits) {
  static thread_local auto last = std::chrono::steady_clock::now();
  if (ExitGate::instance().shut()) throw InterpreterExiting{};
  const auto now = std::chrono::steady_clock::now();
  if (now - last < std::chrono::milliseconds(5)) return;
  last = now;
  FlushBitsScope as_python(python_flush_bits);
  ExitGate::Visit in_python(saved);
  if (PyErr_CheckSignals() != 0) throw py::error_already_set();
}

// Runs `work` without the GIL; an exception comes back into Python with it. When the
// interpreter exits meanwhile, the thread parks instead of coming back (exit_gate.hpp).
template <class Work>
auto outside_python(Work&& work) {
  ExitGate& gate = ExitGate::instance();
  PyThreadState* saved = gate.leave();
  try {
    if constexpr (std::is_void_v<decltype(work(saved))>) {
      work(saved);
      gate.enter(saved);
    } else {
      auto result = work(saved);
      gate.enter(saved);
      return result;
    }
  } catch (const InterpreterExiting&) {
    gate.park();
  } catch (...) {
    gate.enter(saved);
    throw;
  }
}

// Training (and validation) examples with their labels or targets.
std::pair<Dataset, std::optional<Dataset>> examples_and_answers(const py::object& X, const py::array& y,
                                                                const py::object& X_val, const py::object& y_val,
                                                                bool regression, std::vector<py::object>& keep) {
  const auto set_y = regression ? set_targets : set_labels;
  Dataset train = examples_of(X, "X", keep);
  set_y(train, y, "y");
  std::optional<Dataset> val;
  if (!X_val.is_none()) {
    val = examples_of(X_val, "X_val", keep);
    if (y_val.is_none()) throw UsageError("X_val needs y_val");
    set_y(*val, y_val.cast<py::array>(), "y_val");
  }
  return {std::move(train), std::move(val)};
}

py::dict record_of(const EpochRecord& r) {
  py::dict d;
  d["epoch"] = r.epoch;
  d["lr"] = r.lr;
  d["train_loss"] = r.train_loss;
  d["val_accuracy"] = r.val_accuracy ? py::cast(*r.val_accuracy) : py::none();
  d["val_loss"] = r.val_loss ? py::cast(*r.val_loss) : py::none();
  if (r.val_r2 || r.val_rmse) {
    d["val_r2"] = r.val_r2 ? py::cast(*r.val_r2) : py::none();
    d["val_rmse"] = r.val_rmse ? py::cast(*r.val_rmse) : py::none();
  }
  d["examples_per_sec"] = r.examples_per_sec;
  d["seconds"] = r.seconds;
  return d;
}

// A model and the arrays its training reads in place, until it has trained.
struct Trainable {
  ArrayModel model;
  std::vector<py::object> keep;
};

// UsageError and DataError as ValueError; the file functions below raise OSError themselves.
void translate_errors() {
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const UsageError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const DataError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });
}

void bind_model(py::module_& m) {
  py::class_<Trainable>(m, "Model")
      .def("fit",
           [](Trainable& t, const py::object& callback) {
             const unsigned python_flush_bits = flush_bits();
             try {
               outside_python([&](PyThreadState* saved) {
                 std::function<bool(const EpochRecord&)> after_epoch = [&](const EpochRecord& r) {
                   if (callback.is_none()) return !ExitGate::instance().shut();
                   ExitGate::Visit in_python(saved);
                   const py::object verdict = callback(record_of(r));
                   return verdict.is_none() || verdict.cast<bool>();
                 };
                 t.model.fit([&] { check_signals(saved, python_flush_bits); }, after_epoch);
               });
             } catch (...) {  // however fit ends, the caller's arrays are no longer read
               t.model.release_data();
               t.keep.clear();
               throw;
             }
             t.model.release_data();
             t.keep.clear();
           })
      .def("outputs",
           [](const Trainable& t, const py::object& X) {
             std::vector<py::object> keep;
             Dataset d = examples_of(X, "X", keep);
             const std::vector<float> out =
                 outside_python([&](PyThreadState*) { return t.model.outputs(std::move(d)); });
             const py::ssize_t classes = t.model.classes();
             py::array_t<float> result({static_cast<py::ssize_t>(out.size()) / classes, classes});
             std::memcpy(result.mutable_data(), out.data(), out.size() * sizeof(float));
             return result;
           })
      .def("continue_with",
           [](Trainable& t, const py::object& X, const py::array& y, const py::object& X_val, const py::object& y_val,
              int epochs, bool judge) {
             if (epochs < 1) throw UsageError("epochs must be at least 1");
             std::vector<py::object> keep;
             auto [train, val] = examples_and_answers(X, y, X_val, y_val, t.model.config().spec.regression(), keep);
             t.model.continue_with(std::move(train), std::move(val), epochs, judge);
             t.keep = std::move(keep);
           })
      .def(
          "save",
          [](const Trainable& t, const std::string& path, bool with_state) {
            try {
              t.model.save(path, with_state);
            } catch (const DataError& e) {  // a file's problem
              PyErr_SetString(PyExc_OSError, e.what());
              throw py::error_already_set();
            }
          },
          py::arg("path"), py::arg("with_state") = false)
      .def(
          "export_onnx",
          [](const Trainable& t, const std::string& path) {
            try {
              t.model.export_onnx(path);
            } catch (const DataError& e) {  // a file's problem
              PyErr_SetString(PyExc_OSError, e.what());
              throw py::error_already_set();
            }
          },
          py::arg("path"))
      .def_property_readonly("sizes", [](const Trainable& t) { return t.model.config().spec.sizes; })
      .def_property_readonly("parameters",
                             [](const Trainable& t) {
                               const std::vector<float> p = t.model.parameters();
                               py::array_t<float> out(static_cast<py::ssize_t>(p.size()));
                               std::memcpy(out.mutable_data(), p.data(), p.size() * sizeof(float));
                               return out;
                             })
      .def_property_readonly("classes", [](const Trainable& t) { return t.model.classes(); })
      .def_property_readonly("task", [](const Trainable& t) { return name_of(t.model.config().spec.task); })
      .def_property_readonly("inputs", [](const Trainable& t) { return t.model.inputs(); })
      .def_property_readonly("weights_hash", [](const Trainable& t) { return t.model.weights_hash(); })
      .def_property_readonly("history", [](const Trainable& t) {
        py::list out;
        for (const EpochRecord& r : t.model.history()) out.append(record_of(r));
        return out;
      });
}

void bind_functions(py::module_& m) {
  m.def("make", [](const py::object& X, const py::array& y, const py::object& X_val, const py::object& y_val,
                   const std::map<std::string, std::string>& options) {
    std::vector<py::object> keep;  // the arrays read in place, alive while this model trains
    TrainConfig cfg = config_of(options);
    auto [train, val] = examples_and_answers(X, y, X_val, y_val, cfg.spec.regression(), keep);
    return Trainable{ArrayModel(std::move(cfg), std::move(train), std::move(val)), std::move(keep)};
  });
  m.def("load", [](const std::string& path) {
    try {
      return Trainable{ArrayModel::load(path), {}};
    } catch (const DataError& e) {
      PyErr_SetString(PyExc_OSError, e.what());
      throw py::error_already_set();
    }
  });
}

}  // namespace

PYBIND11_MODULE(_ptrain, m) {
  m.doc() = "ptrain's C++ core; use the ptrain package around it";
  m.attr("__version__") = PTRAIN_VERSION;
  translate_errors();
  // Before finalisation, with the GIL: the gate shuts and waits for ptrain's threads.
  py::module_::import("atexit").attr("register")(py::cpp_function([] { ExitGate::instance().shut_and_wait(); }));
  bind_model(m);
  bind_functions(m);
}
