// The layer nodes of a training plan: each layer kind's forward (in training and in inference) and
// backward, written once, on raw buffers through kernel_calls.h, and the TrainPlan::add_* that check a
// layer's arguments against the value it reads and size its buffers. A layer with an output activation
// fuses one whose derivative reads the output (relu, sigmoid, tanh, ...) into its kernel's store, and
// runs softmax, and one whose derivative reads its input (swish, gelu, ...), as a pass over a
// pre-activation buffer.
#include <algorithm>
#include <tuple>

#include "core/activations.h"
#include "core/errors.h"
#include "core/kernel_calls.h"
#include "core/nn_checks.h"
#include "core/ops.h"
#include "core/strided_view.h"
#include "core/train_plan_impl.h"

namespace gt {

namespace {

using Impl = TrainPlan::Impl;

// Whether an element-wise activation's derivative needs its input, which a store that fuses it loses.
bool reads_input(GtActivation kind) {
  const ActivationInfo* info = find_activation(kind);
  return info != nullptr && info->reads == GT_ACTIVATION_READS_INPUT;
}

struct Indexed : PlanNode {
  const Tensor& x(Impl& p) const { return p.values[in()]; }
  const Tensor& y(Impl& p) const { return p.values[out]; }
  const Tensor& dy(Impl& p) const { return p.grads[out]; }
  const Tensor& dx(Impl&) const { return dins.front(); }
};

// A layer with an output activation. One whose derivative can be computed from the output (relu,
// sigmoid) is fused into the kernel's store; softmax, and one whose derivative needs its input, run as a
// pass over a pre-activation buffer z that the kernel stores into.
struct Activated : Indexed {
  PlanActivation activation;
  Tensor z;
  explicit Activated(PlanActivation a) : activation(a) {}
  bool drop_activation(PlanActivation a) override {
    if (activation != a) return false;
    activation = PlanActivation::none();
    return true;
  }
  bool needs_z() const { return activation.softmax || reads_input(activation.elementwise); }
  // The derivative of a fused activation reads the output, except where it reads z (kept by the node).
  bool backward_reads_output() const override { return activation.softmax || (!activation.is_none() && !needs_z()); }
  // Where the kernel stores, and the epilogue it fuses.
  float* store(Impl& p) const { return needs_z() ? ptr(z) : ptr(y(p)); }
  GtActivation fused() const { return needs_z() ? GT_ACTIVATION_NONE : activation.elementwise; }
  void finish_forward(Impl& p, int64_t rows, int64_t cols) const {
    if (activation.softmax)
      kernels::softmax_forward(p.device, rows, cols, cptr(z), ptr(y(p)));
    else if (needs_z())
      kernels::activation_forward(p.device, activation.elementwise, rows * cols, cptr(z), ptr(y(p)));
  }
  // The gradient of the pre-activation: dy itself, or act'(dy) in the scratch buffer.
  const float* pre_activation_grad(Impl& p, int64_t rows, int64_t cols) const {
    if (activation.is_none()) return cptr(dy(p));
    if (activation.softmax)
      kernels::softmax_backward(p.device, rows, cols, cptr(dy(p)), cptr(y(p)), ptr(p.scratch));
    else  // from z where kept, else from the output (relu's is <= 0, or NaN, exactly where its input is)
      kernels::activation_backward(p.device, activation.elementwise, rows * cols, cptr(dy(p)),
                                   needs_z() ? cptr(z) : cptr(y(p)), ptr(p.scratch));
    return cptr(p.scratch);
  }
};

struct DenseLayer : Activated {
  Tensor kernel, bias, dkernel, dbias;
  int64_t m, in_f, out_f;
  using Activated::Activated;
  void forward(Impl& p, bool) override {
    kernels::gemm(p.device, "dense", false, false, m, out_f, in_f, cptr(x(p)), in_f, cptr(kernel), out_f, store(p),
                  out_f, false, cptr(bias), fused(), p.ws());
    finish_forward(p, m, out_f);
  }
  void backward(Impl& p) override {
    const float* dz = pre_activation_grad(p, m, out_f);
    if (dx(p).defined())
      kernels::gemm(p.device, "dense_grad", false, true, m, in_f, out_f, dz, out_f, cptr(kernel), out_f, ptr(dx(p)),
                    in_f, false, nullptr, GT_ACTIVATION_NONE, p.ws());
    kernels::gemm(p.device, "dense_grad", true, false, in_f, out_f, m, cptr(x(p)), in_f, dz, out_f, ptr(dkernel),
                  out_f, false, nullptr, GT_ACTIVATION_NONE, p.ws());
    if (bias.defined()) kernels::column_sums(p.device, "dense_grad", dz, m, out_f, ptr(dbias), p.ws());
  }
};

struct Conv2dLayer : Activated {
  Tensor kernel, bias, dkernel, dbias;
  GtWindow2d g{};
  int64_t k = 0;
  using Activated::Activated;
  void forward(Impl& p, bool) override {
    kernels::conv2d_forward(p.device, g, k, cptr(x(p)), cptr(kernel), cptr(bias), fused(), store(p));
    finish_forward(p, g.n * g.oh * g.ow, k);
  }
  void backward(Impl& p) override {
    const float* dz = pre_activation_grad(p, g.n * g.oh * g.ow, k);
    if (dx(p).defined()) kernels::conv2d_backward_data(p.device, g, k, dz, cptr(kernel), ptr(dx(p)));
    kernels::conv2d_backward_filter(p.device, g, k, cptr(x(p)), dz, ptr(dkernel), ptr(dbias), p.ws());
  }
};

// Conv2DTranspose: the convolution from its output back to its input, run backwards. Its forward is that
// convolution's data gradient (then the bias and activation, which that kernel cannot fuse), its input
// gradient that convolution's forward, its kernel gradient that convolution's filter gradient with the
// roles of x and dy exchanged. g describes the convolution over the layer's output (g.h x g.w, c = the
// layer's filters) giving its input (g.oh x g.ow, k channels).
struct Conv2dTransposeLayer : Activated {
  Tensor kernel, bias, dkernel, dbias, unused_bias_grad;
  GtWindow2d g{};
  int64_t k = 0;
  using Activated::Activated;
  int64_t out_rows() const { return g.n * g.h * g.w; }
  void forward(Impl& p, bool) override {
    kernels::conv2d_backward_data(p.device, g, k, cptr(x(p)), cptr(kernel), store(p));
    if (bias.defined() || fused() != GT_ACTIVATION_NONE)
      kernels::bias_activation(p.device, "conv2d_transpose", out_rows(), g.c, store(p), cptr(bias), fused(), store(p));
    finish_forward(p, out_rows(), g.c);
  }
  void backward(Impl& p) override {
    const float* dz = pre_activation_grad(p, out_rows(), g.c);
    if (dx(p).defined()) kernels::conv2d_forward(p.device, g, k, dz, cptr(kernel), nullptr, GT_ACTIVATION_NONE, ptr(dx(p)));
    kernels::conv2d_backward_filter(p.device, g, k, dz, cptr(x(p)), ptr(dkernel), ptr(unused_bias_grad), p.ws());
    if (bias.defined()) kernels::column_sums(p.device, "conv2d_transpose_grad", dz, out_rows(), g.c, ptr(dbias), p.ws());
  }
};

// Max pooling records each window's first maximum as it pools, so its backward need not read x again.
struct Pool2dLayer : Indexed {
  GtPoolKind kind;
  GtWindow2d g{};
  Tensor argmax;
  explicit Pool2dLayer(GtPoolKind k) : kind(k) {}
  bool backward_reads_inputs() const override { return false; }  // max pooling keeps its argmax instead
  bool backward_reads_output() const override { return false; }
  void forward(Impl& p, bool) override {
    kernels::pool2d_forward(p.device, g, kind, cptr(x(p)), ptr(y(p)),
                            kind == GT_POOL_MAX ? argmax.data<int32_t>() : nullptr);
  }
  void backward(Impl& p) override {
    if (!dx(p).defined()) return;
    if (kind == GT_POOL_MAX)
      kernels::max_pool2d_backward(p.device, g, cptr(dy(p)), argmax.data<int32_t>(), ptr(dx(p)));
    else
      kernels::avg_pool2d_backward(p.device, g, cptr(dy(p)), ptr(dx(p)));
  }
};

struct GlobalAvgPoolLayer : Indexed {
  int64_t n, hw, c;
  bool backward_reads_inputs() const override { return false; }
  bool backward_reads_output() const override { return false; }
  void forward(Impl& p, bool) override { kernels::global_avg_pool2d_forward(p.device, n, hw, c, cptr(x(p)), ptr(y(p))); }
  void backward(Impl& p) override {
    if (dx(p).defined()) kernels::global_avg_pool2d_backward(p.device, n, hw, c, cptr(dy(p)), ptr(dx(p)));
  }
};


struct DropoutLayer : Indexed {
  uint64_t seed;
  ops::DropoutConstants constants;
  Tensor mask;
  DropoutLayer(double rate, uint64_t s) : seed(s), constants(ops::dropout_constants(rate)) {}
  bool backward_reads_inputs() const override { return false; }  // the mask says it all
  bool backward_reads_output() const override { return false; }
  void forward(Impl& p, bool training) override {
    if (!training) {
      kernels::copy_device(p.device, y(p).raw(), x(p).raw(), x(p).nbytes());
      return;
    }
    kernels::dropout_forward(p.device, x(p).numel(), cptr(x(p)), seed, p.step_scalars(), constants.threshold,
                             constants.scale, ptr(y(p)), mask.data<uint8_t>());
  }
  void backward(Impl& p) override {
    if (dx(p).defined())
      kernels::dropout_backward(p.device, dy(p).numel(), cptr(dy(p)), mask.data<uint8_t>(), constants.scale,
                                ptr(dx(p)));
  }
};

struct BatchNormLayer : Indexed {
  Tensor gamma, beta, moving_mean, moving_var, mean, var, dgamma, dbeta;
  float momentum, epsilon;
  int64_t m, c;
  // Frozen (Keras's trainable = False): inference mode in training too. Its input gradient is then the
  // same affine map's: dx = dy·gamma/√(moving_var + ε), the inference forward applied to dy with a zero
  // mean and no beta.
  bool frozen = false;
  Tensor zeros;  // c zeros, for that zero mean
  BatchNormLayer(double mom, double eps) : momentum(static_cast<float>(mom)), epsilon(static_cast<float>(eps)) {}
  bool backward_reads_inputs() const override { return !frozen; }
  bool backward_reads_output() const override { return false; }
  void forward(Impl& p, bool training) override {
    if (!training || frozen) {  // normalised by the statistics gathered in training
      kernels::batch_norm_forward(p.device, m, c, cptr(x(p)), cptr(moving_mean), cptr(moving_var), cptr(gamma),
                                  cptr(beta), epsilon, ptr(y(p)));
      return;
    }
    kernels::batch_norm_statistics(p.device, m, c, cptr(x(p)), ptr(mean), ptr(var), p.ws());
    kernels::batch_norm_forward(p.device, m, c, cptr(x(p)), cptr(mean), cptr(var), cptr(gamma), cptr(beta), epsilon,
                                ptr(y(p)));
    kernels::batch_norm_update_moving(p.device, c, cptr(mean), cptr(var), ptr(moving_mean), ptr(moving_var),
                                      momentum);
  }
  void backward(Impl& p) override {
    if (frozen) {
      if (dx(p).defined())
        kernels::batch_norm_forward(p.device, m, c, cptr(dy(p)), cptr(zeros), cptr(moving_var), cptr(gamma), nullptr,
                                    epsilon, ptr(dx(p)));
      return;
    }
    // The kernel always writes dx; without an input gradient it goes to the scratch buffer.
    float* out = dx(p).defined() ? ptr(dx(p)) : ptr(p.scratch);
    kernels::batch_norm_backward(p.device, m, c, cptr(dy(p)), cptr(x(p)), cptr(mean), cptr(var), cptr(gamma),
                                 epsilon, out, ptr(dgamma), ptr(dbeta), p.ws());
  }
};

struct ActivationLayer : Indexed {
  PlanActivation activation;
  int64_t rows, cols;
  explicit ActivationLayer(PlanActivation a) : activation(a) {}
  // Where the derivative may read either (relu), it reads the output: the next layer keeps that value
  // anyway, so the input's buffer can be reused.
  bool derivative_reads_input() const {
    const ActivationInfo* info = find_activation(activation.elementwise);
    return !activation.softmax && info != nullptr && info->reads == GT_ACTIVATION_READS_INPUT;
  }
  bool backward_reads_inputs() const override { return derivative_reads_input(); }
  bool backward_reads_output() const override { return !activation.is_none() && !derivative_reads_input(); }
  bool drop_activation(PlanActivation a) override {
    if (activation != a) return false;
    activation = PlanActivation::none();
    return true;
  }
  void forward(Impl& p, bool) override {
    if (activation.is_none())
      kernels::copy_device(p.device, y(p).raw(), x(p).raw(), x(p).nbytes());
    else if (activation.softmax)
      kernels::softmax_forward(p.device, rows, cols, cptr(x(p)), ptr(y(p)));
    else
      kernels::activation_forward(p.device, activation.elementwise, rows * cols, cptr(x(p)), ptr(y(p)));
  }
  void backward(Impl& p) override {
    if (!dx(p).defined()) return;
    if (activation.is_none()) {
      kernels::copy_device(p.device, dx(p).raw(), dy(p).raw(), dy(p).nbytes());
    } else if (activation.softmax) {
      kernels::softmax_backward(p.device, rows, cols, cptr(dy(p)), cptr(y(p)), ptr(dx(p)));
    } else {
      const Tensor& read = derivative_reads_input() ? x(p) : y(p);
      kernels::activation_backward(p.device, activation.elementwise, rows * cols, cptr(dy(p)), cptr(read), ptr(dx(p)));
    }
  }
};

// Add, Subtract and Average: y = Σ coefficient[i]·x[i]; each input's gradient is coefficient[i]·dy.
struct LinearMergeLayer : PlanNode {
  std::vector<float> coefficients;
  bool backward_reads_inputs() const override { return false; }
  bool backward_reads_output() const override { return false; }
  void forward(Impl& p, bool) override {
    const Tensor& y = p.values[out];
    for (size_t i = 0; i < ins.size(); ++i)
      kernels::strided_copy(p.device, "merge", flat_copy(y.numel(), coefficients[i], i > 0), cptr(p.values[ins[i]]),
                            ptr(y));
  }
  void backward(Impl& p) override {
    const Tensor& dy = p.grads[out];
    for (size_t i = 0; i < ins.size(); ++i)
      if (dins[i].defined())
        kernels::strided_copy(p.device, "merge_grad", flat_copy(dy.numel(), coefficients[i], false), cptr(dy),
                              ptr(dins[i]));
  }
};

// Multiply: y = Π x[i]; input i's gradient is dy times the product of the other inputs.
struct ProductMergeLayer : PlanNode {
  bool backward_reads_output() const override { return false; }
  void forward(Impl& p, bool) override {
    const Tensor& y = p.values[out];
    kernels::binary(p.device, "multiply", GT_BINARY_MUL, y.numel(), cptr(p.values[ins[0]]), cptr(p.values[ins[1]]),
                    ptr(y));
    for (size_t i = 2; i < ins.size(); ++i)
      kernels::binary(p.device, "multiply", GT_BINARY_MUL, y.numel(), cptr(y), cptr(p.values[ins[i]]), ptr(y));
  }
  void backward(Impl& p) override {
    const Tensor& dy = p.grads[out];
    for (size_t i = 0; i < ins.size(); ++i) {
      if (!dins[i].defined()) continue;
      const float* from = cptr(dy);
      for (size_t j = 0; j < ins.size(); ++j)
        if (j != i) {
          kernels::binary(p.device, "multiply_grad", GT_BINARY_MUL, dy.numel(), from, cptr(p.values[ins[j]]),
                          ptr(dins[i]));
          from = cptr(dins[i]);
        }
    }
  }
};

// Maximum and Minimum: y is the element-wise extremum (NaN if any input is); each element's gradient goes
// to the first input holding the chosen value, as max pooling gives it to the window's first maximum.
struct ExtremumMergeLayer : PlanNode {
  GtBinaryOp op = GT_BINARY_MAX;
  Tensor taken;  // uint8, one per element: whether an earlier input already took the gradient
  void forward(Impl& p, bool) override {
    const Tensor& y = p.values[out];
    const char* what = op == GT_BINARY_MAX ? "maximum" : "minimum";
    kernels::binary(p.device, what, op, y.numel(), cptr(p.values[ins[0]]), cptr(p.values[ins[1]]), ptr(y));
    for (size_t i = 2; i < ins.size(); ++i) kernels::binary(p.device, what, op, y.numel(), cptr(y), cptr(p.values[ins[i]]), ptr(y));
  }
  void backward(Impl& p) override {
    const Tensor& dy = p.grads[out];
    kernels::fill_zero(p.device, taken.raw(), taken.nbytes());
    for (size_t i = 0; i < ins.size(); ++i)
      kernels::select_grad(p.device, op == GT_BINARY_MAX ? "maximum_grad" : "minimum_grad", dy.numel(), cptr(dy),
                           cptr(p.values[ins[i]]), cptr(p.values[out]), taken.data<uint8_t>(), ptr(dins[i]));
  }
};

// Concatenation along an axis: with the axis and everything after it as one chunk per input and per
// index before the axis (`outer`, the batch included), input i's chunk lands at `offset[i]` of the
// output's.
struct ConcatenateLayer : PlanNode {
  int64_t outer = 0, total = 0;
  bool backward_reads_inputs() const override { return false; }
  bool backward_reads_output() const override { return false; }
  std::vector<int64_t> chunk, offset;
  GtStridedCopy part(size_t i, bool into_output) const {
    return into_output ? GtStridedCopy{outer, 1, chunk[i], chunk[i], 0, total, 0, 1.0f, 0}
                       : GtStridedCopy{outer, 1, chunk[i], total, 0, chunk[i], 0, 1.0f, 0};
  }
  void forward(Impl& p, bool) override {
    for (size_t i = 0; i < ins.size(); ++i)
      kernels::strided_copy(p.device, "concatenate", part(i, true), cptr(p.values[ins[i]]), ptr(p.values[out]) + offset[i]);
  }
  void backward(Impl& p) override {
    for (size_t i = 0; i < ins.size(); ++i)
      if (dins[i].defined())
        kernels::strided_copy(p.device, "concatenate_grad", part(i, false), cptr(p.grads[out]) + offset[i],
                              ptr(dins[i]));
  }
};

// ZeroPadding2D and Cropping2D: the small image is the interior of the large one, starting at row
// `top` and column `left`. Padding writes zeros around the input; cropping keeps the interior; each
// one's backward is the other's forward on the gradients.
struct BorderLayer : Indexed {
  bool padding = true;
  bool backward_reads_inputs() const override { return false; }
  bool backward_reads_output() const override { return false; }
  int64_t n = 0, h = 0, w = 0, c = 0;  // the small image
  int64_t big_h = 0, big_w = 0, top = 0, left = 0;
  void small_to_big(Impl& p, const char* what, const float* small, float* big) const {
    kernels::fill_zero(p.device, big, static_cast<size_t>(n * big_h * big_w * c) * sizeof(float));
    const GtStridedCopy copy{n, h, w * c, h * w * c, w * c, big_h * big_w * c, big_w * c, 1.0f, 0};
    kernels::strided_copy(p.device, what, copy, small, big + (top * big_w + left) * c);
  }
  void big_to_small(Impl& p, const char* what, const float* big, float* small) const {
    const GtStridedCopy copy{n, h, w * c, big_h * big_w * c, big_w * c, h * w * c, w * c, 1.0f, 0};
    kernels::strided_copy(p.device, what, copy, big + (top * big_w + left) * c, small);
  }
  void forward(Impl& p, bool) override {
    if (padding)
      small_to_big(p, "zero_padding2d", cptr(x(p)), ptr(y(p)));
    else
      big_to_small(p, "cropping2d", cptr(x(p)), ptr(y(p)));
  }
  void backward(Impl& p) override {
    if (!dx(p).defined()) return;
    if (padding)
      big_to_small(p, "zero_padding2d_grad", cptr(dy(p)), ptr(dx(p)));
    else
      small_to_big(p, "cropping2d_grad", cptr(dy(p)), ptr(dx(p)));
  }
};

// UpSampling2D, nearest: output cell (i·sh + a, j·sw + b) repeats input cell (i, j). For each of the
// sh·sw offsets (a, b) that is one strided copy of the whole input (lines of c channels, every sw-th cell
// of every sh-th row), and backward adds the gradient back through the same copies.
struct UpsampleNearestLayer : Indexed {
  int64_t n = 0, h = 0, w = 0, c = 0, sh = 1, sw = 1;
  bool backward_reads_inputs() const override { return false; }
  bool backward_reads_output() const override { return false; }
  GtStridedCopy copy(bool into_output, bool accumulate) const {
    const int64_t small_row = w * c, big_rows = sh * w * sw * c;
    return into_output ? GtStridedCopy{n * h, w, c, small_row, c, big_rows, sw * c, 1.0f, 0}
                       : GtStridedCopy{n * h, w, c, big_rows, sw * c, small_row, c, 1.0f, accumulate ? 1 : 0};
  }
  int64_t offset(int64_t a, int64_t b) const { return (a * w * sw + b) * c; }
  void forward(Impl& p, bool) override {
    for (int64_t a = 0; a < sh; ++a)
      for (int64_t b = 0; b < sw; ++b)
        kernels::strided_copy(p.device, "up_sampling2d", copy(true, false), cptr(x(p)), ptr(y(p)) + offset(a, b));
  }
  void backward(Impl& p) override {
    if (!dx(p).defined()) return;
    for (int64_t a = 0; a < sh; ++a)
      for (int64_t b = 0; b < sw; ++b)
        kernels::strided_copy(p.device, "up_sampling2d_grad", copy(false, a + b > 0), cptr(dy(p)) + offset(a, b),
                              ptr(dx(p)));
  }
};

// PReLU: y = x where x > 0, else alpha·x, alpha broadcast over the batch and its shared axes (extent 1).
// The walk `v` visits those axes first, so alpha's index is the walk's position modulo its size, and
// alpha's gradient is the column sums of the shares dy·x (x <= 0) that the backward writes, in walk order,
// into the scratch buffer: a reduction in a fixed order, with no atomics.
struct PreluLayer : Indexed {
  Tensor alpha, dalpha;
  GtStridedView v{};
  int64_t alpha_size = 0, rows = 0;
  bool backward_reads_output() const override { return false; }
  void forward(Impl& p, bool) override {
    kernels::prelu_forward(p.device, v, alpha_size, cptr(x(p)), cptr(alpha), ptr(y(p)));
  }
  void backward(Impl& p) override {
    kernels::prelu_backward(p.device, v, alpha_size, cptr(dy(p)), cptr(x(p)), cptr(alpha), ptr(dx(p)),
                            ptr(p.scratch));
    kernels::column_sums(p.device, "prelu_grad", cptr(p.scratch), rows, alpha_size, ptr(dalpha), p.ws());
  }
};

// Permute: the output walks the input in the permuted order; the gradient walks dy in the inverse one.
struct PermuteLayer : Indexed {
  GtStridedView forward_view{}, backward_view{};
  bool backward_reads_inputs() const override { return false; }
  bool backward_reads_output() const override { return false; }
  void forward(Impl& p, bool) override { kernels::permute(p.device, "permute", forward_view, cptr(x(p)), ptr(y(p))); }
  void backward(Impl& p) override {
    if (dx(p).defined()) kernels::permute(p.device, "permute_grad", backward_view, cptr(dy(p)), ptr(dx(p)));
  }
};

// UpSampling2D, bilinear: TensorFlow's resize (core/bilinear.h); backward gathers each input cell's
// gradient from the output cells that read it.
struct UpsampleBilinearLayer : Indexed {
  GtResize2d r{};
  bool backward_reads_inputs() const override { return false; }
  bool backward_reads_output() const override { return false; }
  void forward(Impl& p, bool) override { kernels::resize_bilinear2d_forward(p.device, r, cptr(x(p)), ptr(y(p))); }
  void backward(Impl& p) override {
    if (dx(p).defined()) kernels::resize_bilinear2d_backward(p.device, r, cptr(dy(p)), ptr(dx(p)));
  }
};

// A view: its output and gradient share its input's buffers, so no kernel runs.
struct ReshapeLayer : PlanNode {
  bool backward_reads_inputs() const override { return false; }
  bool backward_reads_output() const override { return false; }
  void forward(Impl&, bool) override {}
  void backward(Impl&) override {}
};

// Depthwise convolution (Keras's DepthwiseConv2D), shaped like Conv2dLayer: bias and an activation
// whose derivative reads its output fused into the kernel's store.
struct DepthwiseConv2dLayer : Activated {
  Tensor kernel, bias, dkernel, dbias;
  GtDepthwise2d d{};
  using Activated::Activated;
  int64_t rows() const { return d.g.n * d.g.oh * d.g.ow; }
  int64_t channels() const { return d.g.c * d.multiplier; }
  void forward(Impl& p, bool) override {
    kernels::depthwise_conv2d_forward(p.device, d, cptr(x(p)), cptr(kernel), cptr(bias), fused(), store(p));
    finish_forward(p, rows(), channels());
  }
  void backward(Impl& p) override {
    const float* dz = pre_activation_grad(p, rows(), channels());
    if (dx(p).defined()) kernels::depthwise_conv2d_backward_data(p.device, d, dz, cptr(kernel), ptr(dx(p)));
    kernels::depthwise_conv2d_backward_filter(p.device, d, cptr(x(p)), dz, ptr(dkernel), ptr(dbias), p.ws());
  }
};

}  // namespace

int64_t TrainPlan::add_dense(const Tensor& kernel, const Tensor& bias, PlanActivation activation, int64_t input) {
  Impl& p = *impl_;
  const Tensor& x = p.input(input);
  ops::check_float_on("kernel", kernel, p.device);
  if (kernel.ndim() != 2 || x.ndim() < 2 || kernel.dim(0) != x.dim(x.ndim() - 1))
    throw ValueError("kernel " + shape_str(kernel.shape()) + " does not fit inputs " + shape_str(x.shape()));
  auto layer = std::make_unique<DenseLayer>(activation);
  layer->kernel = kernel;
  layer->bias = bias;
  layer->in_f = kernel.dim(0);
  layer->out_f = kernel.dim(1);
  layer->m = x.numel() / layer->in_f;
  Shape out(x.shape().begin() + 1, x.shape().end());
  out.back() = layer->out_f;
  if (layer->needs_z()) layer->z = p.buffer(with_batch(p.batch, out));
  p.need_workspace(std::max({kernels::gemm_workspace(p.device, layer->m, layer->out_f, layer->in_f),
                             kernels::gemm_workspace(p.device, layer->m, layer->in_f, layer->out_f),
                             kernels::gemm_workspace(p.device, layer->in_f, layer->out_f, layer->m),
                             kernels::column_sums_workspace(p.device, layer->out_f)}));
  p.need_scratch(layer->m * layer->out_f);
  layer->dkernel = p.add_param(kernel, "kernel");
  if (bias.defined()) {
    ops::check_vector("bias", bias, layer->out_f, "to match kernel " + shape_str(kernel.shape()));
    layer->dbias = p.add_param(bias, "bias");
  }
  return p.push(std::move(layer), input, out);
}

int64_t TrainPlan::add_conv2d(const Tensor& kernel, const Tensor& bias, ops::Pair strides, const std::string& padding,
                              PlanActivation activation, int64_t input, ops::Pair dilation, int64_t groups) {
  Impl& p = *impl_;
  const Tensor& x = p.input(input);
  ops::check_float_on("kernel", kernel, p.device);
  if (kernel.ndim() != 4 || x.ndim() != 4)
    throw ValueError("kernel " + shape_str(kernel.shape()) + " does not fit inputs " + shape_str(x.shape()));
  ops::check_conv_kernel(x.shape(), kernel.shape(), groups);
  auto layer = std::make_unique<Conv2dLayer>(activation);
  layer->g = ops::conv_geometry("x", x.shape(), ops::Pair{kernel.dim(0), kernel.dim(1)}, strides, padding, dilation);
  layer->g.groups = groups;
  layer->k = kernel.dim(3);
  layer->kernel = kernel;
  layer->bias = bias;
  const Shape out{layer->g.oh, layer->g.ow, layer->k};
  if (layer->needs_z()) layer->z = p.buffer(with_batch(p.batch, out));
  p.need_workspace(kernels::conv2d_backward_filter_workspace(p.device, layer->g, layer->k));
  p.need_scratch(p.batch * layer->g.oh * layer->g.ow * layer->k);
  layer->dkernel = p.add_param(kernel, "kernel");
  if (bias.defined()) {
    ops::check_vector("bias", bias, layer->k, "to match kernel " + shape_str(kernel.shape()));
    layer->dbias = p.add_param(bias, "bias");
  } else if (p.training) {
    layer->dbias = p.buffer({layer->k});  // the filter-gradient kernel also sums dy per channel
  }
  return p.push(std::move(layer), input, out);
}

int64_t TrainPlan::add_pool2d(GtPoolKind kind, ops::Pair pool_size, ops::Pair strides, const std::string& padding,
                              int64_t input) {
  Impl& p = *impl_;
  const Tensor& x = p.input(input);
  auto layer = std::make_unique<Pool2dLayer>(kind);
  layer->g = ops::pool_geometry(x, kind, pool_size, strides, padding);
  const Shape out{layer->g.oh, layer->g.ow, layer->g.c};
  if (kind == GT_POOL_MAX) layer->argmax = p.buffer(with_batch(p.batch, out), DType::Int32);
  return p.push(std::move(layer), input, out);
}

int64_t TrainPlan::add_global_avg_pool2d(int64_t input) {
  Impl& p = *impl_;
  const Tensor& x = p.input(input);
  if (x.ndim() != 4) throw ValueError("global_avg_pool2d: expected inputs (batch, height, width, channels), got " +
                                      shape_str(x.shape()));
  auto layer = std::make_unique<GlobalAvgPoolLayer>();
  layer->n = x.dim(0);
  layer->hw = x.dim(1) * x.dim(2);
  layer->c = x.dim(3);
  const Shape out{layer->c};
  return p.push(std::move(layer), input, out);
}

int64_t TrainPlan::add_flatten(int64_t input) {
  Impl& p = *impl_;
  const Tensor& x = p.input(input);
  return p.push_view(std::make_unique<ReshapeLayer>(), input, Shape{p.batch, x.numel() / p.batch});
}

int64_t TrainPlan::add_dropout(double rate, uint64_t seed, int64_t input) {
  Impl& p = *impl_;
  ops::check_rate(rate);
  const Tensor& x = p.input(input);
  auto layer = std::make_unique<DropoutLayer>(rate, seed);
  if (p.training) layer->mask = p.buffer(x.shape(), DType::UInt8);
  return p.push(std::move(layer), input, Shape(x.shape().begin() + 1, x.shape().end()));
}

int64_t TrainPlan::add_batch_norm(const Tensor& gamma, const Tensor& beta, const Tensor& moving_mean,
                                  const Tensor& moving_var, double momentum, double epsilon, int64_t input) {
  Impl& p = *impl_;
  const Tensor& x = p.input(input);
  ops::check_range("momentum", momentum, 0.0, 1.0, false);
  ops::check_positive("epsilon", epsilon);
  if (x.dim(x.ndim() - 1) < 1)
    throw ValueError("batch_norm: expected inputs with channels >= 1, got " + shape_str(x.shape()));
  auto layer = std::make_unique<BatchNormLayer>(momentum, epsilon);
  layer->c = x.dim(x.ndim() - 1);
  layer->m = x.numel() / layer->c;
  for (auto [name, t] : {std::pair{"gamma", &gamma}, {"beta", &beta}, {"moving_mean", &moving_mean},
                         {"moving_variance", &moving_var}}) {
    ops::check_float_on(name, *t, p.device);
    ops::check_vector(name, *t, layer->c, "to match the channels of " + shape_str(x.shape()));
  }
  layer->gamma = gamma;
  layer->beta = beta;
  layer->moving_mean = moving_mean;
  layer->moving_var = moving_var;
  layer->mean = p.buffer({layer->c});
  layer->var = p.buffer({layer->c});
  layer->frozen = p.training && p.is_frozen(gamma);
  if (layer->frozen) {
    layer->zeros = p.buffer({layer->c});
    kernels::fill_zero(p.device, layer->zeros.raw(), layer->zeros.nbytes());
  }
  p.need_workspace(std::max(kernels::batch_norm_statistics_workspace(p.device, layer->c),
                            kernels::batch_norm_backward_workspace(p.device, layer->c)));
  p.need_scratch(x.numel());
  layer->dgamma = p.add_param(gamma, "gamma");
  layer->dbeta = p.add_param(beta, "beta");
  return p.push(std::move(layer), input, Shape(x.shape().begin() + 1, x.shape().end()));
}

int64_t TrainPlan::add_activation(PlanActivation activation, int64_t input) {
  Impl& p = *impl_;
  const Tensor& x = p.input(input);
  auto layer = std::make_unique<ActivationLayer>(activation);
  std::tie(layer->rows, layer->cols) = rows_cols(x);
  return p.push(std::move(layer), input, Shape(x.shape().begin() + 1, x.shape().end()));
}

int64_t TrainPlan::add_reshape(const Shape& sample_shape, int64_t input) {
  Impl& p = *impl_;
  const Tensor& x = p.input(input);
  const Shape shape = with_batch(p.batch, sample_shape);
  if (shape_numel(shape) != x.numel())
    throw ValueError("reshape: cannot reshape " + shape_str(x.shape()) + " to " + shape_str(shape));
  return p.push_view(std::make_unique<ReshapeLayer>(), input, shape);
}

namespace {
// The inputs of a merging layer, checked: at least `fewest`, all of one shape.
std::vector<int64_t> merge_inputs(Impl& p, const char* what, std::vector<int64_t> inputs, size_t fewest) {
  if (inputs.size() < fewest)
    throw ValueError(std::string(what) + ": expected at least " + std::to_string(fewest) + " inputs, got " +
                     std::to_string(inputs.size()));
  for (int64_t& in : inputs) {
    const Tensor& x = p.input(in);
    const Tensor& first = p.values[inputs.front()];  // resolved by the first iteration
    if (x.shape() != first.shape())
      throw ValueError(std::string(what) + ": inputs of different shapes " + shape_str(first.shape()) + " and " +
                       shape_str(x.shape()));
  }
  return inputs;
}
}  // namespace

int64_t TrainPlan::add_scale(double factor, int64_t input) {
  Impl& p = *impl_;
  ops::check_float32("factor", factor);
  const Tensor& x = p.input(input);
  auto layer = std::make_unique<LinearMergeLayer>();
  layer->coefficients = {static_cast<float>(factor)};
  return p.push(std::move(layer), input, Shape(x.shape().begin() + 1, x.shape().end()));
}

int64_t TrainPlan::add_merge(const std::string& kind, const std::vector<int64_t>& inputs) {
  Impl& p = *impl_;
  if (kind == "multiply" || kind == "maximum" || kind == "minimum") {
    std::vector<int64_t> ins = merge_inputs(p, kind.c_str(), inputs, 2);
    const Shape out(p.values[ins.front()].shape().begin() + 1, p.values[ins.front()].shape().end());
    if (kind == "multiply") return p.push(std::make_unique<ProductMergeLayer>(), std::move(ins), out);
    auto layer = std::make_unique<ExtremumMergeLayer>();
    layer->op = kind == "maximum" ? GT_BINARY_MAX : GT_BINARY_MIN;
    if (p.training) layer->taken = p.buffer(p.values[ins.front()].shape(), DType::UInt8);
    return p.push(std::move(layer), std::move(ins), out);
  }
  auto layer = std::make_unique<LinearMergeLayer>();
  std::vector<int64_t> ins;
  if (kind == "add" || kind == "average") {
    ins = merge_inputs(p, kind.c_str(), inputs, 1);
    const float c = kind == "add" ? 1.0f : 1.0f / static_cast<float>(ins.size());
    layer->coefficients.assign(ins.size(), c);
  } else if (kind == "subtract") {
    ins = merge_inputs(p, "subtract", inputs, 2);
    if (ins.size() != 2) throw ValueError("subtract: expected exactly 2 inputs, got " + std::to_string(ins.size()));
    layer->coefficients = {1.0f, -1.0f};
  } else {
    throw ValueError("merge: expected 'add', 'subtract', 'average', 'multiply', 'maximum' or 'minimum', got '" + kind +
                     "'");
  }
  const Shape out(p.values[ins.front()].shape().begin() + 1, p.values[ins.front()].shape().end());
  return p.push(std::move(layer), std::move(ins), out);
}

int64_t TrainPlan::add_concatenate(const std::vector<int64_t>& inputs, int64_t axis) {
  Impl& p = *impl_;
  if (inputs.empty()) throw ValueError("concatenate: expected at least 1 input, got 0");
  std::vector<int64_t> ins = inputs;
  int64_t first = ins.front();
  const Shape base = p.input(first).shape();
  const int64_t rank = static_cast<int64_t>(base.size());
  if (axis < 0) axis += rank;
  if (axis < 1 || axis >= rank)
    throw ValueError("concatenate: axis " + std::to_string(axis) + " is not a sample axis of inputs " +
                     shape_str(base));
  auto layer = std::make_unique<ConcatenateLayer>();
  Shape out = base;
  out[axis] = 0;
  for (int64_t& in : ins) {
    const Shape& s = p.input(in).shape();
    bool fits = s.size() == base.size();
    for (int64_t d = 0; fits && d < rank; ++d) fits = d == axis || s[d] == base[d];
    if (!fits)
      throw ValueError("concatenate: inputs " + shape_str(base) + " and " + shape_str(s) + " differ beside axis " +
                       std::to_string(axis));
    out[axis] += s[axis];
  }
  layer->outer = shape_numel(Shape(base.begin(), base.begin() + axis));
  const int64_t inner = shape_numel(Shape(base.begin() + axis + 1, base.end()));
  layer->total = out[axis] * inner;
  for (const int64_t in : ins) {
    layer->offset.push_back(layer->chunk.empty() ? 0 : layer->offset.back() + layer->chunk.back());
    layer->chunk.push_back(p.values[in].dim(axis) * inner);
  }
  return p.push(std::move(layer), std::move(ins), Shape(out.begin() + 1, out.end()));
}

namespace {
// UpSampling2D's input, checked, and its output's sample shape.
Shape upsampled(const Tensor& x, ops::Pair size) {
  if (x.ndim() != 4)
    throw ValueError("up_sampling2d: expected inputs (batch, height, width, channels), got " + shape_str(x.shape()));
  ops::check_positive_pair("size", size);
  return Shape{x.dim(1) * size.h, x.dim(2) * size.w, x.dim(3)};
}
}  // namespace

int64_t TrainPlan::add_upsample_nearest2d(ops::Pair size, int64_t input) {
  Impl& p = *impl_;
  const Tensor& x = p.input(input);
  const Shape out = upsampled(x, size);
  auto layer = std::make_unique<UpsampleNearestLayer>();
  layer->n = x.dim(0), layer->h = x.dim(1), layer->w = x.dim(2), layer->c = x.dim(3);
  layer->sh = size.h, layer->sw = size.w;
  return p.push(std::move(layer), input, out);
}

int64_t TrainPlan::add_upsample_bilinear2d(ops::Pair size, int64_t input) {
  Impl& p = *impl_;
  const Tensor& x = p.input(input);
  const Shape out = upsampled(x, size);
  auto layer = std::make_unique<UpsampleBilinearLayer>();
  layer->r = GtResize2d{x.dim(0), x.dim(1), x.dim(2), x.dim(3), out[0], out[1]};
  return p.push(std::move(layer), input, out);
}

int64_t TrainPlan::add_prelu(const Tensor& alpha, int64_t input) {
  Impl& p = *impl_;
  const Tensor& x = p.input(input);
  ops::check_float_on("alpha", alpha, p.device);
  bool fits = alpha.ndim() == x.ndim() - 1;
  for (int64_t d = 0; fits && d < alpha.ndim(); ++d) fits = alpha.dim(d) == x.dim(d + 1) || alpha.dim(d) == 1;
  if (!fits)
    throw ValueError("prelu: alpha " + shape_str(alpha.shape()) + " does not fit inputs " + shape_str(x.shape()) +
                     ": expected the inputs' sample shape with each shared axis 1");
  std::vector<int64_t> order{0}, kept;  // the batch and the shared axes, then the others
  for (int64_t d = 0; d < alpha.ndim(); ++d) (alpha.dim(d) == 1 ? order : kept).push_back(d + 1);
  order.insert(order.end(), kept.begin(), kept.end());
  auto layer = std::make_unique<PreluLayer>();
  layer->v = permuted_view(x.shape(), order);
  layer->alpha = alpha;
  layer->alpha_size = alpha.numel();
  layer->rows = x.numel() / layer->alpha_size;
  p.need_scratch(x.numel());
  p.need_workspace(kernels::column_sums_workspace(p.device, layer->alpha_size));
  layer->dalpha = p.add_param(alpha, "alpha");
  return p.push(std::move(layer), input, Shape(x.shape().begin() + 1, x.shape().end()));
}

int64_t TrainPlan::add_permute(const std::vector<int64_t>& dims, int64_t input) {
  Impl& p = *impl_;
  const Tensor& x = p.input(input);
  const int64_t rank = x.ndim() - 1;
  std::vector<int64_t> order{0};  // the batch stays first
  std::vector<bool> seen(static_cast<size_t>(rank) + 1, false);
  for (const int64_t d : dims) {
    if (d < 1 || d > rank || seen[d])
      throw ValueError("permute: dims must be a permutation of 1.." + std::to_string(rank) + " for inputs " +
                       shape_str(x.shape()) + ", got " + shape_str(dims));
    seen[d] = true;
    order.push_back(d);
  }
  if (static_cast<int64_t>(dims.size()) != rank)
    throw ValueError("permute: dims must be a permutation of 1.." + std::to_string(rank) + " for inputs " +
                     shape_str(x.shape()) + ", got " + shape_str(dims));
  Shape out;
  std::vector<int64_t> inverse(order.size());
  for (size_t k = 0; k < order.size(); ++k) {
    out.push_back(x.dim(order[k]));
    inverse[order[k]] = static_cast<int64_t>(k);
  }
  auto layer = std::make_unique<PermuteLayer>();
  layer->forward_view = permuted_view(x.shape(), order);
  layer->backward_view = permuted_view(out, inverse);
  return p.push(std::move(layer), input, Shape(out.begin() + 1, out.end()));
}

int64_t TrainPlan::add_border2d(bool padding, const std::vector<int64_t>& sides, int64_t input) {
  Impl& p = *impl_;
  const char* what = padding ? "zero_padding2d" : "cropping2d";
  const Tensor& x = p.input(input);
  if (x.ndim() != 4)
    throw ValueError(std::string(what) + ": expected inputs (batch, height, width, channels), got " +
                     shape_str(x.shape()));
  if (sides.size() != 4 || std::any_of(sides.begin(), sides.end(), [](int64_t v) { return v < 0; }))
    throw ValueError(std::string(what) + ": expected four counts >= 0 (top, bottom, left, right)");
  auto layer = std::make_unique<BorderLayer>();
  layer->padding = padding;
  const int64_t rows = sides[0] + sides[1], cols = sides[2] + sides[3];
  if (!padding && (rows >= x.dim(1) || cols >= x.dim(2)))
    throw ValueError("cropping2d: cropping " + std::to_string(rows) + " rows and " + std::to_string(cols) +
                     " columns leaves nothing of inputs " + shape_str(x.shape()));
  layer->n = x.dim(0);
  layer->c = x.dim(3);
  layer->top = sides[0];
  layer->left = sides[2];
  if (padding) {
    layer->h = x.dim(1), layer->w = x.dim(2), layer->big_h = x.dim(1) + rows, layer->big_w = x.dim(2) + cols;
  } else {
    layer->big_h = x.dim(1), layer->big_w = x.dim(2), layer->h = x.dim(1) - rows, layer->w = x.dim(2) - cols;
  }
  const Shape out = padding ? Shape{layer->big_h, layer->big_w, layer->c} : Shape{layer->h, layer->w, layer->c};
  return p.push(std::move(layer), input, out);
}

int64_t TrainPlan::add_depthwise_conv2d(const Tensor& kernel, const Tensor& bias, ops::Pair strides,
                                        const std::string& padding, ops::Pair dilation, PlanActivation activation,
                                        int64_t input) {
  Impl& p = *impl_;
  const Tensor& x = p.input(input);
  ops::check_float_on("kernel", kernel, p.device);
  if (kernel.ndim() != 4 || x.ndim() != 4 || kernel.dim(2) != x.dim(3))
    throw ValueError("kernel " + shape_str(kernel.shape()) + " does not fit inputs " + shape_str(x.shape()));
  auto layer = std::make_unique<DepthwiseConv2dLayer>(activation);
  layer->d = ops::depthwise_geometry("x", x.shape(), ops::Pair{kernel.dim(0), kernel.dim(1)}, kernel.dim(3), strides,
                                     padding, dilation);
  layer->kernel = kernel;
  layer->bias = bias;
  const Shape out{layer->d.g.oh, layer->d.g.ow, layer->channels()};
  if (layer->needs_z()) layer->z = p.buffer(with_batch(p.batch, out));
  p.need_workspace(kernels::depthwise_conv2d_backward_filter_workspace(p.device, layer->d));
  p.need_scratch(p.batch * layer->d.g.oh * layer->d.g.ow * layer->channels());
  layer->dkernel = p.add_param(kernel, "kernel");
  if (bias.defined()) {
    ops::check_vector("bias", bias, layer->channels(), "to match kernel " + shape_str(kernel.shape()));
    layer->dbias = p.add_param(bias, "bias");
  }
  return p.push(std::move(layer), input, out);
}

int64_t TrainPlan::add_conv2d_transpose(const Tensor& kernel, const Tensor& bias, ops::Pair strides,
                                        const std::string& padding, PlanActivation activation, int64_t input) {
  Impl& p = *impl_;
  const Tensor& x = p.input(input);
  ops::check_float_on("kernel", kernel, p.device);
  // Keras's kernel of a transposed convolution: (kh, kw, filters, input channels).
  if (kernel.ndim() != 4 || x.ndim() != 4 || kernel.dim(3) != x.dim(3))
    throw ValueError("kernel " + shape_str(kernel.shape()) + " does not fit inputs " + shape_str(x.shape()));
  ops::check_positive_pair("strides", strides);
  const int64_t kh = kernel.dim(0), kw = kernel.dim(1), filters = kernel.dim(2);
  // The output whose convolution gives the input: TensorFlow's sizes, (n - 1)·s + k for 'valid', n·s for 'same'.
  const auto extent = [&](int64_t n, int64_t s, int64_t window) { return padding == "same" ? n * s : (n - 1) * s + window; };
  const Shape big{x.dim(0), extent(x.dim(1), strides.h, kh), extent(x.dim(2), strides.w, kw), filters};
  auto layer = std::make_unique<Conv2dTransposeLayer>(activation);
  layer->g = ops::window_geometry("output", big, kh, kw, strides, padding, "kernel window");
  if (layer->g.oh != x.dim(1) || layer->g.ow != x.dim(2))
    throw ValueError("conv2d_transpose: inputs " + shape_str(x.shape()) + " do not come from a convolution of " +
                     shape_str(big));
  layer->k = x.dim(3);
  layer->kernel = kernel;
  layer->bias = bias;
  const Shape out{big[1], big[2], filters};
  if (layer->needs_z()) layer->z = p.buffer(with_batch(p.batch, out));
  p.need_workspace(std::max(kernels::conv2d_backward_filter_workspace(p.device, layer->g, layer->k),
                            kernels::column_sums_workspace(p.device, filters)));
  p.need_scratch(shape_numel(big));
  layer->dkernel = p.add_param(kernel, "kernel");
  if (p.training) layer->unused_bias_grad = p.buffer({layer->k});
  if (bias.defined()) {
    ops::check_vector("bias", bias, filters, "to match kernel " + shape_str(kernel.shape()));
    layer->dbias = p.add_param(bias, "bias");
  }
  return p.push(std::move(layer), input, out);
}

}  // namespace gt
