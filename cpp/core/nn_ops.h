// Dispatch of the neural-network ops: argument checks (rank, shapes, channels, strides, pool sizes,
// padding names, dtypes, devices), output and workspace allocation, and the call into the CPU kernels
// or the device's GPU table. Semantics: NHWC activations, HWIO kernels, TensorFlow's "same" padding.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "core/op_params.h"
#include "core/tensor.h"

namespace gt::ops {

struct Pair {
  int64_t h, w;
};

// A convolution's (or pooling's) padding: a name, "valid" or "same" (TensorFlow's rule), or explicit cells
// of zeros (pooling: absent cells) before and after each axis (PyTorch's padding p is top = bottom = left = right = p). Built from a
// name implicitly, so that code knowing only names passes one.
struct ConvPadding {
  std::string name;  // when !cells
  bool cells = false;
  int64_t top = 0, bottom = 0, left = 0, right = 0;
  ConvPadding(std::string n) : name(std::move(n)) {}  // NOLINT: a name is a padding
  ConvPadding(const char* n) : name(n) {}             // NOLINT
  static ConvPadding explicit_cells(int64_t top, int64_t bottom, int64_t left, int64_t right) {
    ConvPadding p("");
    p.cells = true;
    p.top = top, p.bottom = bottom, p.left = left, p.right = right;
    return p;
  }
};

// ---- matrix multiply, dense, convolution (nn_conv.cpp) ----
// op(a)·op(b) for float32 a (..., m, k) and b (..., k, n), op transposing the last two axes where asked;
// the batch axes broadcast as NumPy's matmul broadcasts them. One GEMM per output matrix.
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b);
struct MatmulGrads {
  Tensor da, db;
};
// The gradients of matmul for the output gradient dc, each of its operand's shape (summed over the
// batch axes along which that operand was broadcast).
MatmulGrads matmul_grad(const Tensor& dc, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b);

struct DenseGrads {
  Tensor dx, dkernel, dbias;
};
// activation(x (..., in) · kernel (in, out) + bias (out,)) (bias may be undefined), in one pass.
Tensor dense(const Tensor& x, const Tensor& kernel, const Tensor& bias,
             GtActivation activation = GT_ACTIVATION_NONE);
DenseGrads dense_grad(const Tensor& dy, const Tensor& x, const Tensor& kernel);

struct Conv2dGrads {
  Tensor dx, dkernel, dbias;
};
// activation(conv(x, kernel) + bias), bias and activation fused into the convolution's store. Kernel
// taps `dilation` apart (Keras's dilation_rate; "same" pads for the dilated extent); strides > 1
// together with dilation > 1 are refused, as Keras refuses them. With groups > 1 the kernel is
// (kh, kw, in/groups, out): Keras's grouped convolution (see GtWindow2d).
Tensor conv2d(const Tensor& x, const Tensor& kernel, const Tensor& bias, Pair strides,
              const ConvPadding& padding, Pair dilation, int64_t groups,
              GtActivation activation = GT_ACTIVATION_NONE);
Conv2dGrads conv2d_grad(const Tensor& dy, const Tensor& x, const Tensor& kernel, Pair strides,
                        const ConvPadding& padding, Pair dilation, int64_t groups);

// ---- depthwise convolution (nn_depthwise.cpp) ----
// Keras's DepthwiseConv2D: kernel (kh, kw, c, multiplier), output channel ch·multiplier + m, taps
// `dilation` apart ("same" padding by TensorFlow's rule for the dilated extent). Strides > 1 together
// with dilation > 1 are refused, as Keras refuses them.
// activation(depthwise(x, kernel) + bias), bias (c·multiplier,) and activation fused into the store.
Tensor depthwise_conv2d(const Tensor& x, const Tensor& kernel, const Tensor& bias, Pair strides,
                        const std::string& padding, Pair dilation, GtActivation activation = GT_ACTIVATION_NONE);
// dx, of shape x_shape, from the output gradient dy.
Tensor depthwise_conv2d_backward_data(const Tensor& dy, const Tensor& kernel, const Shape& x_shape, Pair strides,
                                      const std::string& padding, Pair dilation);
struct DepthwiseFilterGrads {
  Tensor dkernel, dbias;
};
// The kernel's gradient (kernel_size + (c, multiplier), the multiplier read from dy's channels) and
// the bias's (sums of dy per output channel).
DepthwiseFilterGrads depthwise_conv2d_backward_filter(const Tensor& dy, const Tensor& x, Pair kernel_size,
                                                      Pair strides, const std::string& padding, Pair dilation);

