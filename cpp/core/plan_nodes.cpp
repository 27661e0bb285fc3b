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
  const Tensor& x(Impl& p) const { return p.values[in]; }
  const Tensor& y(Impl& p) const { return p.values[out]; }
  const Tensor& dy(Impl& p) const { return p.grads[out]; }
  const Tensor& dx(Impl& p) const { return p.grads[in]; }
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

// Max pooling records each window's first maximum as it pools, so its backward need not read x again.
struct Pool2dLayer : Indexed {
  GtPoolKind kind;
  GtWindow2d g{};
  Tensor argmax;
  explicit Pool2dLayer(GtPoolKind k) : kind(k) {}
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
  void forward(Impl& p, bool) override { kernels::global_avg_pool2d_forward(p.device, n, hw, c, cptr(x(p)), ptr(y(p))); }
  void backward(Impl& p) override {
    if (dx(p).defined()) kernels::global_avg_pool2d_backward(p.device, n, hw, c, cptr(dy(p)), ptr(dx(p)));
  }
};

// Its output and gradient are views of its input's buffers: no kernel runs.
struct FlattenLayer : PlanNode {
  void forward(Impl&, bool) override {}
  void backward(Impl&) override {}
};

struct DropoutLayer : Indexed {
  uint64_t seed;
  ops::DropoutConstants constants;
  Tensor mask;
  DropoutLayer(double rate, uint64_t s) : seed(s), constants(ops::dropout_constants(rate)) {}
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
  BatchNormLayer(double mom, double eps) : momentum(static_cast<float>(mom)), epsilon(static_cast<float>(eps)) {}
  void forward(Impl& p, bool training) override {
    if (!training) {  // normalised by the statistics gathered in training
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
      const ActivationInfo* info = find_activation(activation.elementwise);
      const Tensor& read = info->reads == GT_ACTIVATION_READS_OUTPUT ? y(p) : x(p);
      kernels::activation_backward(p.device, activation.elementwise, rows * cols, cptr(dy(p)), cptr(read), ptr(dx(p)));
    }
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
                              PlanActivation activation, int64_t input) {
  Impl& p = *impl_;
  const Tensor& x = p.input(input);
  ops::check_float_on("kernel", kernel, p.device);
  if (kernel.ndim() != 4 || x.ndim() != 4 || kernel.dim(2) != x.dim(3))
    throw ValueError("kernel " + shape_str(kernel.shape()) + " does not fit inputs " + shape_str(x.shape()));
  auto layer = std::make_unique<Conv2dLayer>(activation);
  layer->g = ops::window_geometry("x", x, kernel.dim(0), kernel.dim(1), strides, padding, "kernel window");
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
  return p.push_view(std::make_unique<FlattenLayer>(), input, Shape{p.batch, x.numel() / p.batch});
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

}  // namespace gt
