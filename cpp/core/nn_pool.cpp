// Dispatch of max/average pooling (windowed and global) and their gradients.
#include "core/kernel_calls.h"
#include "core/nn_checks.h"
#include "core/ops.h"

namespace gt::ops {
namespace {

// The mean over height and width needs at least one cell: the forward and its gradient agree on it.
void check_global_pool_input(const Tensor& x) {
  if (x.ndim() != 4)
    throw ValueError("x: expected rank 4 (batch, height, width, channels), got shape " +
                     shape_str(x.shape()));
  if (x.dim(1) < 1 || x.dim(2) < 1)
    throw ValueError("x: height and width must be >= 1, got shape " + shape_str(x.shape()));
}

}  // namespace

PoolResult pool2d(const Tensor& x, GtPoolKind kind, Pair pool_size, Pair strides, const ConvPadding& padding,
                  bool with_argmax, bool count_include_pad) {
  const Device& device = x.device();
  check_float_on("x", x, device);
  if (with_argmax && kind != GT_POOL_MAX) throw ValueError("argmax: only max pooling has one");
  const GtWindow2d g = pool_geometry(x, kind, pool_size, strides, padding, count_include_pad);
  const Shape y_shape{g.n, g.oh, g.ow, g.c};
  PoolResult r{Tensor::empty(y_shape, DType::Float32, device),
               with_argmax ? Tensor::empty(y_shape, DType::Int32, device) : Tensor()};
  if (r.y.numel() == 0) return r;
  kernels::pool2d_forward(device, g, kind, x.data<float>(), r.y.data<float>(),
                          with_argmax ? r.argmax.data<int32_t>() : nullptr);
  return r;
}

Tensor pool2d_grad(const Tensor& dy, const Tensor& x, GtPoolKind kind, Pair pool_size, Pair strides,
                   const ConvPadding& padding, const Tensor& argmax, bool count_include_pad) {
  const Device& device = x.device();
  check_float_on("dy", dy, device);
  check_float_on("x", x, device);
  const GtWindow2d g = pool_geometry(x, kind, pool_size, strides, padding, count_include_pad);
  const Shape y_shape{g.n, g.oh, g.ow, g.c};
  if (dy.shape() != y_shape)
    throw ValueError("dy: expected shape " + shape_str(y_shape) + " (the pooled x " +
                     shape_str(x.shape()) + "), got " + shape_str(dy.shape()));
  if (argmax.defined()) {
    if (kind != GT_POOL_MAX) throw ValueError("argmax: only max pooling has one");
    check_dtype("argmax", argmax, DType::Int32);
    check_same_device("argmax", argmax, "x", x);
    if (argmax.shape() != y_shape)
      throw ValueError("argmax: expected shape " + shape_str(y_shape) + " (the pooled x " + shape_str(x.shape()) +
                       "), got " + shape_str(argmax.shape()));
  }
  Tensor dx = Tensor::empty(x.shape(), DType::Float32, device);
  if (dx.numel() == 0) return dx;
  if (kind == GT_POOL_MAX) {
    Tensor chosen = argmax;  // the windows' first maxima: saved by the forward, or found again now
    if (!chosen.defined()) {
      chosen = Tensor::empty(y_shape, DType::Int32, device);
      if (chosen.numel() > 0)
        kernels::pool2d_forward(device, g, GT_POOL_MAX, x.data<float>(), nullptr, chosen.data<int32_t>());
    }
    kernels::max_pool2d_backward(device, g, dy.data<float>(), chosen.data<int32_t>(), dx.data<float>());
  } else {
    kernels::avg_pool2d_backward(device, g, dy.data<float>(), dx.data<float>());
  }
  return dx;
}

Tensor global_avg_pool2d(const Tensor& x) {
  const Device& device = x.device();
  check_float_on("x", x, device);
  check_global_pool_input(x);
  const int64_t n = x.dim(0), hw = x.dim(1) * x.dim(2), c = x.dim(3);
  Tensor y = Tensor::empty({n, c}, DType::Float32, device);
  if (y.numel() == 0) return y;
  kernels::global_avg_pool2d_forward(device, n, hw, c, x.data<float>(), y.data<float>());
  return y;
}

Tensor global_avg_pool2d_grad(const Tensor& dy, const Tensor& x) {
  const Device& device = x.device();
  check_float_on("dy", dy, device);
  check_float_on("x", x, device);
  check_global_pool_input(x);
  const int64_t n = x.dim(0), hw = x.dim(1) * x.dim(2), c = x.dim(3);
  if (dy.shape() != Shape{n, c})
    throw ValueError("dy: expected shape " + shape_str({n, c}) + " (the pooled x " +
                     shape_str(x.shape()) + "), got " + shape_str(dy.shape()));
  Tensor dx = Tensor::empty(x.shape(), DType::Float32, device);
  if (dx.numel() == 0) return dx;
  kernels::global_avg_pool2d_backward(device, n, hw, c, dy.data<float>(), dx.data<float>());
  return dx;
}

}  // namespace gt::ops