// ---- pooling (nn_pool.cpp) ----
struct PoolResult {
  Tensor y;
  Tensor argmax;  // int32, y's shape: each window's first maximum (max pooling, when asked for)
};
// with_argmax (max only) also returns what pool2d_grad needs instead of recomputing it from x.
// padding: a name, or explicit cells (each side fewer than the window's extent, so that every window holds
// a real cell: max pooling's padding never wins). count_include_pad (average pooling only): divide by
// kh·kw, padding included, instead of the window's real cells.
PoolResult pool2d(const Tensor& x, GtPoolKind kind, Pair pool_size, Pair strides, const ConvPadding& padding,
                  bool with_argmax = false, bool count_include_pad = false);
// argmax (max only; may be undefined): the forward's for this x, else recomputed from x.
Tensor pool2d_grad(const Tensor& dy, const Tensor& x, GtPoolKind kind, Pair pool_size, Pair strides,
                   const ConvPadding& padding, const Tensor& argmax = Tensor(), bool count_include_pad = false);
Tensor global_avg_pool2d(const Tensor& x);
Tensor global_avg_pool2d_grad(const Tensor& dy, const Tensor& x);

// ---- activations, dropout, losses (nn_pointwise.cpp) ----
Tensor activation(const Tensor& x, GtActivation kind);
// relu: `xy` is the forward input x; sigmoid: the forward output y.
Tensor activation_grad(const Tensor& dy, const Tensor& xy, GtActivation kind);
Tensor softmax(const Tensor& x);                            // over the last axis
Tensor softmax_grad(const Tensor& dy, const Tensor& y);     // y: softmax's output
// log(softmax(x)) along `axis` (negative counts from the end), and its gradient from the output y.
Tensor log_softmax(const Tensor& x, int64_t axis);
Tensor log_softmax_grad(const Tensor& dy, const Tensor& y, int64_t axis);

// The kernels' constants for a drop rate in [0, 1): keep an element when its 24-bit draw is >= threshold
// (rate·2^24, rounded), and scale kept ones by 1/(1 − rate).
struct DropoutConstants {
  uint32_t threshold;
  float scale;
};
DropoutConstants dropout_constants(double rate);

struct DropoutResult {
  Tensor y, mask;  // mask: uint8, 1 where kept
};
DropoutResult dropout(const Tensor& x, double rate, uint64_t seed);
Tensor dropout_grad(const Tensor& dy, const Tensor& mask, double rate);

struct LossResult {
  Tensor loss, grad;  // loss: shape (), float32
};
// Sparse categorical cross-entropy from logits (rows, classes) and int32 labels (rows,). class_weight
// (classes,) (may be undefined: all 1) weights each row by its label's class; rows labelled
// ignore_index (when given) count for nothing, not even in the mean's divisor; reduction "mean" (Σ w·l /
// Σ w, PyTorch's), "sum" or "none" (loss of shape (rows,)). grad: the gradient of the loss w.r.t. the
// logits (for "none", row r's is that of loss[r]).
LossResult softmax_cross_entropy(const Tensor& logits, const Tensor& labels, const Tensor& class_weight = Tensor(),
                                 std::optional<int64_t> ignore_index = std::nullopt,
                                 const std::string& reduction = "mean");
LossResult binary_cross_entropy(const Tensor& target, const Tensor& input, bool from_logits);
// Keras's element-wise loss `name` (core/point_losses.h) of predictions `input` against `target` of the
// same shape: the mean over every element and its gradient; `param` is Huber's delta.
LossResult point_loss(const std::string& name, const Tensor& target, const Tensor& input, double param);

// ---- batch normalisation and optimizers (nn_train.cpp) ----
struct BatchNormResult {
  Tensor y, mean, var;  // the statistics used: the batch's (training) or the moving ones (inference)
};
// Training: normalises with the batch statistics and, when moving_mean/moving_var are given, updates
// them in place. Inference: normalises with moving_mean/moving_var (required).
BatchNormResult batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                           const Tensor& moving_mean, const Tensor& moving_var, bool training,
                           double momentum, double epsilon);
struct BatchNormGrads {
  Tensor dx, dgamma, dbeta;
};
BatchNormGrads batch_norm_grad(const Tensor& dy, const Tensor& x, const Tensor& gamma,
                               const Tensor& mean, const Tensor& var, double epsilon);

// Adam's per-step constants for the 1-based step number (the bias corrections folded into alpha).
GtAdamParams adam_params(int64_t step, double lr, double beta_1, double beta_2, double epsilon);
// In place on param and the state tensors.
void sgd_update(const Tensor& param, const Tensor& grad, const Tensor& velocity, double lr,
                double momentum, bool nesterov);
void adam_update(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v, int64_t step,
                 double lr, double beta_1, double beta_2, double epsilon);
void rmsprop_update(const Tensor& param, const Tensor& grad, const Tensor& velocity,
                    const Tensor& momentum_buffer, const Tensor& average_grad, double lr, double rho,
                    double momentum, double epsilon, bool centered);

}  // namespace gt::ops
