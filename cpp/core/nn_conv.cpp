// Dispatch of the GEMM-based ops: matmul, dense and conv2d with their gradients.
#include <algorithm>
#include <vector>

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

namespace {

// A batched product op(a) (..., m, k) · op(b) (..., k, n): the batch dimensions broadcast as NumPy's
// matmul broadcasts them, and each output matrix reads matrix a_index[i] of a and b_index[i] of b.
struct BatchedProduct {
  int64_t m, n, k;
  Shape c_shape;
  std::vector<int64_t> a_index, b_index;  // one per output matrix
  int64_t a_matrices, b_matrices;
};

BatchedProduct batched_product(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  auto check_matrices = [](const char* name, const Tensor& t) {
    if (t.ndim() < 2)
      throw ValueError(std::string(name) + ": expected at least rank 2 (..., rows, columns), got shape " +
                       shape_str(t.shape()));
  };
  check_matrices("a", a);
  check_matrices("b", b);
  const size_t ra = a.ndim(), rb = b.ndim();
  BatchedProduct p{};
  p.m = trans_a ? a.dim(ra - 1) : a.dim(ra - 2);
  p.k = trans_a ? a.dim(ra - 2) : a.dim(ra - 1);
  const int64_t kb = trans_b ? b.dim(rb - 1) : b.dim(rb - 2);
  p.n = trans_b ? b.dim(rb - 2) : b.dim(rb - 1);
  if (p.k != kb)
    throw ValueError("a " + shape_str(a.shape()) + (trans_a ? " (transposed)" : "") + " and b " +
                     shape_str(b.shape()) + (trans_b ? " (transposed)" : "") +
                     " do not chain: inner extents " + std::to_string(p.k) + " and " + std::to_string(kb));
  // Batch dimensions aligned from the right; a missing one counts as 1, and a 1 stretches to the other's.
  const size_t batch_rank = std::max(ra, rb) - 2;
  Shape batch(batch_rank), a_batch(batch_rank, 1), b_batch(batch_rank, 1);
  for (size_t d = 0; d < batch_rank; ++d) {
    if (d + ra >= batch_rank + 2) a_batch[d] = a.dim(d + ra - 2 - batch_rank);
    if (d + rb >= batch_rank + 2) b_batch[d] = b.dim(d + rb - 2 - batch_rank);
    if (a_batch[d] != b_batch[d] && a_batch[d] != 1 && b_batch[d] != 1)
      throw ValueError("a " + shape_str(a.shape()) + " and b " + shape_str(b.shape()) +
                       ": batch dimensions do not broadcast (" + std::to_string(a_batch[d]) + " and " +
                       std::to_string(b_batch[d]) + ")");
    batch[d] = a_batch[d] == 1 ? b_batch[d] : a_batch[d];
  }
  int64_t count = 1;
  p.a_matrices = p.b_matrices = 1;
  for (size_t d = 0; d < batch_rank; ++d) {
    count *= batch[d];
    p.a_matrices *= a_batch[d];
    p.b_matrices *= b_batch[d];
  }
  // Each output matrix's row-major batch index, mapped to a's and b's (stride 0 where broadcast).
  p.a_index.resize(static_cast<size_t>(count));
  p.b_index.resize(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    int64_t rest = i, ai = 0, bi = 0, a_stride = 1, b_stride = 1;
    for (size_t d = batch_rank; d-- > 0;) {
      const int64_t at = rest % batch[d];
      rest /= batch[d];
      ai += (a_batch[d] == 1 ? 0 : at) * a_stride;
      bi += (b_batch[d] == 1 ? 0 : at) * b_stride;
      a_stride *= a_batch[d];
      b_stride *= b_batch[d];
    }
    p.a_index[static_cast<size_t>(i)] = ai;
    p.b_index[static_cast<size_t>(i)] = bi;
  }
  p.c_shape = batch;
  p.c_shape.push_back(p.m);
  p.c_shape.push_back(p.n);
  return p;
}

// One operand of a batch of GEMMs: matrix i of the batch is at data + index[i]·size, rows ld apart.
struct Matrices {
  const float* data;
  const std::vector<int64_t>* index;
  int64_t size, ld;
};

// out[i] (+)= op_x(x[i])·op_y(y[i]), (m, k)·(k, n), for every matrix i of the batch: one GEMM each,
// through the same GEMM kernels as a single product. Where several products land in one out matrix
// (the gradient of a broadcast operand) `accumulate` adds them up in it, zeroed first.
void gemm_batch(const Device& device, const char* what, bool trans_x, bool trans_y, int64_t m, int64_t n, int64_t k,
                const Matrices& x, const Matrices& y, const Tensor& out, const std::vector<int64_t>& out_index,
                bool accumulate) {
  if (out.numel() == 0) return;
  if (accumulate || k == 0) fill_zero(out);  // k = 0: the empty sum
  if (k == 0) return;
  Tensor ws = workspace(static_cast<int64_t>(kernels::gemm_workspace(device, m, n, k)), device);
  for (size_t i = 0; i < out_index.size(); ++i)
    kernels::gemm(device, what, trans_x, trans_y, m, n, k, x.data + (*x.index)[i] * x.size, x.ld,
                  y.data + (*y.index)[i] * y.size, y.ld, out.data<float>() + out_index[i] * m * n, n, accumulate,
                  nullptr, GT_ACTIVATION_NONE, ws.data<float>());
}

std::vector<int64_t> each_of(size_t count) {
  std::vector<int64_t> each(count);
  for (size_t i = 0; i < count; ++i) each[i] = static_cast<int64_t>(i);
  return each;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  const Device& device = a.device();
  check_float_on("a", a, device);
  check_float_on("b", b, device);
  const BatchedProduct p = batched_product(a, b, trans_a, trans_b);
  Tensor c = Tensor::empty(p.c_shape, DType::Float32, device);
  const std::vector<int64_t> each = each_of(p.a_index.size());
  const Matrices ma{a.data<float>(), &p.a_index, p.m * p.k, a.dim(a.ndim() - 1)};
  const Matrices mb{b.data<float>(), &p.b_index, p.k * p.n, b.dim(b.ndim() - 1)};
  gemm_batch(device, "matmul", trans_a, trans_b, p.m, p.n, p.k, ma, mb, c, each, false);
  return c;
}

MatmulGrads matmul_grad(const Tensor& dc, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  const Device& device = a.device();
  check_float_on("dy", dc, device);
  check_float_on("a", a, device);
  check_float_on("b", b, device);
  const BatchedProduct p = batched_product(a, b, trans_a, trans_b);
  if (dc.shape() != p.c_shape)
    throw ValueError("dy: expected shape " + shape_str(p.c_shape) + " (the product of a " + shape_str(a.shape()) +
                     " and b " + shape_str(b.shape()) + "), got " + shape_str(dc.shape()));
  MatmulGrads g{Tensor::empty(a.shape(), DType::Float32, device), Tensor::empty(b.shape(), DType::Float32, device)};
  const std::vector<int64_t> each = each_of(p.a_index.size());
  const int64_t lda = a.dim(a.ndim() - 1), ldb = b.dim(b.ndim() - 1);
  const Matrices mdc{dc.data<float>(), &each, p.m * p.n, p.n};
  const Matrices ma{a.data<float>(), &p.a_index, p.m * p.k, lda};
  const Matrices mb{b.data<float>(), &p.b_index, p.k * p.n, ldb};
  // d op(a) = dc·op(b)ᵀ and d op(b) = op(a)ᵀ·dc, written as products of the stored matrices so that a
  // transposed operand's gradient comes out stored as the operand is.
  // An operand broadcast over the batch gets a sum of products (also the empty sum, zeros, when the
  // batch has no matrices at all).
  const bool a_summed = p.a_matrices != static_cast<int64_t>(each.size());
  const bool b_summed = p.b_matrices != static_cast<int64_t>(each.size());
  if (!trans_a)
    gemm_batch(device, "matmul_grad", false, !trans_b, p.m, p.k, p.n, mdc, mb, g.da, p.a_index, a_summed);
  else
    gemm_batch(device, "matmul_grad", trans_b, true, p.k, p.m, p.n, mb, mdc, g.da, p.a_index, a_summed);
  if (!trans_b)
    gemm_batch(device, "matmul_grad", !trans_a, false, p.k, p.n, p.m, ma, mdc, g.db, p.b_index, b_summed);
  else
    gemm_batch(device, "matmul_grad", true, trans_a, p.n, p.k, p.m, mdc, ma, g.db, p.b_index, b_summed);
  return g;
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
