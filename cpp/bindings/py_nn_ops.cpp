// Python bindings of the nn ops: argument conversion through OpCall (NumPy in → NumPy out on `device`,
// Tensors in → Tensors out), the in-place contract of the optimizer and batch-norm state, and the GIL
// released while kernels run. All validation beyond types is in the dispatch (core/nn_*.cpp).
#include <pybind11/stl.h>

#include <optional>
#include <vector>

#include "core/activations.h"
#include "core/errors.h"
#include "core/optimizer_params.h"
#include "core/point_losses.h"
#include "core/nn_ops.h"
#include "bindings/py_args.h"
#include "bindings/py_tensor.h"

namespace gt::py_bridge {
namespace {

using ops::Pair;

// "None, 'linear', 'relu', ... or 'leaky_relu'": every name the fused epilogue of dense and conv2d takes.
std::string activation_choices() {
  std::string text = "None, 'linear'";
  for (int i = 0; i < kActivationCount; ++i)
    text += std::string(i + 1 == kActivationCount ? " or '" : ", '") + kActivations[i].name + "'";
  return text;
}

// None/"linear" (no activation) or a name from core/activations.h's list.
GtActivation activation_arg(const py::object& name) {
  if (name.is_none()) return GT_ACTIVATION_NONE;
  if (!py::isinstance<py::str>(name)) throw TypeError("activation: expected " + activation_choices());
  const std::string s = name.cast<std::string>();
  if (s == "linear") return GT_ACTIVATION_NONE;
  if (const ActivationInfo* a = find_activation(s.c_str())) return a->kind;
  throw ValueError("activation: expected " + activation_choices() + ", got '" + s + "'");
}

// A convolution's padding: a name, or [top, bottom, left, right] cells (gputrain.ops normalises
// PyTorch's and Keras-style nested forms to that list).
ops::ConvPadding conv_padding_arg(const py::object& padding) {
  if (py::isinstance<py::str>(padding)) return ops::ConvPadding(padding.cast<std::string>());
  std::vector<int64_t> cells;
  try {
    cells = padding.cast<std::vector<int64_t>>();
  } catch (const py::cast_error&) {
    cells.clear();
  }
  if (cells.size() != 4)
    throw TypeError("padding: expected 'valid', 'same' or [top, bottom, left, right] integers");
  return ops::ConvPadding::explicit_cells(cells[0], cells[1], cells[2], cells[3]);
}

// Arguments that an op modifies. A Tensor is modified where it is. A NumPy array must be writeable,
// C-contiguous float32 (anything else would silently update a copy); on a GPU device it is copied
// there and the result copied back by finish().
class InPlace {
 public:
  explicit InPlace(OpCall& call) : call_(call) {}

  Tensor arg(const py::handle& obj, const char* name, bool optional = false) {
    if (obj.is_none()) {
      if (optional) return Tensor();
      throw TypeError(std::string(name) + ": required (an array or Tensor updated in place)");
    }
    if (py::isinstance<py::array>(obj)) {
      auto array = py::reinterpret_borrow<py::array>(obj);
      const std::string dtype = py::str(array.dtype());
      if (dtype != "float32")
        throw TypeError(std::string(name) + ": expected a float32 array to update in place, got " + dtype);
      if (!(array.flags() & py::array::c_style))
        throw ValueError(std::string(name) + ": the array must be C-contiguous to be updated in place "
                         "(a contiguous copy would be updated instead of it)");
      if (!array.writeable())
        throw ValueError(std::string(name) + ": the array is read-only but is updated in place");
      Tensor t = call_.arg(obj, name, DType::Float32);
      if (t.device().type != DeviceType::CPU) back_.push_back({array, t});
      return t;
    }
    Tensor t = call_.arg(obj, name, DType::Float32);
    if (t.read_only())
      throw ValueError(std::string(name) + ": the tensor is read-only (it shares a read-only array) "
                       "but is updated in place");
    return t;
  }

