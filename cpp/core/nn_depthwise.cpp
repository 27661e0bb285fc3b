// Dispatch of depthwise convolution and its two gradients: argument checks (shapes, channels, the
// dilated window), output and workspace allocation, and the calls into the device's kernels.
#include "core/kernel_calls.h"
#include "core/nn_checks.h"
#include "core/ops.h"

namespace gt::ops {
namespace {

void fill_zero(const Tensor& t) { kernels::fill_zero(t.device(), t.raw(), t.nbytes()); }

// The (kh, kw, c, multiplier) kernel, checked against x's channels where x's shape is known.
void check_depthwise_kernel(const Tensor& kernel, const Shape& x_shape) {
  if (kernel.ndim() != 4)
    throw ValueError("kernel: expected rank 4 (height, width, channels, depth_multiplier), got shape " +
                     shape_str(kernel.shape()));
  if (kernel.dim(0) < 1 || kernel.dim(1) < 1 || kernel.dim(2) < 1 || kernel.dim(3) < 1)
    throw ValueError("kernel: extents must be >= 1, got shape " + shape_str(kernel.shape()));
  if (x_shape.size() == 4 && kernel.dim(2) != x_shape[3])
    throw ValueError("kernel " + shape_str(kernel.shape()) + " expects " + std::to_string(kernel.dim(2)) +
                     " input channels but x " + shape_str(x_shape) + " has " + std::to_string(x_shape[3]));
}

void check_dy(const Tensor& dy, const GtDepthwise2d& d, const Shape& x_shape) {
  const Shape y_shape{d.g.n, d.g.oh, d.g.ow, d.g.c * d.multiplier};
  if (dy.shape() != y_shape)
    throw ValueError("dy: expected shape " + shape_str(y_shape) + " (the output of x " + shape_str(x_shape) +
                     " with depth_multiplier " + std::to_string(d.multiplier) + "), got " + shape_str(dy.shape()));
}

}  // namespace

Tensor depthwise_conv2d(const Tensor& x, const Tensor& kernel, const Tensor& bias, Pair strides,
                        const std::string& padding, Pair dilation, GtActivation activation) {
  const Device& device = x.device();
  if (activation != GT_ACTIVATION_NONE && find_activation(activation) == nullptr)
    throw ValueError("activation: unknown kind " + std::to_string(static_cast<int>(activation)));
  check_float_on("x", x, device);
  check_float_on("kernel", kernel, device);
  check_depthwise_kernel(kernel, x.shape());
  const GtDepthwise2d d = depthwise_geometry("x", x.shape(), Pair{kernel.dim(0), kernel.dim(1)}, kernel.dim(3),
                                             strides, padding, dilation);
  const int64_t channels = d.g.c * d.multiplier;
  if (bias.defined()) {
    check_float_on("bias", bias, device);
    check_vector("bias", bias, channels, "to match kernel " + shape_str(kernel.shape()));
  }
  Tensor y = Tensor::empty({d.g.n, d.g.oh, d.g.ow, channels}, DType::Float32, device);
  if (y.numel() == 0) return y;
  kernels::depthwise_conv2d_forward(device, d, x.data<float>(), kernel.data<float>(),
                                    bias.defined() ? bias.data<float>() : nullptr, activation, y.data<float>());
  return y;
}

Tensor depthwise_conv2d_backward_data(const Tensor& dy, const Tensor& kernel, const Shape& x_shape, Pair strides,
                                      const std::string& padding, Pair dilation) {
  const Device& device = dy.device();
  check_float_on("dy", dy, device);
  check_float_on("kernel", kernel, device);
  if (x_shape.size() == 4 && x_shape[0] < 0)
    throw ValueError("input_shape: the batch must be >= 0, got " + shape_str(x_shape));
  check_depthwise_kernel(kernel, x_shape);
  const GtDepthwise2d d = depthwise_geometry("input_shape", x_shape, Pair{kernel.dim(0), kernel.dim(1)},
                                             kernel.dim(3), strides, padding, dilation);
  check_dy(dy, d, x_shape);
  Tensor dx = Tensor::empty(x_shape, DType::Float32, device);
  if (dx.numel() == 0) return dx;
  kernels::depthwise_conv2d_backward_data(device, d, dy.data<float>(), kernel.data<float>(), dx.data<float>());
  return dx;
}

DepthwiseFilterGrads depthwise_conv2d_backward_filter(const Tensor& dy, const Tensor& x, Pair kernel_size,
                                                      Pair strides, const std::string& padding, Pair dilation) {
  const Device& device = x.device();
  check_float_on("dy", dy, device);
  check_float_on("x", x, device);
  check_rank("dy", dy, 4);
  check_rank("x", x, 4);
  const int64_t c = x.dim(3);
  if (c < 1 || dy.dim(3) < 1 || dy.dim(3) % c != 0)
    throw ValueError("dy " + shape_str(dy.shape()) + ": its channels must be a positive multiple of x " +
                     shape_str(x.shape()) + "'s (channels · depth_multiplier)");
  const GtDepthwise2d d =
      depthwise_geometry("x", x.shape(), kernel_size, dy.dim(3) / c, strides, padding, dilation);
  check_dy(dy, d, x.shape());
  DepthwiseFilterGrads r{Tensor::empty({kernel_size.h, kernel_size.w, c, d.multiplier}, DType::Float32, device),
                         Tensor::empty({c * d.multiplier}, DType::Float32, device)};
  if (d.g.n == 0) {
    fill_zero(r.dkernel);
    fill_zero(r.dbias);
    return r;
  }
  Tensor ws = workspace(static_cast<int64_t>(kernels::depthwise_conv2d_backward_filter_workspace(device, d)), device);
  kernels::depthwise_conv2d_backward_filter(device, d, x.data<float>(), dy.data<float>(), r.dkernel.data<float>(),
                                            r.dbias.data<float>(), ws.data<float>());
  return r;
}

}  // namespace gt::ops
