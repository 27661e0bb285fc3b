// Dispatch of the GEMM-based ops: matmul, dense and conv2d with their gradients.
#include "core/kernel_calls.h"
#include "core/nn_checks.h"
#include "core/ops.h"

namespace gt::ops {
namespace {

void fill_zero(const Tensor& t) { kernels::fill_zero(t.device(), t.raw(), t.nbytes()); }

// A GEMM with its workspace allocated for this call.
void gemm(const Device& device, const char* what, bool trans_a, bool trans_b, int64_t m, int64_t n,
          int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
          const float* bias, GtActivation activation = GT_ACTIVATION_NONE) {
  Tensor ws = workspace(static_cast<int64_t>(kernels::gemm_workspace(device, m, n, k)), device);
  kernels::gemm(device, what, trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc, false, bias, activation,
                ws.data<float>());
}

// The (in, out) kernel of a dense layer over x (..., in).
void check_dense_kernel(const Tensor& x, const Tensor& kernel) {
  check_rank("kernel", kernel, 2);
  if (kernel.dim(0) < 1 || kernel.dim(1) < 1)
    throw ValueError("kernel: extents must be >= 1, got shape " + shape_str(kernel.shape()));
  if (x.ndim() < 1)
    throw ValueError("x: expected at least rank 1 (..., features), got shape " + shape_str(x.shape()));
  if (kernel.dim(0) != x.dim(x.ndim() - 1))
    throw ValueError("kernel " + shape_str(kernel.shape()) + " expects " + std::to_string(kernel.dim(0)) +
                     " input features but x " + shape_str(x.shape()) + " has " +
                     std::to_string(x.dim(x.ndim() - 1)));
}

void check_activation(GtActivation activation) {
  if (activation != GT_ACTIVATION_NONE && find_activation(activation) == nullptr)
    throw ValueError("activation: unknown kind " + std::to_string(static_cast<int>(activation)));
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  const Device& device = a.device();
  check_float_on("a", a, device);
  check_float_on("b", b, device);
  check_rank("a", a, 2);
  check_rank("b", b, 2);
  const int64_t m = trans_a ? a.dim(1) : a.dim(0), k = trans_a ? a.dim(0) : a.dim(1);
  const int64_t kb = trans_b ? b.dim(1) : b.dim(0), n = trans_b ? b.dim(0) : b.dim(1);
  if (k != kb)
    throw ValueError("a " + shape_str(a.shape()) + (trans_a ? " (transposed)" : "") + " and b " +
                     shape_str(b.shape()) + (trans_b ? " (transposed)" : "") +
                     " do not chain: inner extents " + std::to_string(k) + " and " + std::to_string(kb));
  Tensor c = Tensor::empty({m, n}, DType::Float32, device);
  gemm(device, "matmul", trans_a, trans_b, m, n, k, a.data<float>(), a.dim(1), b.data<float>(), b.dim(1),
       c.data<float>(), n, nullptr);
  return c;
}

Tensor dense(const Tensor& x, const Tensor& kernel, const Tensor& bias, GtActivation activation) {
  const Device& device = x.device();
  check_activation(activation);
  check_float_on("x", x, device);
  check_float_on("kernel", kernel, device);
  check_dense_kernel(x, kernel);
  const int64_t in = kernel.dim(0), out = kernel.dim(1), m = x.numel() / in;
  if (bias.defined()) {
    check_float_on("bias", bias, device);
    check_vector("bias", bias, out, "to match kernel " + shape_str(kernel.shape()));
  }
  Shape shape = x.shape();
  shape.back() = out;
  Tensor y = Tensor::empty(shape, DType::Float32, device);
  gemm(device, "dense", false, false, m, out, in, x.data<float>(), in, kernel.data<float>(), out,
       y.data<float>(), out, bias.defined() ? bias.data<float>() : nullptr, activation);
  return y;
}

DenseGrads dense_grad(const Tensor& dy, const Tensor& x, const Tensor& kernel) {
  const Device& device = x.device();
  check_float_on("dy", dy, device);
  check_float_on("x", x, device);
  check_float_on("kernel", kernel, device);
  check_dense_kernel(x, kernel);
  const int64_t in = kernel.dim(0), out = kernel.dim(1), m = x.numel() / in;
  Shape y_shape = x.shape();
  y_shape.back() = out;
  if (dy.shape() != y_shape)
    throw ValueError("dy: expected shape " + shape_str(y_shape) + " (the output of x " +
                     shape_str(x.shape()) + " and kernel " + shape_str(kernel.shape()) + "), got " +
                     shape_str(dy.shape()));
  DenseGrads g{Tensor::empty(x.shape(), DType::Float32, device),
               Tensor::empty(kernel.shape(), DType::Float32, device),
               Tensor::empty({out}, DType::Float32, device)};
  if (m == 0) {  // an empty batch: no contribution to any gradient
    fill_zero(g.dkernel);
    fill_zero(g.dbias);
    return g;
  }
  gemm(device, "dense_grad", false, true, m, in, out, dy.data<float>(), out, kernel.data<float>(), out,
       g.dx.data<float>(), in, nullptr);
  gemm(device, "dense_grad", true, false, in, out, m, x.data<float>(), in, dy.data<float>(), out,
       g.dkernel.data<float>(), out, nullptr);
  Tensor ws = workspace(static_cast<int64_t>(kernels::column_sums_workspace(device, out)), device);
  kernels::column_sums(device, "dense_grad", dy.data<float>(), m, out, g.dbias.data<float>(), ws.data<float>());
  return g;
}

Tensor conv2d(const Tensor& x, const Tensor& kernel, const Tensor& bias, Pair strides,
              const ConvPadding& padding, Pair dilation, int64_t groups, GtActivation activation) {
  const Device& device = x.device();
  check_activation(activation);
  check_float_on("x", x, device);
  check_float_on("kernel", kernel, device);
  check_conv_kernel(x.shape(), kernel.shape(), groups);
  GtWindow2d g = conv_geometry("x", x.shape(), Pair{kernel.dim(0), kernel.dim(1)}, strides, padding, dilation);
  g.groups = groups;
  const int64_t k = kernel.dim(3);
  if (bias.defined()) {
    check_float_on("bias", bias, device);
    check_vector("bias", bias, k, "to match kernel " + shape_str(kernel.shape()));
  }
  Tensor y = Tensor::empty({g.n, g.oh, g.ow, k}, DType::Float32, device);
  if (y.numel() == 0) return y;
  kernels::conv2d_forward(device, g, k, x.data<float>(), kernel.data<float>(),
                          bias.defined() ? bias.data<float>() : nullptr, activation, y.data<float>());
  return y;
}

Conv2dGrads conv2d_grad(const Tensor& dy, const Tensor& x, const Tensor& kernel, Pair strides,
                        const ConvPadding& padding, Pair dilation, int64_t groups) {
  const Device& device = x.device();
  check_float_on("dy", dy, device);
  check_float_on("x", x, device);
  check_float_on("kernel", kernel, device);
  check_conv_kernel(x.shape(), kernel.shape(), groups);
  GtWindow2d g = conv_geometry("x", x.shape(), Pair{kernel.dim(0), kernel.dim(1)}, strides, padding, dilation);
  g.groups = groups;
  const int64_t k = kernel.dim(3);
  const Shape y_shape{g.n, g.oh, g.ow, k};
  if (dy.shape() != y_shape)
    throw ValueError("dy: expected shape " + shape_str(y_shape) + " (the output of x " +
                     shape_str(x.shape()) + " and kernel " + shape_str(kernel.shape()) + "), got " +
                     shape_str(dy.shape()));
  Conv2dGrads r{Tensor::empty(x.shape(), DType::Float32, device),
                Tensor::empty(kernel.shape(), DType::Float32, device),
                Tensor::empty({k}, DType::Float32, device)};
  if (g.n == 0) {
    fill_zero(r.dkernel);
    fill_zero(r.dbias);
    return r;
  }
  kernels::conv2d_backward_data(device, g, k, dy.data<float>(), kernel.data<float>(), r.dx.data<float>());
  Tensor ws = workspace(static_cast<int64_t>(kernels::conv2d_backward_filter_workspace(device, g, k)), device);
  kernels::conv2d_backward_filter(device, g, k, x.data<float>(), dy.data<float>(), r.dkernel.data<float>(),
                                  r.dbias.data<float>(), ws.data<float>());
  return r;
}

}  // namespace gt::ops
