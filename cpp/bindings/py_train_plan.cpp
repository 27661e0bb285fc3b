// Python binding of the training plan (gputrain._core._TrainPlan), the executor of every model's fit,
// evaluate and predict through gputrain/plan.py. Tensors only: the plan works on the model's device tensors, never on NumPy copies.
// The GIL is released while a step launches its kernels, so the input feed thread keeps working.
#include <pybind11/stl.h>

#include "core/activations.h"
#include "core/errors.h"
#include "core/point_losses.h"
#include "bindings/py_args.h"
#include "bindings/py_tensor.h"
#include "core/train_plan.h"

namespace gt::py_bridge {
namespace {

// None/"linear", "softmax", or a name of core/activations.h's element-wise list.
PlanActivation plan_activation(const py::object& name) {
  if (name.is_none()) return PlanActivation::none();
  const std::string s = name.cast<std::string>();
  if (s == "linear") return PlanActivation::none();
  if (s == "softmax") return PlanActivation::softmax_over_rows();
  if (const ActivationInfo* info = find_activation(s.c_str())) return PlanActivation::of(info->kind);
  std::string names;
  for (const ActivationInfo& a : kActivations) names += std::string("'") + a.name + "', ";
  throw ValueError("activation: expected None, 'linear', " + names + "or 'softmax', got '" + s + "'");
}

std::string point_loss_names() {
  std::string names;
  for (const char* n : kPointLossNames) names += std::string(", '") + n + "'";
  return names;
}

// The cross-entropies by the plan's names, or a Keras element-wise loss by its name (with `param`).
PlanLossSpec plan_loss(const std::string& name, double param) {
  if (name == "sparse_categorical") return {PlanLoss::SparseCategorical};
  if (name == "sparse_categorical_probabilities") return {PlanLoss::SparseCategoricalProbabilities};
  if (name == "binary_logits") return {PlanLoss::BinaryLogits};
  if (name == "binary_probabilities") return {PlanLoss::BinaryProbabilities};
  const int point = find_point_loss(name.c_str());
  if (point >= 0) return {PlanLoss::Point, point, param};
  throw ValueError("loss: expected 'sparse_categorical', 'sparse_categorical_probabilities', 'binary_logits', "
                   "'binary_probabilities'" + point_loss_names() + ", got '" + name + "'");
}

// "accuracy", or an element-wise loss's name as a metric.
std::vector<PlanMetric> plan_metrics(const std::vector<std::string>& names) {
  std::vector<PlanMetric> metrics;
  for (const std::string& name : names) {
    if (name == "accuracy") {
      metrics.push_back(PlanMetric{});
      continue;
    }
    const int point = find_point_loss(name.c_str());
    if (point < 0) throw ValueError("metrics: expected 'accuracy'" + point_loss_names() + ", got '" + name + "'");
    metrics.push_back(PlanMetric{false, point});
  }
  return metrics;
}

Tensor optional(const std::optional<Tensor>& t) { return t ? *t : Tensor(); }

// One tensor, or a list or tuple of them.
std::vector<Tensor> tensors(const py::object& value) {
  if (py::isinstance<py::list>(value) || py::isinstance<py::tuple>(value)) return value.cast<std::vector<Tensor>>();
  return {value.cast<Tensor>()};
}

}  // namespace

void bind_train_plan(py::module_& m) {
  using arg = py::arg;
  py::class_<TrainPlan>(m, "_TrainPlan", "A compiled training step at one batch size (see train_plan.h).")
      .def(py::init([](const std::string& device, int64_t batch, const Shape& sample_shape, bool graphs,
                       bool training, bool reuse_memory) {
             return std::make_unique<TrainPlan>(parse_device(device), batch, sample_shape, graphs, training,
                                                reuse_memory);
           }),
           arg("device"), arg("batch"), arg("sample_shape"), arg("graphs") = true, arg("training") = true,
           arg("reuse_memory") = true)
      .def("add_dense", [](TrainPlan& p, const Tensor& kernel, const std::optional<Tensor>& bias,
                           const py::object& activation, int64_t input) {
             return p.add_dense(kernel, optional(bias), plan_activation(activation), input);
           }, arg("kernel"), arg("bias"), arg("activation"), arg("input") = -1)
      .def("add_conv2d", [](TrainPlan& p, const Tensor& kernel, const std::optional<Tensor>& bias,
                            const std::vector<int64_t>& strides, const std::string& padding,
                            const py::object& activation, int64_t input, const std::vector<int64_t>& dilation_rate,
                            int64_t groups) {
             return p.add_conv2d(kernel, optional(bias), pair_arg(strides, "strides"), padding,
                                 plan_activation(activation), input, pair_arg(dilation_rate, "dilation_rate"), groups);
           }, arg("kernel"), arg("bias"), arg("strides"), arg("padding"), arg("activation"), arg("input") = -1,
           arg("dilation_rate") = std::vector<int64_t>{1, 1}, arg("groups") = 1)
      .def("add_pool2d", [](TrainPlan& p, const std::string& kind, const std::vector<int64_t>& pool_size,
                            const std::vector<int64_t>& strides, const std::string& padding, int64_t input) {
             return p.add_pool2d(pool_kind(kind), pair_arg(pool_size, "pool_size"), pair_arg(strides, "strides"),
                                 padding, input);
           }, arg("kind"), arg("pool_size"), arg("strides"), arg("padding"), arg("input") = -1)
      .def("add_global_avg_pool2d", &TrainPlan::add_global_avg_pool2d, arg("input") = -1)
      .def("add_flatten", &TrainPlan::add_flatten, arg("input") = -1)
      .def("add_dropout", &TrainPlan::add_dropout, arg("rate"), arg("seed"), arg("input") = -1)
      .def("add_batch_norm", &TrainPlan::add_batch_norm, arg("gamma"), arg("beta"), arg("moving_mean"),
           arg("moving_variance"), arg("momentum"), arg("epsilon"), arg("input") = -1)
      .def("add_activation", [](TrainPlan& p, const py::object& activation, int64_t input) {
             return p.add_activation(plan_activation(activation), input);
           }, arg("activation"), arg("input") = -1)
      .def("add_depthwise_conv2d", [](TrainPlan& p, const Tensor& kernel, const std::optional<Tensor>& bias,
                                      const std::vector<int64_t>& strides, const std::string& padding,
                                      const std::vector<int64_t>& dilation_rate, const py::object& activation,
                                      int64_t input) {
             return p.add_depthwise_conv2d(kernel, optional(bias), pair_arg(strides, "strides"), padding,
                                           pair_arg(dilation_rate, "dilation_rate"), plan_activation(activation),
                                           input);
           }, arg("kernel"), arg("bias"), arg("strides"), arg("padding"), arg("dilation_rate"), arg("activation"),
           arg("input") = -1)
      .def("freeze", &TrainPlan::freeze, arg("param"))
      .def("add_reshape", &TrainPlan::add_reshape, arg("sample_shape"), arg("input") = -1)
      .def("add_merge", &TrainPlan::add_merge, arg("kind"), arg("inputs"))
      .def("add_scale", &TrainPlan::add_scale, arg("factor"), arg("input") = -1)
      .def("add_concatenate", &TrainPlan::add_concatenate, arg("inputs"), arg("axis"))
      .def("add_prelu", &TrainPlan::add_prelu, arg("alpha"), arg("input") = -1)
      .def("add_permute", &TrainPlan::add_permute, arg("dims"), arg("input") = -1)
      .def("add_border2d", &TrainPlan::add_border2d, arg("padding"), arg("sides"), arg("input") = -1)
      .def("add_conv2d_transpose", [](TrainPlan& p, const Tensor& kernel, const std::optional<Tensor>& bias,
                                      const std::vector<int64_t>& strides, const std::string& padding,
                                      const py::object& activation, int64_t input) {
             return p.add_conv2d_transpose(kernel, optional(bias), pair_arg(strides, "strides"), padding,
                                           plan_activation(activation), input);
           }, arg("kernel"), arg("bias"), arg("strides"), arg("padding"), arg("activation"), arg("input") = -1)
      .def("add_upsample_nearest2d", [](TrainPlan& p, const std::vector<int64_t>& size, int64_t input) {
             return p.add_upsample_nearest2d(pair_arg(size, "size"), input);
           }, arg("size"), arg("input") = -1)
      .def("add_upsample_bilinear2d", [](TrainPlan& p, const std::vector<int64_t>& size, int64_t input) {
             return p.add_upsample_bilinear2d(pair_arg(size, "size"), input);
           }, arg("size"), arg("input") = -1)
      .def("add_input", &TrainPlan::add_input, arg("sample_shape"))
      .def("add_loss", [](TrainPlan& p, const std::string& loss, bool fuse_activation, int64_t output, double weight,
                          const std::vector<std::string>& metrics, double param,
                          const std::optional<Tensor>& class_weight) {
             PlanLossSpec spec = plan_loss(loss, param);
             spec.class_weight = optional(class_weight);
             p.add_loss(spec, fuse_activation, output, weight, plan_metrics(metrics));
           }, arg("loss"), arg("fuse_activation"), arg("output") = -1, arg("weight") = 1.0,
           arg("metrics") = std::vector<std::string>{"accuracy"}, arg("param") = 0.0,
           arg("class_weight") = py::none())
      .def("set_outputs", &TrainPlan::set_outputs, arg("values"))
      .def("add_weight_penalty", &TrainPlan::add_weight_penalty, arg("param"), arg("l1"), arg("l2"))
      .def("add_activity_penalty", &TrainPlan::add_activity_penalty, arg("value"), arg("l1"), arg("l2"))
      .def("set_optimizer", &TrainPlan::set_optimizer, arg("name"), arg("hyper"), arg("slots"))
      // x and y: a tensor (a plan of one input, one loss) or a list of them, one per input or loss.
      .def("step", [](TrainPlan& p, const py::object& x, const py::object& y, int64_t iteration, double lr) {
             const std::vector<Tensor> xs = tensors(x), ys = tensors(y);
             py::gil_scoped_release release;
             p.step(xs, ys, iteration, lr);
           }, arg("x"), arg("y"), arg("iteration"), arg("learning_rate"))
      // The pieces of step(), for running a model one node at a time (Model.compile(run_eagerly=True)).
      .def("load", [](TrainPlan& p, const py::object& x, const py::object& y, int64_t iteration, double lr) {
             const std::vector<Tensor> xs = tensors(x), ys = tensors(y);
             py::gil_scoped_release release;
             p.load(xs, ys, iteration, lr);
           }, arg("x"), arg("y"), arg("iteration"), arg("learning_rate"))
      .def_property_readonly("node_count", &TrainPlan::node_count)
      .def("forward_node", &TrainPlan::forward_node, arg("index"), py::call_guard<py::gil_scoped_release>())
      .def("loss", &TrainPlan::loss, py::call_guard<py::gil_scoped_release>())
      .def("backward_node", &TrainPlan::backward_node, arg("index"), py::call_guard<py::gil_scoped_release>())
      .def("update", &TrainPlan::update, py::call_guard<py::gil_scoped_release>())
      .def("node_output", &TrainPlan::node_output, arg("index"),
           "The value node `index` wrote in the last forward (the plan's buffer: the next step overwrites it).")
      .def("predict", [](TrainPlan& p, const py::object& x) -> py::object {
             const std::vector<Tensor> xs = tensors(x);
             std::vector<Tensor> outputs;
             {
               py::gil_scoped_release release;
               outputs = p.predict(xs);
             }
             return outputs.size() == 1 ? py::cast(outputs.front()) : py::cast(outputs);
           }, arg("x"), "The output (a list of them where the plan has several) for x.")
      .def("evaluate", [](TrainPlan& p, const py::object& x, const py::object& y) {
             const std::vector<Tensor> xs = tensors(x), ys = tensors(y);
             py::gil_scoped_release release;
             p.evaluate(xs, ys);
           }, arg("x"), arg("y"))
      .def("metrics", &TrainPlan::metrics, py::call_guard<py::gil_scoped_release>(),
           "Per loss term: sum of the steps' mean losses, then one sum per metric; then the penalties' sum "
           "(since reset_metrics()).")
      .def("reset_metrics", &TrainPlan::reset_metrics)
      .def("first_nonfinite_step", &TrainPlan::first_nonfinite_step, py::call_guard<py::gil_scoped_release>(),
           "Index among this plan's steps since reset_metrics() of the first whose loss was NaN or infinite, "
           "or -1.")
      .def_property_readonly("graph_state", &TrainPlan::graph_state,
                             "'off', 'pending', 'replaying' or 'failed' (see graph_failure)")
      .def_property_readonly("graph_failure", &TrainPlan::graph_failure)
      .def_property_readonly("training", &TrainPlan::training)
      .def_property_readonly("batch", &TrainPlan::batch)
      .def_property_readonly("output_shapes", &TrainPlan::output_shapes)
      .def_property_readonly("buffer_bytes", &TrainPlan::buffer_bytes)
      .def("parameters", &TrainPlan::parameters)
      .def("gradients", &TrainPlan::gradients);
}

}  // namespace gt::py_bridge
