// Dispatch of the element- and row-wise ops: activations (any of core/activations.h's list), softmax,
// log_softmax (any axis), dropout and the losses.
#include <cmath>

#include "core/activations.h"
#include "core/kernel_calls.h"
#include "core/nn_checks.h"
#include "core/point_losses.h"
#include "core/ops.h"

namespace gt::ops {
namespace {

// The listed activation of that kind (core/activations.h); ValueError for NONE or an unlisted kind.
const ActivationInfo& listed_activation(GtActivation kind) {
  if (const ActivationInfo* a = find_activation(kind)) return *a;
  throw ValueError("activation: unknown kind " + std::to_string(static_cast<int>(kind)));
}

// (rows, cols) view of x over its last axis.
void last_axis(const char* name, const Tensor& x, int64_t* rows, int64_t* cols) {
  if (x.ndim() < 1)
    throw ValueError(std::string(name) + ": expected at least rank 1, got shape " + shape_str(x.shape()));
  *cols = x.dim(x.ndim() - 1);
  *rows = *cols > 0 ? x.numel() / *cols : 0;
}

// The (outer, cols, inner) view of x around `axis` (negative: from the end).
struct AxisView {
  int64_t outer, cols, inner;
};
AxisView around_axis(const char* name, const Tensor& x, int64_t axis) {
  const auto rank = static_cast<int64_t>(x.ndim());
  if (rank < 1)
    throw ValueError(std::string(name) + ": expected at least rank 1, got shape " + shape_str(x.shape()));
  if (axis < -rank || axis >= rank)
    throw ValueError("axis: expected an axis of " + std::string(name) + " " + shape_str(x.shape()) + " in [" +
                     std::to_string(-rank) + ", " + std::to_string(rank) + "), got " + std::to_string(axis));
  const int64_t a = axis < 0 ? axis + rank : axis;
  AxisView v{1, x.dim(a), 1};
  for (int64_t d = 0; d < a; ++d) v.outer *= x.dim(d);
  for (int64_t d = a + 1; d < rank; ++d) v.inner *= x.dim(d);
  return v;
}

}  // namespace

DropoutConstants dropout_constants(double rate) {
  return {static_cast<uint32_t>(std::llround(rate * 16777216.0)), static_cast<float>(1.0 / (1.0 - rate))};
}

Tensor activation(const Tensor& x, GtActivation kind) {
  listed_activation(kind);  // ValueError for NONE or an unlisted kind
  const Device& device = x.device();
  check_float_on("x", x, device);
  Tensor y = Tensor::empty(x.shape(), DType::Float32, device);
  if (y.numel() == 0) return y;
  kernels::activation_forward(device, kind, x.numel(), x.data<float>(), y.data<float>());
  return y;
}

Tensor activation_grad(const Tensor& dy, const Tensor& xy, GtActivation kind) {
  const char* xy_name = activation_grad_arg(listed_activation(kind));
  const Device& device = dy.device();
  check_float_on("dy", dy, device);
  check_float_on(xy_name, xy, device);
  check_same_shape("dy", dy, xy_name, xy);
  Tensor dx = Tensor::empty(dy.shape(), DType::Float32, device);
  if (dx.numel() == 0) return dx;
  kernels::activation_backward(device, kind, dy.numel(), dy.data<float>(), xy.data<float>(), dx.data<float>());
  return dx;
}

Tensor softmax(const Tensor& x) {
  const Device& device = x.device();
  check_float_on("x", x, device);
  int64_t rows = 0, cols = 0;
  last_axis("x", x, &rows, &cols);
  Tensor y = Tensor::empty(x.shape(), DType::Float32, device);
  if (y.numel() == 0) return y;
  kernels::softmax_forward(device, rows, cols, x.data<float>(), y.data<float>());
  return y;
}

Tensor softmax_grad(const Tensor& dy, const Tensor& y) {
  const Device& device = dy.device();
  check_float_on("dy", dy, device);
  check_float_on("y", y, device);
  check_same_shape("dy", dy, "y", y);
  int64_t rows = 0, cols = 0;
  last_axis("y", y, &rows, &cols);
  Tensor dx = Tensor::empty(y.shape(), DType::Float32, device);
  if (dx.numel() == 0) return dx;
  kernels::softmax_backward(device, rows, cols, dy.data<float>(), y.data<float>(), dx.data<float>());
  return dx;
}

Tensor log_softmax(const Tensor& x, int64_t axis) {
  const Device& device = x.device();
  check_float_on("x", x, device);
  const AxisView v = around_axis("x", x, axis);
  Tensor y = Tensor::empty(x.shape(), DType::Float32, device);
  if (y.numel() == 0) return y;
  kernels::log_softmax_forward(device, v.outer, v.cols, v.inner, x.data<float>(), y.data<float>());
  return y;
}

Tensor log_softmax_grad(const Tensor& dy, const Tensor& y, int64_t axis) {
  const Device& device = dy.device();
  check_float_on("dy", dy, device);
  check_float_on("y", y, device);
  check_same_shape("dy", dy, "y", y);
  const AxisView v = around_axis("y", y, axis);
  Tensor dx = Tensor::empty(y.shape(), DType::Float32, device);
  if (dx.numel() == 0) return dx;
  kernels::log_softmax_backward(device, v.outer, v.cols, v.inner, dy.data<float>(), y.data<float>(),
                                dx.data<float>());
  return dx;
}

DropoutResult dropout(const Tensor& x, double rate, uint64_t seed) {
  const Device& device = x.device();
  check_float_on("x", x, device);
  check_rate(rate);
  const auto [threshold, scale] = dropout_constants(rate);
  DropoutResult r{Tensor::empty(x.shape(), DType::Float32, device),
                  Tensor::empty(x.shape(), DType::UInt8, device)};
  if (x.numel() == 0) return r;
  kernels::dropout_forward(device, x.numel(), x.data<float>(), seed, nullptr, threshold, scale, r.y.data<float>(),
                           r.mask.data<uint8_t>());
  return r;
}

Tensor dropout_grad(const Tensor& dy, const Tensor& mask, double rate) {
  const Device& device = dy.device();
  check_float_on("dy", dy, device);
  check_dtype("mask", mask, DType::UInt8);
  check_same_device("dy", dy, "mask", mask);
  check_same_shape("dy", dy, "mask", mask);
  check_rate(rate);
  const float scale = dropout_constants(rate).scale;
  Tensor dx = Tensor::empty(dy.shape(), DType::Float32, device);
  if (dx.numel() == 0) return dx;
  kernels::dropout_backward(device, dy.numel(), dy.data<float>(), mask.data<uint8_t>(), scale, dx.data<float>());
  return dx;
}

LossResult softmax_cross_entropy(const Tensor& logits, const Tensor& labels, const Tensor& class_weight,
                                 std::optional<int64_t> ignore_index, const std::string& reduction) {
  const Device& device = logits.device();
  GtReduction how = GT_REDUCTION_MEAN;
  if (reduction == "sum") {
    how = GT_REDUCTION_SUM;
  } else if (reduction == "none") {
    how = GT_REDUCTION_NONE;
  } else if (reduction != "mean") {
    throw ValueError("reduction: expected 'mean', 'sum' or 'none', got '" + reduction + "'");
  }
  check_float_on("logits", logits, device);
  check_rank("logits", logits, 2);
  check_dtype("labels", labels, DType::Int32);
  check_same_device("logits", logits, "labels", labels);
  const int64_t rows = logits.dim(0), classes = logits.dim(1);
  if (classes < 1) throw ValueError("logits: expected at least one class, got shape " + shape_str(logits.shape()));
  if (labels.shape() != Shape{rows})
    throw ValueError("labels: expected shape (" + std::to_string(rows) + ",) to match logits " +
                     shape_str(logits.shape()) + ", got " + shape_str(labels.shape()));
  if (class_weight.defined()) {
    check_float_on("class_weight", class_weight, device);
    check_vector("class_weight", class_weight, classes, "to match the classes of logits " + shape_str(logits.shape()));
  }
  const int64_t ignored = ignore_index.value_or(GT_NO_IGNORE_INDEX);
  // Labels index memory inside the kernel, so each one is checked here (a host copy for GPU labels:
  // rows × 4 bytes). A label equal to ignore_index is never used as an index.
  const Tensor host_labels = labels.to(Device{});
  for (int64_t i = 0; i < rows; ++i) {
    const int32_t label = host_labels.data<int32_t>()[i];
    if ((label < 0 || label >= classes) && label != ignored)
      throw ValueError("labels: label " + std::to_string(label) + " at index " + std::to_string(i) +
                       " is outside [0, " + std::to_string(classes) + ") for logits " + shape_str(logits.shape()) +
                       (ignore_index ? " and is not ignore_index " + std::to_string(*ignore_index) : std::string()));
  }
  LossResult r{Tensor::empty(how == GT_REDUCTION_NONE ? Shape{rows} : Shape{}, DType::Float32, device),
               Tensor::empty(logits.shape(), DType::Float32, device)};
  Tensor ws = workspace(static_cast<int64_t>(kernels::softmax_cross_entropy_workspace(device, rows)), device);
  kernels::CrossEntropyOptions options;
  options.class_weight = class_weight.defined() ? class_weight.data<float>() : nullptr;
  options.ignore_index = ignored;
  options.reduction = how;
  kernels::softmax_cross_entropy(device, rows, classes, logits.data<float>(), labels.data<int32_t>(),
                                 r.loss.data<float>(), r.grad.data<float>(), ws.data<float>(), options);
  return r;
}

LossResult binary_cross_entropy(const Tensor& target, const Tensor& input, bool from_logits) {
  const Device& device = input.device();
  const char* input_name = from_logits ? "logits" : "probabilities";
  check_float_on(input_name, input, device);
  check_float_on("target", target, device);
  check_same_shape("target", target, input_name, input);
  LossResult r{Tensor::empty({}, DType::Float32, device),
               Tensor::empty(input.shape(), DType::Float32, device)};
  Tensor ws = workspace(static_cast<int64_t>(kernels::binary_cross_entropy_workspace(device)), device);
  kernels::binary_cross_entropy(device, input.numel(), input.data<float>(), target.data<float>(), from_logits,
                                r.loss.data<float>(), r.grad.data<float>(), ws.data<float>());
  return r;
}

LossResult point_loss(const std::string& name, const Tensor& target, const Tensor& input, double param) {
  const int kind = find_point_loss(name.c_str());
  if (kind < 0) {
    std::string names;
    for (const char* n : kPointLossNames) names += std::string(names.empty() ? "" : ", ") + n;
    throw ValueError("loss: '" + name + "' is not one of " + names);
  }
  const Device& device = input.device();
  check_float_on("y_pred", input, device);
  check_float_on("y_true", target, device);
  check_same_shape("y_true", target, "y_pred", input);
  check_float32("delta", param);
  LossResult r{Tensor::empty({}, DType::Float32, device), Tensor::empty(input.shape(), DType::Float32, device)};
  Tensor ws = workspace(static_cast<int64_t>(kernels::point_loss_workspace(device)), device);
  kernels::point_loss(device, kind, input.numel(), input.data<float>(), target.data<float>(),
                      static_cast<float>(param), r.loss.data<float>(), r.grad.data<float>(), ws.data<float>());
  return r;
}

}  // namespace gt::ops
