#include "ptrain/run/onnx_export.hpp"

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ptrain/core/network.hpp"
#include "ptrain/core/recipe.hpp"
#include "ptrain/io/atomic_file.hpp"

namespace ptrain {
namespace {

constexpr std::int64_t kOpset = 13;     // Softmax over one axis; python3-onnx 1.12 checks up to 17
constexpr std::int64_t kIrVersion = 7;  // opset 13's IR
constexpr const char* kBatch = "N";     // the batch dimension, any size

// Adds initializers, nodes and the graph's inputs and outputs, naming each value once.
class GraphWriter {
 public:
  explicit GraphWriter(onnx::GraphProto& graph) : graph_(graph) {}

  // A float32 constant.
  std::string constant(const std::string& name, const std::vector<std::int64_t>& dims, const std::vector<float>& v) {
    onnx::TensorProto& t = *graph_.add_initializer();
    t.set_name(name);
    t.set_data_type(onnx::TensorProto::FLOAT);
    for (std::int64_t d : dims) t.add_dims(d);
    t.mutable_raw_data()->assign(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
    return name;
  }

  // `op` on `inputs`; returns its one output, named `output`.
  std::string node(const std::string& op, const std::vector<std::string>& inputs, const std::string& output,
                   const std::vector<std::pair<std::string, std::int64_t>>& attributes = {}) {
    onnx::NodeProto& n = *graph_.add_node();
    n.set_op_type(op);
    n.set_name(output);
    for (const std::string& in : inputs) n.add_input(in);
    n.add_output(output);
    for (const auto& [name, value] : attributes) {
      onnx::AttributeProto& a = *n.add_attribute();
      a.set_name(name);
      a.set_type(onnx::AttributeProto::INT);
      a.set_i(value);
    }
    return output;
  }

  // A graph input or output of `type`, [N, width] (or [N] when width is 0).
  void value(onnx::ValueInfoProto& v, const std::string& name, int type, std::int64_t width) const {
    v.set_name(name);
    onnx::TypeProto_Tensor& t = *v.mutable_type()->mutable_tensor_type();
    t.set_elem_type(type);
    t.mutable_shape()->add_dim()->set_dim_param(kBatch);
    if (width > 0) t.mutable_shape()->add_dim()->set_dim_value(width);
  }
  void input(const std::string& name, std::int64_t width) {
    value(*graph_.add_input(), name, onnx::TensorProto::FLOAT, width);
  }
  void output(const std::string& name, int type, std::int64_t width) { value(*graph_.add_output(), name, type, width); }

 private:
  onnx::GraphProto& graph_;
};

// The features as the net sees them: bytes scaled, float features through their transform.
std::string transformed_input(GraphWriter& g, const LoadedModel& m) {
  const int F = m.spec().inputs();
  std::string x = "input";
  if (!m.float_inputs && m.spec().input_scale != 1.0)
    x = g.node("Mul", {x, g.constant("input_scale", {1}, {static_cast<float>(m.spec().input_scale)})}, "scaled");
  if (!m.transform.empty()) {
    x = g.node("Sub", {x, g.constant("input_shift", {F}, m.transform.shift)}, "shifted");
    x = g.node("Mul", {x, g.constant("input_factor", {F}, m.transform.factor)}, "standardized");
  }
  return x;
}

// Each layer, z = x Wᵀ + b (Gemm with W as stored, [out, in]), then the hidden units' activation;
// returns the output layer's z.
std::string layers(GraphWriter& g, const LoadedModel& m, const std::vector<float>& params, std::string x) {
  const std::vector<int>& sizes = m.spec().sizes;
  const ParamLayout layout(sizes, 1);
  const char* activation = m.spec().hidden == Activation::relu   ? "Relu"
                           : m.spec().hidden == Activation::tanh ? "Tanh"
                                                                 : "Sigmoid";
  for (int l = 0; l < m.spec().num_layers(); ++l) {
    const LayerSlot& s = layout.layers[l];
    const std::string name = "layers." + std::to_string(l);
    const auto w = params.begin() + static_cast<std::ptrdiff_t>(s.weight);
    const auto b = params.begin() + static_cast<std::ptrdiff_t>(s.bias);
    const std::string W = g.constant(name + ".weight", {s.out, s.in}, std::vector<float>(w, w + s.out * s.in));
    const std::string B = g.constant(name + ".bias", {s.out}, std::vector<float>(b, b + s.out));
    x = g.node("Gemm", {x, W, B}, name + ".z", {{"transB", 1}});
    if (l + 1 < m.spec().num_layers()) x = g.node(activation, {x}, name + ".a");
  }
  return x;
}

// Model.predict_proba's probabilities from the output layer's z, and the most probable class.
void classifier_outputs(GraphWriter& g, const LoadedModel& m, const std::string& z) {
  const int C = m.spec().classes();
  if (m.spec().loss == Loss::xent) {
    g.node("Softmax", {z}, "probabilities", {{"axis", 1}});
  } else {
    const std::string a = g.node("Sigmoid", {z}, "outputs");
    const std::string sums = g.node("MatMul", {a, g.constant("ones", {C, 1}, std::vector<float>(C, 1.0f))}, "sums");
    g.node("Div", {a, sums}, "probabilities");
  }
  g.node("ArgMax", {"probabilities"}, "label", {{"axis", 1}, {"keepdims", 0}});
  g.output("probabilities", onnx::TensorProto::FLOAT, C);
  g.output("label", onnx::TensorProto::INT64, 0);
}

// A regression's predictions in the targets' units: z / factor + shift when they were standardised.
void regression_outputs(GraphWriter& g, const LoadedModel& m, const std::string& z) {
  const int T = m.spec().classes();
  if (m.target_transform.empty()) {
    g.node("Identity", {z}, "predictions");
  } else {
    const std::string scaled =
        g.node("Div", {z, g.constant("target_factor", {T}, m.target_transform.factor)}, "unscaled");
    g.node("Add", {scaled, g.constant("target_shift", {T}, m.target_transform.shift)}, "predictions");
  }
  g.output("predictions", onnx::TensorProto::FLOAT, T);
}

void add_metadata(onnx::ModelProto& model, const LoadedModel& m, const std::vector<float>& params) {
  nlohmann::json recipe = nlohmann::json::object();
  for (const auto& [key, value] : recipe_metadata(m.recipe)) recipe[key] = value;
  std::vector<std::pair<std::string, std::string>> props{{"ptrain_version", PTRAIN_VERSION},
                                                         {"task", name_of(m.spec().task)},
                                                         {"weights_hash", hash_hex(weights_hash(params))},
                                                         {"recipe", recipe.dump()}};
  for (const char* key : {"class_names", "target_names"})
    if (auto it = m.file.metadata.find(key); it != m.file.metadata.end()) props.emplace_back(key, it->second);
  for (const auto& [key, value] : props) {
    onnx::StringStringEntryProto& p = *model.add_metadata_props();
    p.set_key(key);
    p.set_value(value);
  }
}

}  // namespace

std::string onnx_bytes(const LoadedModel& m) {
  onnx::ModelProto model;
  model.set_ir_version(kIrVersion);
  model.add_opset_import()->set_version(kOpset);  // the default domain
  model.set_producer_name("ptrain");
  model.set_producer_version(PTRAIN_VERSION);
  model.set_doc_string("ptrain " + m.spec().describe() + " " + name_of(m.spec().task));
  onnx::GraphProto& graph = *model.mutable_graph();
  graph.set_name("ptrain");
  GraphWriter g(graph);
  g.input("input", m.spec().inputs());
  // The float32 weights the file holds (and its weights_hash reads), converted once.
  const std::vector<float> params(m.file.params.begin(), m.file.params.end());
  const std::string z = layers(g, m, params, transformed_input(g, m));
  if (m.spec().regression())
    regression_outputs(g, m, z);
  else
    classifier_outputs(g, m, z);
  add_metadata(model, m, params);
  std::string bytes;
  if (!model.SerializeToString(&bytes)) throw DataError(m.path + ": the ONNX graph could not be serialised");
  return bytes;
}

void export_onnx(const LoadedModel& model, const std::string& path, const std::string& what) {
  write_file_atomically(path, onnx_bytes(model), what);
}

}  // namespace ptrain
