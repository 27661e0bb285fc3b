// Python binding of the training plan (gputrain._core._TrainPlan), used by Sequential.fit through
// gputrain/plan.py. Tensors only: the plan works on the model's device tensors, never on NumPy copies.
// The GIL is released while a step launches its kernels, so the input feed thread keeps working.
#include <pybind11/stl.h>

#include "core/errors.h"
#include "bindings/py_args.h"
#include "bindings/py_tensor.h"
#include "core/train_plan.h"

namespace gt::py_bridge {
namespace {

PlanActivation plan_activation(const py::object& name) {
  if (name.is_none()) return PlanActivation::None;
  const std::string s = name.cast<std::string>();
  if (s == "linear") return PlanActivation::None;
  if (s == "relu") return PlanActivation::Relu;
  if (s == "sigmoid") return PlanActivation::Sigmoid;
  if (s == "softmax") return PlanActivation::Softmax;
  throw ValueError("activation: expected None, 'linear', 'relu', 'sigmoid' or 'softmax', got '" + s + "'");
}

PlanLoss plan_loss(const std::string& name) {
  if (name == "sparse_categorical") return PlanLoss::SparseCategorical;
  if (name == "binary_logits") return PlanLoss::BinaryLogits;
  if (name == "binary_probabilities") return PlanLoss::BinaryProbabilities;
  throw ValueError("loss: expected 'sparse_categorical', 'binary_logits' or 'binary_probabilities', got '" +
                   name + "'");
}

Tensor optional(const std::optional<Tensor>& t) { return t ? *t : Tensor(); }

}  // namespace

void bind_train_plan(py::module_& m) {
  using arg = py::arg;
  py::class_<TrainPlan>(m, "_TrainPlan", "A compiled training step at one batch size (see train_plan.h).")
      .def(py::init([](const std::string& device, int64_t batch, const Shape& sample_shape, bool graphs) {
             return std::make_unique<TrainPlan>(parse_device(device), batch, sample_shape, graphs);
           }),
           arg("device"), arg("batch"), arg("sample_shape"), arg("graphs") = true)
      .def("add_dense", [](TrainPlan& p, const Tensor& kernel, const std::optional<Tensor>& bias,
                           const py::object& activation) {
             p.add_dense(kernel, optional(bias), plan_activation(activation));
           }, arg("kernel"), arg("bias"), arg("activation"))
      .def("add_conv2d", [](TrainPlan& p, const Tensor& kernel, const std::optional<Tensor>& bias,
                            const std::vector<int64_t>& strides, const std::string& padding,
                            const py::object& activation) {
             p.add_conv2d(kernel, optional(bias), pair_arg(strides, "strides"), padding, plan_activation(activation));
           }, arg("kernel"), arg("bias"), arg("strides"), arg("padding"), arg("activation"))
      .def("add_pool2d", [](TrainPlan& p, const std::string& kind, const std::vector<int64_t>& pool_size,
                            const std::vector<int64_t>& strides, const std::string& padding) {
             p.add_pool2d(pool_kind(kind), pair_arg(pool_size, "pool_size"), pair_arg(strides, "strides"), padding);
           }, arg("kind"), arg("pool_size"), arg("strides"), arg("padding"))
      .def("add_global_avg_pool2d", &TrainPlan::add_global_avg_pool2d)
      .def("add_flatten", &TrainPlan::add_flatten)
      .def("add_dropout", &TrainPlan::add_dropout, arg("rate"), arg("seed"))
      .def("add_batch_norm", &TrainPlan::add_batch_norm, arg("gamma"), arg("beta"), arg("moving_mean"),
           arg("moving_variance"), arg("momentum"), arg("epsilon"))
      .def("add_activation", [](TrainPlan& p, const py::object& activation) {
             p.add_activation(plan_activation(activation));
           }, arg("activation"))
      .def("set_loss", [](TrainPlan& p, const std::string& loss, bool fuse_activation) {
             p.set_loss(plan_loss(loss), fuse_activation);
           }, arg("loss"), arg("fuse_activation"))
      .def("set_sgd", &TrainPlan::set_sgd, arg("momentum"), arg("nesterov"), arg("velocities"))
      .def("set_adam", &TrainPlan::set_adam, arg("beta_1"), arg("beta_2"), arg("epsilon"), arg("m"), arg("v"))
      .def("set_rmsprop", &TrainPlan::set_rmsprop, arg("rho"), arg("momentum"), arg("epsilon"), arg("centered"),
           arg("velocities"), arg("momentum_buffers"), arg("average_grads"))
      .def("step", &TrainPlan::step, arg("x"), arg("y"), arg("iteration"), arg("learning_rate"),
           py::call_guard<py::gil_scoped_release>())
      .def("metrics", &TrainPlan::metrics, py::call_guard<py::gil_scoped_release>(),
           "(sum of the steps' mean losses, correct predictions) since reset_metrics().")
      .def("reset_metrics", &TrainPlan::reset_metrics)
      .def("first_nonfinite_step", &TrainPlan::first_nonfinite_step, py::call_guard<py::gil_scoped_release>(),
           "Index among this plan's steps since reset_metrics() of the first whose loss was NaN or infinite, "
           "or -1.")
      .def_property_readonly("graph_state", &TrainPlan::graph_state,
                             "'off', 'pending', 'replaying' or 'failed' (see graph_failure)")
      .def_property_readonly("graph_failure", &TrainPlan::graph_failure)
      .def_property_readonly("batch", &TrainPlan::batch)
      .def_property_readonly("output_shape", &TrainPlan::output_shape)
      .def_property_readonly("buffer_bytes", &TrainPlan::buffer_bytes)
      .def("parameters", &TrainPlan::parameters)
      .def("gradients", &TrainPlan::gradients);
}

}  // namespace gt::py_bridge