  void finish() {
    for (auto& [array, tensor] : back_) {
      void* dst = array.mutable_data();
      py::gil_scoped_release release;
      copy_bytes(Device{}, dst, tensor.device(), tensor.raw(), tensor.nbytes());
    }
  }

 private:
  OpCall& call_;
  std::vector<std::pair<py::array, Tensor>> back_;
};

constexpr auto f32 = DType::Float32;

}  // namespace

void bind_nn_ops(py::module_& m) {
  using py::arg;

  m.def("matmul", [](py::object a, py::object b, bool trans_a, bool trans_b, const std::string& device) {
    OpCall call(device, {a, b});
    Tensor ta = call.arg(a, "a", f32), tb = call.arg(b, "b", f32);
    py::gil_scoped_release release;
    Tensor c = ops::matmul(ta, tb, trans_a, trans_b);
    py::gil_scoped_acquire gil;
    return call.result(c);
  }, arg("a"), arg("b"), arg("transpose_a") = false, arg("transpose_b") = false, arg("device") = "cpu");

  m.def("matmul_grad", [](py::object dy, py::object a, py::object b, bool trans_a, bool trans_b,
                          const std::string& device) {
    OpCall call(device, {dy, a, b});
    Tensor tdy = call.arg(dy, "dy", f32), ta = call.arg(a, "a", f32), tb = call.arg(b, "b", f32);
    py::gil_scoped_release release;
    ops::MatmulGrads g = ops::matmul_grad(tdy, ta, tb, trans_a, trans_b);
    py::gil_scoped_acquire gil;
    return py::make_tuple(call.result(g.da), call.result(g.db));
  }, arg("dy"), arg("a"), arg("b"), arg("transpose_a") = false, arg("transpose_b") = false, arg("device") = "cpu");

  m.def("dense", [](py::object x, py::object kernel, py::object bias, const std::string& device,
                    py::object activation) {
    OpCall call(device, {x, kernel, bias});
    Tensor tx = call.arg(x, "x", f32), tk = call.arg(kernel, "kernel", f32),
           tb = call.optional_arg(bias, "bias", f32);
    const GtActivation act = activation_arg(activation);
    py::gil_scoped_release release;
    Tensor y = ops::dense(tx, tk, tb, act);
    py::gil_scoped_acquire gil;
    return call.result(y);
  }, arg("x"), arg("kernel"), arg("bias") = py::none(), arg("device") = "cpu",
     arg("activation") = py::none());

  m.def("dense_grad", [](py::object dy, py::object x, py::object kernel, const std::string& device) {
    OpCall call(device, {dy, x, kernel});
    Tensor tdy = call.arg(dy, "dy", f32), tx = call.arg(x, "x", f32), tk = call.arg(kernel, "kernel", f32);
    py::gil_scoped_release release;
    ops::DenseGrads g = ops::dense_grad(tdy, tx, tk);
    py::gil_scoped_acquire gil;
    return py::make_tuple(call.result(g.dx), call.result(g.dkernel), call.result(g.dbias));
  }, arg("dy"), arg("x"), arg("kernel"), arg("device") = "cpu");

  m.def("conv2d", [](py::object x, py::object kernel, py::object bias, std::vector<int64_t> strides,
                     py::object padding, std::vector<int64_t> dilation_rate, const std::string& device,
                     py::object activation, int64_t groups) {
    OpCall call(device, {x, kernel, bias});
    Tensor tx = call.arg(x, "x", f32), tk = call.arg(kernel, "kernel", f32),
           tb = call.optional_arg(bias, "bias", f32);
    const Pair s = pair_arg(strides, "strides"), d = pair_arg(dilation_rate, "dilation_rate");
    const ops::ConvPadding pad = conv_padding_arg(padding);
    const GtActivation act = activation_arg(activation);
    py::gil_scoped_release release;
    Tensor y = ops::conv2d(tx, tk, tb, s, pad, d, groups, act);
    py::gil_scoped_acquire gil;
    return call.result(y);
  }, arg("x"), arg("kernel"), arg("bias"), arg("strides"), arg("padding"), arg("dilation_rate"),
     arg("device") = "cpu", arg("activation") = py::none(), arg("groups") = 1);

  m.def("conv2d_grad", [](py::object dy, py::object x, py::object kernel, std::vector<int64_t> strides,
                          py::object padding, std::vector<int64_t> dilation_rate, const std::string& device,
                          int64_t groups) {
    OpCall call(device, {dy, x, kernel});
    Tensor tdy = call.arg(dy, "dy", f32), tx = call.arg(x, "x", f32), tk = call.arg(kernel, "kernel", f32);
    const Pair s = pair_arg(strides, "strides"), d = pair_arg(dilation_rate, "dilation_rate");
    const ops::ConvPadding pad = conv_padding_arg(padding);
    py::gil_scoped_release release;
    ops::Conv2dGrads g = ops::conv2d_grad(tdy, tx, tk, s, pad, d, groups);
    py::gil_scoped_acquire gil;
    return py::make_tuple(call.result(g.dx), call.result(g.dkernel), call.result(g.dbias));
  }, arg("dy"), arg("x"), arg("kernel"), arg("strides"), arg("padding"), arg("dilation_rate"),
     arg("device") = "cpu", arg("groups") = 1);

  m.def("depthwise_conv2d", [](py::object x, py::object kernel, py::object bias, std::vector<int64_t> strides,
                               const std::string& padding, std::vector<int64_t> dilation_rate,
                               const std::string& device, py::object activation) {
    OpCall call(device, {x, kernel, bias});
    Tensor tx = call.arg(x, "x", f32), tk = call.arg(kernel, "kernel", f32),
           tb = call.optional_arg(bias, "bias", f32);
    const Pair s = pair_arg(strides, "strides"), d = pair_arg(dilation_rate, "dilation_rate");
    const GtActivation act = activation_arg(activation);
    py::gil_scoped_release release;
    Tensor y = ops::depthwise_conv2d(tx, tk, tb, s, padding, d, act);
    py::gil_scoped_acquire gil;
    return call.result(y);
  }, arg("x"), arg("kernel"), arg("bias"), arg("strides"), arg("padding"), arg("dilation_rate"),
     arg("device") = "cpu", arg("activation") = py::none());

  m.def("depthwise_conv2d_backward_data", [](py::object dy, py::object kernel, std::vector<int64_t> input_shape,
                                             std::vector<int64_t> strides, const std::string& padding,
                                             std::vector<int64_t> dilation_rate, const std::string& device) {
    OpCall call(device, {dy, kernel});
    Tensor tdy = call.arg(dy, "dy", f32), tk = call.arg(kernel, "kernel", f32);
    const Pair s = pair_arg(strides, "strides"), d = pair_arg(dilation_rate, "dilation_rate");
    py::gil_scoped_release release;
    Tensor dx = ops::depthwise_conv2d_backward_data(tdy, tk, input_shape, s, padding, d);
    py::gil_scoped_acquire gil;
    return call.result(dx);
  }, arg("dy"), arg("kernel"), arg("input_shape"), arg("strides"), arg("padding"), arg("dilation_rate"),
     arg("device") = "cpu");

  m.def("depthwise_conv2d_backward_filter", [](py::object dy, py::object x, std::vector<int64_t> kernel_size,
                                               std::vector<int64_t> strides, const std::string& padding,
                                               std::vector<int64_t> dilation_rate, const std::string& device) {
    OpCall call(device, {dy, x});
    Tensor tdy = call.arg(dy, "dy", f32), tx = call.arg(x, "x", f32);
    const Pair k = pair_arg(kernel_size, "kernel_size"), s = pair_arg(strides, "strides"),
               d = pair_arg(dilation_rate, "dilation_rate");
    py::gil_scoped_release release;
    ops::DepthwiseFilterGrads g = ops::depthwise_conv2d_backward_filter(tdy, tx, k, s, padding, d);
    py::gil_scoped_acquire gil;
    return py::make_tuple(call.result(g.dkernel), call.result(g.dbias));
  }, arg("dy"), arg("x"), arg("kernel_size"), arg("strides"), arg("padding"), arg("dilation_rate"),
     arg("device") = "cpu");

  m.def("pool2d", [](py::object x, const std::string& kind, std::vector<int64_t> pool_size,
                     std::vector<int64_t> strides, py::object padding, const std::string& device,
                     bool return_argmax, bool count_include_pad) -> py::object {
    OpCall call(device, {x});
    Tensor tx = call.arg(x, "x", f32);
    const GtPoolKind k = pool_kind(kind);
    const Pair p = pair_arg(pool_size, "pool_size"), s = pair_arg(strides, "strides");
    const ops::ConvPadding pad = conv_padding_arg(padding);
    py::gil_scoped_release release;
    ops::PoolResult r = ops::pool2d(tx, k, p, s, pad, return_argmax, count_include_pad);
    py::gil_scoped_acquire gil;
    if (!return_argmax) return call.result(r.y);
    return py::make_tuple(call.result(r.y), call.result(r.argmax));
  }, arg("x"), arg("kind"), arg("pool_size"), arg("strides"), arg("padding"), arg("device") = "cpu",
     arg("return_argmax") = false, arg("count_include_pad") = false);

  m.def("pool2d_grad", [](py::object dy, py::object x, const std::string& kind,
                          std::vector<int64_t> pool_size, std::vector<int64_t> strides, py::object padding,
                          const std::string& device, py::object argmax, bool count_include_pad) {
    OpCall call(device, {dy, x, argmax});
    Tensor tdy = call.arg(dy, "dy", f32), tx = call.arg(x, "x", f32);
    Tensor targ = call.optional_arg(argmax, "argmax", DType::Int32);
    const GtPoolKind k = pool_kind(kind);
    const Pair p = pair_arg(pool_size, "pool_size"), s = pair_arg(strides, "strides");
    const ops::ConvPadding pad = conv_padding_arg(padding);
    py::gil_scoped_release release;
    Tensor dx = ops::pool2d_grad(tdy, tx, k, p, s, pad, targ, count_include_pad);
    py::gil_scoped_acquire gil;
    return call.result(dx);
  }, arg("dy"), arg("x"), arg("kind"), arg("pool_size"), arg("strides"), arg("padding"),
     arg("device") = "cpu", arg("argmax") = py::none(), arg("count_include_pad") = false);

  m.def("global_avg_pool2d", [](py::object x, const std::string& device) {
    OpCall call(device, {x});
    Tensor tx = call.arg(x, "x", f32);
    py::gil_scoped_release release;
    Tensor y = ops::global_avg_pool2d(tx);
    py::gil_scoped_acquire gil;
    return call.result(y);
  }, arg("x"), arg("device") = "cpu");

  m.def("global_avg_pool2d_grad", [](py::object dy, py::object x, const std::string& device) {
    OpCall call(device, {dy, x});
    Tensor tdy = call.arg(dy, "dy", f32), tx = call.arg(x, "x", f32);
    py::gil_scoped_release release;
    Tensor dx = ops::global_avg_pool2d_grad(tdy, tx);
    py::gil_scoped_acquire gil;
    return call.result(dx);
  }, arg("dy"), arg("x"), arg("device") = "cpu");

  // Activations: one forward and one backward binding per entry of core/activations.h's list; `xy` is
  // what the backward reads.
  m.def("activation_names", []() {
    py::tuple names(kActivationCount);
    for (int i = 0; i < kActivationCount; ++i) names[i] = kActivations[i].name;
    return names;
  }, "The element-wise activations, in the order of their list: each is an op <name> with <name>_grad, "
     "and a valid `activation` of dense and conv2d.");
  m.def("activation_grad_argument", [](const std::string& name) {
    const ActivationInfo* info = find_activation(name.c_str());
    if (info == nullptr) throw ValueError("activation: '" + name + "' is not in the list");
    return std::string(activation_grad_arg(*info));
  }, arg("name"), "What <name>_grad reads besides dy: 'y' (the forward's output) or 'x' (its input).");
  for (const ActivationInfo& a : kActivations) {
    const GtActivation k = a.kind;
    const char* xy_name = activation_grad_arg(a);
    m.def(a.name, [k](py::object x, const std::string& device) {
      OpCall call(device, {x});
      Tensor tx = call.arg(x, "x", f32);
      py::gil_scoped_release release;
      Tensor y = ops::activation(tx, k);
      py::gil_scoped_acquire gil;
      return call.result(y);
    }, arg("x"), arg("device") = "cpu");
    m.def(a.grad_name, [k, xy_name](py::object dy, py::object xy, const std::string& device) {
      OpCall call(device, {dy, xy});
      Tensor tdy = call.arg(dy, "dy", f32), txy = call.arg(xy, xy_name, f32);
      py::gil_scoped_release release;
      Tensor dx = ops::activation_grad(tdy, txy, k);
      py::gil_scoped_acquire gil;
      return call.result(dx);
    }, arg("dy"), arg(xy_name), arg("device") = "cpu");
  }

  m.def("softmax", [](py::object x, const std::string& device) {
    OpCall call(device, {x});
    Tensor tx = call.arg(x, "x", f32);
    py::gil_scoped_release release;
    Tensor y = ops::softmax(tx);
    py::gil_scoped_acquire gil;
    return call.result(y);
  }, arg("x"), arg("device") = "cpu");

  m.def("softmax_grad", [](py::object dy, py::object y, const std::string& device) {
    OpCall call(device, {dy, y});
    Tensor tdy = call.arg(dy, "dy", f32), ty = call.arg(y, "y", f32);
    py::gil_scoped_release release;
    Tensor dx = ops::softmax_grad(tdy, ty);
    py::gil_scoped_acquire gil;
    return call.result(dx);
  }, arg("dy"), arg("y"), arg("device") = "cpu");

  m.def("log_softmax", [](py::object x, int64_t axis, const std::string& device) {
    OpCall call(device, {x});
    Tensor tx = call.arg(x, "x", f32);
    py::gil_scoped_release release;
    Tensor y = ops::log_softmax(tx, axis);
    py::gil_scoped_acquire gil;
    return call.result(y);
  }, arg("x"), arg("axis"), arg("device") = "cpu");

  m.def("log_softmax_grad", [](py::object dy, py::object y, int64_t axis, const std::string& device) {
    OpCall call(device, {dy, y});
    Tensor tdy = call.arg(dy, "dy", f32), ty = call.arg(y, "y", f32);
    py::gil_scoped_release release;
    Tensor dx = ops::log_softmax_grad(tdy, ty, axis);
    py::gil_scoped_acquire gil;
    return call.result(dx);
  }, arg("dy"), arg("y"), arg("axis"), arg("device") = "cpu");

  m.def("dropout", [](py::object x, double rate, uint64_t seed, const std::string& device) {
    OpCall call(device, {x});
    Tensor tx = call.arg(x, "x", f32);
    py::gil_scoped_release release;
    ops::DropoutResult r = ops::dropout(tx, rate, seed);
    py::gil_scoped_acquire gil;
    return py::make_tuple(call.result(r.y), call.result(r.mask));
  }, arg("x"), arg("rate"), arg("seed"), arg("device") = "cpu");

  m.def("dropout_grad", [](py::object dy, py::object mask, double rate, const std::string& device) {
    OpCall call(device, {dy, mask});
    Tensor tdy = call.arg(dy, "dy", f32), tm = call.arg(mask, "mask", DType::UInt8);
    py::gil_scoped_release release;
    Tensor dx = ops::dropout_grad(tdy, tm, rate);
    py::gil_scoped_acquire gil;
    return call.result(dx);
  }, arg("dy"), arg("mask"), arg("rate"), arg("device") = "cpu");

  m.def("softmax_cross_entropy", [](py::object labels, py::object logits, const std::string& device,
                                    py::object class_weight, std::optional<int64_t> ignore_index,
                                    const std::string& reduction) {
    OpCall call(device, {labels, logits, class_weight});
    Tensor tl = call.arg(labels, "labels", DType::Int32), tz = call.arg(logits, "logits", f32),
           tw = call.optional_arg(class_weight, "class_weight", f32);
    py::gil_scoped_release release;
    ops::LossResult r = ops::softmax_cross_entropy(tz, tl, tw, ignore_index, reduction);
    py::gil_scoped_acquire gil;
    return py::make_tuple(call.result(r.loss), call.result(r.grad));
  }, arg("labels"), arg("logits"), arg("device") = "cpu", arg("class_weight") = py::none(),
     arg("ignore_index") = py::none(), arg("reduction") = "mean");

  m.def("binary_cross_entropy", [](py::object target, py::object input, bool from_logits,
                                   const std::string& device) {
    OpCall call(device, {target, input});
    Tensor tt = call.arg(target, "target", f32),
           ti = call.arg(input, from_logits ? "logits" : "probabilities", f32);
    py::gil_scoped_release release;
    ops::LossResult r = ops::binary_cross_entropy(tt, ti, from_logits);
    py::gil_scoped_acquire gil;
    return py::make_tuple(call.result(r.loss), call.result(r.grad));
  }, arg("target"), arg("input"), arg("from_logits"), arg("device") = "cpu");

  m.def("point_loss_names", [] { return std::vector<std::string>(std::begin(kPointLossNames), std::end(kPointLossNames)); },
        "The element-wise losses' names (core/point_losses.h), in their list's order.");
  m.def("point_loss", [](const std::string& name, py::object target, py::object input, double param,
                         const std::string& device) {
    OpCall call(device, {target, input});
    Tensor tt = call.arg(target, "y_true", f32), ti = call.arg(input, "y_pred", f32);
    py::gil_scoped_release release;
    ops::LossResult r = ops::point_loss(name, tt, ti, param);
    py::gil_scoped_acquire gil;
    return py::make_tuple(call.result(r.loss), call.result(r.grad));
  }, arg("name"), arg("target"), arg("input"), arg("param"), arg("device") = "cpu");

  m.def("batch_norm", [](py::object x, py::object gamma, py::object beta, py::object moving_mean,
                         py::object moving_var, bool training, double momentum, double epsilon,
                         const std::string& device) {
    OpCall call(device, {x, gamma, beta, moving_mean, moving_var});
    InPlace in_place(call);
    Tensor tx = call.arg(x, "x", f32), tg = call.optional_arg(gamma, "gamma", f32),
           tb = call.optional_arg(beta, "beta", f32);
    // The moving statistics are written only in training; in inference they are plain inputs.
    Tensor tm = training ? in_place.arg(moving_mean, "moving_mean", true)
                         : call.optional_arg(moving_mean, "moving_mean", f32);
    Tensor tv = training ? in_place.arg(moving_var, "moving_var", true)
                         : call.optional_arg(moving_var, "moving_var", f32);
    ops::BatchNormResult r;
    {
      py::gil_scoped_release release;
      r = ops::batch_norm(tx, tg, tb, tm, tv, training, momentum, epsilon);
    }
    in_place.finish();
    return py::make_tuple(call.result(r.y), call.result(r.mean), call.result(r.var));
  }, arg("x"), arg("gamma"), arg("beta"), arg("moving_mean"), arg("moving_var"), arg("training"),
     arg("momentum"), arg("epsilon"), arg("device") = "cpu");

  m.def("batch_norm_grad", [](py::object dy, py::object x, py::object gamma, py::object mean,
                              py::object var, double epsilon, const std::string& device) {
    OpCall call(device, {dy, x, gamma, mean, var});
    Tensor tdy = call.arg(dy, "dy", f32), tx = call.arg(x, "x", f32),
           tg = call.optional_arg(gamma, "gamma", f32), tm = call.arg(mean, "mean", f32),
           tv = call.arg(var, "var", f32);
    py::gil_scoped_release release;
    ops::BatchNormGrads g = ops::batch_norm_grad(tdy, tx, tg, tm, tv, epsilon);
    py::gil_scoped_acquire gil;
    return py::make_tuple(call.result(g.dx), call.result(g.dgamma), call.result(g.dbeta));
  }, arg("dy"), arg("x"), arg("gamma"), arg("mean"), arg("var"), arg("epsilon"), arg("device") = "cpu");

  m.def("nadam_momentum_product", &ops::nadam_momentum_product, arg("beta_1"), arg("step"),
        "Nadam's momentum product after `step` updates, as Keras's Nadam keeps it.");
  m.def("sgd_update", [](py::object param, py::object grad, py::object velocity, double lr,
                         double momentum, bool nesterov, const std::string& device) {
    OpCall call(device, {param, grad, velocity});
    InPlace in_place(call);
    Tensor tp = in_place.arg(param, "param"), tg = call.arg(grad, "grad", f32),
           tv = in_place.arg(velocity, "velocity", true);
    {
      py::gil_scoped_release release;
      ops::sgd_update(tp, tg, tv, lr, momentum, nesterov);
    }
    in_place.finish();
  }, arg("param"), arg("grad"), arg("velocity"), arg("learning_rate"), arg("momentum"),
     arg("nesterov"), arg("device") = "cpu");

  m.def("adam_update", [](py::object param, py::object grad, py::object m_, py::object v, int64_t step,
                          double lr, double beta_1, double beta_2, double epsilon,
                          const std::string& device) {
    OpCall call(device, {param, grad, m_, v});
    InPlace in_place(call);
    Tensor tp = in_place.arg(param, "param"), tg = call.arg(grad, "grad", f32),
           tm = in_place.arg(m_, "m"), tv = in_place.arg(v, "v");
    {
      py::gil_scoped_release release;
      ops::adam_update(tp, tg, tm, tv, step, lr, beta_1, beta_2, epsilon);
    }
    in_place.finish();
  }, arg("param"), arg("grad"), arg("m"), arg("v"), arg("step"), arg("learning_rate"), arg("beta_1"),
     arg("beta_2"), arg("epsilon"), arg("device") = "cpu");

  m.def("rmsprop_update", [](py::object param, py::object grad, py::object velocity,
                             py::object momentum_buffer, py::object average_grad, double lr, double rho,
                             double momentum, double epsilon, bool centered, const std::string& device) {
    OpCall call(device, {param, grad, velocity, momentum_buffer, average_grad});
    InPlace in_place(call);
    Tensor tp = in_place.arg(param, "param"), tg = call.arg(grad, "grad", f32),
           tv = in_place.arg(velocity, "velocity"),
           tmb = in_place.arg(momentum_buffer, "momentum_buffer", true),
           tag = in_place.arg(average_grad, "average_grad", true);
    {
      py::gil_scoped_release release;
      ops::rmsprop_update(tp, tg, tv, tmb, tag, lr, rho, momentum, epsilon, centered);
    }
    in_place.finish();
  }, arg("param"), arg("grad"), arg("velocity"), arg("momentum_buffer"), arg("average_grad"),
     arg("learning_rate"), arg("rho"), arg("momentum"), arg("epsilon"), arg("centered"),
     arg("device") = "cpu");
}

}  // namespace gt::py_bridge
