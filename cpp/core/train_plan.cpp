// The training plan: layers as small objects that hold their buffers and launch their kernels through
// kernel_calls.h. values[i] is the input of layer i (values[0] the plan's own float32 input buffer),
// grads[i] its gradient; grads[0] is never needed, and a layer whose input gradient is undefined skips
// that computation (the first Dense or Conv2D computes only its weight gradients). One workspace and
// one scratch buffer, sized for the largest need, serve every kernel in turn: the kernels run in order
// on one stream, so no two uses overlap. On a GPU the step after the input copies (forward, loss,
// backward, update) is recorded as a graph on its first run and replayed after that; the learning rate,
// Adam's factor and dropout's step are read from the plan's GtStepScalars, written before each step.
#include "core/train_plan.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <tuple>

#include "core/dropout_hash.h"
#include "core/errors.h"
#include "core/kernel_calls.h"
#include "core/memory.h"
#include "core/nn_checks.h"
#include "core/ops.h"
#include "core/step_graph.h"

namespace gt {
namespace {

GtActivation fused_kind(PlanActivation a) {
  return a == PlanActivation::Relu ? GT_ACTIVATION_RELU
         : a == PlanActivation::Sigmoid ? GT_ACTIVATION_SIGMOID
                                        : GT_ACTIVATION_NONE;
}

const float* cptr(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }
float* ptr(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

Shape with_batch(int64_t batch, const Shape& sample) {
  Shape s{batch};
  s.insert(s.end(), sample.begin(), sample.end());
  return s;
}

}  // namespace

struct PlanLayer {
  virtual ~PlanLayer() = default;
  virtual void forward(TrainPlan::Impl& p) = 0;
  virtual void backward(TrainPlan::Impl& p) = 0;
  // The loss takes over this layer's output activation (see TrainPlan::set_loss); false if it has none.
  virtual bool drop_activation(PlanActivation) { return false; }
};

struct TrainPlan::Impl {
  Device device;
  int64_t batch = 0;
  std::vector<Tensor> values, grads;
  std::vector<std::unique_ptr<PlanLayer>> layers;
  std::vector<Tensor> params, param_grads;
  size_t workspace_floats = 0, scratch_floats = 0;
  Tensor workspace, scratch;  // allocated when the plan is complete
  PlanLoss loss = PlanLoss::SparseCategorical;
  bool has_loss = false;
  Tensor labels, loss_value, sums;  // sums: {loss, hits}
  Tensor first_nonfinite;  // int64: 1 + the step whose loss was first NaN or infinite since the reset, or 0
  uint64_t steps_at_reset = 0;
  std::function<void()> update;  // reads the learning rate (Adam: alpha) from the step scalars
  bool adam = false;
  double beta_1 = 0.0, beta_2 = 0.0;  // Adam's, for its alpha
  uint64_t steps = 0;
  Tensor scalars;  // one GtStepScalars, in the device's memory

  enum class GraphState { Off, Pending, Replaying, Failed };
  GraphState graph_state = GraphState::Off;
  StepGraph graph;

  GtStepScalars* step_scalars() const { return static_cast<GtStepScalars*>(scalars.raw()); }
  void run();  // forward, loss, metrics, backward, update: the part a graph replays

  size_t held = 0;
  Tensor buffer(const Shape& shape, DType dtype = DType::Float32) {
    Tensor t = Tensor::empty(shape, dtype, device);
    held += t.nbytes();
    return t;
  }
  void need_workspace(size_t floats) { workspace_floats = std::max(workspace_floats, floats); }
  void need_scratch(int64_t floats) { scratch_floats = std::max(scratch_floats, static_cast<size_t>(floats)); }
  float* ws() const { return workspace.data<float>(); }

  // Adds a layer whose output has `sample` shape, with output and output-gradient buffers.
  template <class L>
  L* push(std::unique_ptr<L> layer, const Shape& out_sample) {
    L* raw = layer.get();
    values.push_back(buffer(with_batch(batch, out_sample)));
    grads.push_back(buffer(values.back().shape()));
    layers.push_back(std::move(layer));
    return raw;
  }
  void add_param(const Tensor& param, const char* name) {
    if (!param.defined()) return;
    ops::check_float_on(name, param, device);
    params.push_back(param);
    param_grads.push_back(buffer(param.shape()));
  }
};

namespace {

using Impl = TrainPlan::Impl;

// Layers read values[in] and write values[in + 1]; backward reads grads[in + 1] and writes grads[in].
struct Indexed : PlanLayer {
  size_t in;
  explicit Indexed(size_t index) : in(index) {}
  const Tensor& x(Impl& p) const { return p.values[in]; }
  const Tensor& y(Impl& p) const { return p.values[in + 1]; }
  const Tensor& dy(Impl& p) const { return p.grads[in + 1]; }
  const Tensor& dx(Impl& p) const { return p.grads[in]; }
};

// A layer with an output activation: relu/sigmoid fused into its kernel's store, softmax as a pass over
// a pre-activation buffer z.
struct Activated : Indexed {
  PlanActivation activation;
  Tensor z;
  Activated(size_t index, PlanActivation a) : Indexed(index), activation(a) {}
  bool drop_activation(PlanActivation a) override {
    if (activation != a) return false;
    activation = PlanActivation::None;
    return true;
  }
  // Where the kernel stores, and the epilogue it fuses.
  float* store(Impl& p) const { return activation == PlanActivation::Softmax ? ptr(z) : ptr(y(p)); }
  void finish_forward(Impl& p, int64_t rows, int64_t cols) const {
    if (activation == PlanActivation::Softmax) kernels::softmax_forward(p.device, rows, cols, cptr(z), ptr(y(p)));
  }
  // The gradient of the pre-activation: dy itself, or act'(dy) in the scratch buffer.
  const float* pre_activation_grad(Impl& p, int64_t rows, int64_t cols) const {
    const int64_t n = rows * cols;
    switch (activation) {
      case PlanActivation::None: return cptr(dy(p));
      case PlanActivation::Softmax:
        kernels::softmax_backward(p.device, rows, cols, cptr(dy(p)), cptr(y(p)), ptr(p.scratch));
        break;
      default:  // relu's derivative reads its output: <= 0, or NaN, exactly where its input is
        kernels::activation_backward(p.device, fused_kind(activation), n, cptr(dy(p)), cptr(y(p)), ptr(p.scratch));
    }
    return cptr(p.scratch);
  }
};

struct DenseLayer : Activated {
  Tensor kernel, bias, dkernel, dbias;
  int64_t m, in_f, out_f;
  DenseLayer(size_t index, PlanActivation a) : Activated(index, a) {}
  void forward(Impl& p) override {
    kernels::gemm(p.device, "dense", false, false, m, out_f, in_f, cptr(x(p)), in_f, cptr(kernel), out_f, store(p),
                  out_f, false, cptr(bias), fused_kind(activation), p.ws());
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
  Conv2dLayer(size_t index, PlanActivation a) : Activated(index, a) {}
  void forward(Impl& p) override {
    kernels::conv2d_forward(p.device, g, k, cptr(x(p)), cptr(kernel), cptr(bias), fused_kind(activation), store(p));
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
  Pool2dLayer(size_t index, GtPoolKind k) : Indexed(index), kind(k) {}
  void forward(Impl& p) override {
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
  using Indexed::Indexed;
  void forward(Impl& p) override { kernels::global_avg_pool2d_forward(p.device, n, hw, c, cptr(x(p)), ptr(y(p))); }
  void backward(Impl& p) override {
    if (dx(p).defined()) kernels::global_avg_pool2d_backward(p.device, n, hw, c, cptr(dy(p)), ptr(dx(p)));
  }
};

// Its output and gradient are views of its input's buffers: no kernel runs.
struct FlattenLayer : PlanLayer {
  void forward(Impl&) override {}
  void backward(Impl&) override {}
};

struct DropoutLayer : Indexed {
  uint64_t seed;
  ops::DropoutConstants constants;
  Tensor mask;
  DropoutLayer(size_t index, double rate, uint64_t s) : Indexed(index), seed(s), constants(ops::dropout_constants(rate)) {}
  void forward(Impl& p) override {
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
  BatchNormLayer(size_t index, double mom, double eps)
      : Indexed(index), momentum(static_cast<float>(mom)), epsilon(static_cast<float>(eps)) {}
  void forward(Impl& p) override {
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
  ActivationLayer(size_t index, PlanActivation a) : Indexed(index), activation(a) {}
  bool drop_activation(PlanActivation a) override {
    if (activation != a) return false;
    activation = PlanActivation::None;
    return true;
  }
  void forward(Impl& p) override {
    if (activation == PlanActivation::None)
      kernels::copy_device(p.device, y(p).raw(), x(p).raw(), x(p).nbytes());
    else if (activation == PlanActivation::Softmax)
      kernels::softmax_forward(p.device, rows, cols, cptr(x(p)), ptr(y(p)));
    else
      kernels::activation_forward(p.device, fused_kind(activation), rows * cols, cptr(x(p)), ptr(y(p)));
  }
  void backward(Impl& p) override {
    if (!dx(p).defined()) return;
    if (activation == PlanActivation::None)
      kernels::copy_device(p.device, dx(p).raw(), dy(p).raw(), dy(p).nbytes());
    else if (activation == PlanActivation::Softmax)
      kernels::softmax_backward(p.device, rows, cols, cptr(dy(p)), cptr(y(p)), ptr(dx(p)));
    else
      kernels::activation_backward(p.device, fused_kind(activation), rows * cols, cptr(dy(p)),
                                   cptr(activation == PlanActivation::Relu ? x(p) : y(p)), ptr(dx(p)));
  }
};

// (rows, cols) over the last axis of a value buffer.
std::pair<int64_t, int64_t> rows_cols(const Tensor& t) {
  const int64_t cols = t.dim(t.ndim() - 1);
  return {cols > 0 ? t.numel() / cols : 0, cols};
}

void check_same_extent(const char* name, const std::vector<Tensor>& state, const std::vector<Tensor>& params) {
  if (state.size() != params.size())
    throw ValueError(std::string(name) + ": expected one tensor per trainable parameter (" +
                     std::to_string(params.size()) + "), got " + std::to_string(state.size()));
  for (size_t i = 0; i < state.size(); ++i) {
    ops::check_float_on(name, state[i], params[i].device());
    ops::check_same_shape("parameter", params[i], name, state[i]);
  }
}

}  // namespace

TrainPlan::TrainPlan(const Device& device, int64_t batch, const Shape& sample_shape, bool graphs)
    : impl_(new Impl) {
  if (batch < 1) throw ValueError("batch: expected a positive batch size, got " + std::to_string(batch));
  impl_->device = device;
  impl_->batch = batch;
  impl_->graph_state = graphs && device.type != DeviceType::CPU ? Impl::GraphState::Pending : Impl::GraphState::Off;
  impl_->scalars = impl_->buffer({static_cast<int64_t>(sizeof(GtStepScalars))}, DType::UInt8);
  impl_->values.push_back(impl_->buffer(with_batch(batch, sample_shape)));
  impl_->grads.emplace_back();  // nothing needs the gradient of the data
}

TrainPlan::~TrainPlan() = default;

void TrainPlan::add_dense(const Tensor& kernel, const Tensor& bias, PlanActivation activation) {
  Impl& p = *impl_;
  const Tensor& x = p.values.back();
  ops::check_float_on("kernel", kernel, p.device);
  if (kernel.ndim() != 2 || x.ndim() < 2 || kernel.dim(0) != x.dim(x.ndim() - 1))
    throw ValueError("kernel " + shape_str(kernel.shape()) + " does not fit inputs " + shape_str(x.shape()));
  auto layer = std::make_unique<DenseLayer>(p.values.size() - 1, activation);
  layer->kernel = kernel;
  layer->bias = bias;
  layer->in_f = kernel.dim(0);
  layer->out_f = kernel.dim(1);
  layer->m = x.numel() / layer->in_f;
  Shape out(x.shape().begin() + 1, x.shape().end());
  out.back() = layer->out_f;
  if (activation == PlanActivation::Softmax) layer->z = p.buffer(with_batch(p.batch, out));
  p.need_workspace(std::max({kernels::gemm_workspace(p.device, layer->m, layer->out_f, layer->in_f),
                             kernels::gemm_workspace(p.device, layer->m, layer->in_f, layer->out_f),
                             kernels::gemm_workspace(p.device, layer->in_f, layer->out_f, layer->m),
                             kernels::column_sums_workspace(p.device, layer->out_f)}));
  p.need_scratch(layer->m * layer->out_f);
  p.add_param(kernel, "kernel");
  layer->dkernel = p.param_grads.back();
  if (bias.defined()) {
    ops::check_vector("bias", bias, layer->out_f, "to match kernel " + shape_str(kernel.shape()));
    p.add_param(bias, "bias");
    layer->dbias = p.param_grads.back();
  }
  p.push(std::move(layer), out);
}

void TrainPlan::add_conv2d(const Tensor& kernel, const Tensor& bias, ops::Pair strides, const std::string& padding,
                           PlanActivation activation) {
  Impl& p = *impl_;
  const Tensor& x = p.values.back();
  ops::check_float_on("kernel", kernel, p.device);
  if (kernel.ndim() != 4 || x.ndim() != 4 || kernel.dim(2) != x.dim(3))
    throw ValueError("kernel " + shape_str(kernel.shape()) + " does not fit inputs " + shape_str(x.shape()));
  auto layer = std::make_unique<Conv2dLayer>(p.values.size() - 1, activation);
  layer->g = ops::window_geometry("x", x, kernel.dim(0), kernel.dim(1), strides, padding, "kernel window");
  layer->k = kernel.dim(3);
  layer->kernel = kernel;
  layer->bias = bias;
  const Shape out{layer->g.oh, layer->g.ow, layer->k};
  if (activation == PlanActivation::Softmax) layer->z = p.buffer(with_batch(p.batch, out));
  p.need_workspace(kernels::conv2d_backward_filter_workspace(p.device, layer->g, layer->k));
  p.need_scratch(p.batch * layer->g.oh * layer->g.ow * layer->k);
  p.add_param(kernel, "kernel");
  layer->dkernel = p.param_grads.back();
  if (bias.defined()) {
    ops::check_vector("bias", bias, layer->k, "to match kernel " + shape_str(kernel.shape()));
    p.add_param(bias, "bias");
    layer->dbias = p.param_grads.back();
  } else {
    layer->dbias = p.buffer({layer->k});  // the filter-gradient kernel also sums dy per channel
  }
  p.push(std::move(layer), out);
}

void TrainPlan::add_pool2d(GtPoolKind kind, ops::Pair pool_size, ops::Pair strides, const std::string& padding) {
  Impl& p = *impl_;
  auto layer = std::make_unique<Pool2dLayer>(p.values.size() - 1, kind);
  layer->g = ops::pool_geometry(p.values.back(), kind, pool_size, strides, padding);
  const Shape out{layer->g.oh, layer->g.ow, layer->g.c};
  if (kind == GT_POOL_MAX) layer->argmax = p.buffer(with_batch(p.batch, out), DType::Int32);
  p.push(std::move(layer), out);
}

void TrainPlan::add_global_avg_pool2d() {
  Impl& p = *impl_;
  const Tensor& x = p.values.back();
  if (x.ndim() != 4) throw ValueError("global_avg_pool2d: expected inputs (batch, height, width, channels), got " +
                                      shape_str(x.shape()));
  auto layer = std::make_unique<GlobalAvgPoolLayer>(p.values.size() - 1);
  layer->n = x.dim(0);
  layer->hw = x.dim(1) * x.dim(2);
  layer->c = x.dim(3);
  const Shape out{layer->c};
  p.push(std::move(layer), out);
}

void TrainPlan::add_flatten() {
  Impl& p = *impl_;
  const Tensor x = p.values.back(), dx = p.grads.back();
  const Shape flat{p.batch, x.numel() / p.batch};
  p.layers.push_back(std::make_unique<FlattenLayer>());
  p.values.push_back(x.reshape(flat));
  p.grads.push_back(dx.defined() ? dx.reshape(flat) : Tensor());
}

void TrainPlan::add_dropout(double rate, uint64_t seed) {
  Impl& p = *impl_;
  ops::check_rate(rate);
  const Tensor& x = p.values.back();
  auto layer = std::make_unique<DropoutLayer>(p.values.size() - 1, rate, seed);
  layer->mask = p.buffer(x.shape(), DType::UInt8);
  p.push(std::move(layer), Shape(x.shape().begin() + 1, x.shape().end()));
}

void TrainPlan::add_batch_norm(const Tensor& gamma, const Tensor& beta, const Tensor& moving_mean,
                               const Tensor& moving_var, double momentum, double epsilon) {
  Impl& p = *impl_;
  const Tensor& x = p.values.back();
  ops::check_range("momentum", momentum, 0.0, 1.0, false);
  ops::check_positive("epsilon", epsilon);
  if (x.dim(x.ndim() - 1) < 1)
    throw ValueError("batch_norm: expected inputs with channels >= 1, got " + shape_str(x.shape()));
  auto layer = std::make_unique<BatchNormLayer>(p.values.size() - 1, momentum, epsilon);
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
  p.add_param(gamma, "gamma");
  layer->dgamma = p.param_grads.back();
  p.add_param(beta, "beta");
  layer->dbeta = p.param_grads.back();
  p.push(std::move(layer), Shape(x.shape().begin() + 1, x.shape().end()));
}

void TrainPlan::add_activation(PlanActivation activation) {
  Impl& p = *impl_;
  const Tensor& x = p.values.back();
  auto layer = std::make_unique<ActivationLayer>(p.values.size() - 1, activation);
  std::tie(layer->rows, layer->cols) = rows_cols(x);
  p.push(std::move(layer), Shape(x.shape().begin() + 1, x.shape().end()));
}

void TrainPlan::set_loss(PlanLoss loss, bool fuse_activation) {
  Impl& p = *impl_;
  if (p.layers.empty()) throw ValueError("set_loss: the plan has no layers");
  const Tensor& out = p.values.back();
  if (fuse_activation) {
    const PlanActivation absorbed = loss == PlanLoss::SparseCategorical ? PlanActivation::Softmax : PlanActivation::Sigmoid;
    if (!p.layers.back()->drop_activation(absorbed))
      throw ValueError("set_loss: the last layer has no activation for the loss to absorb");
    if (loss == PlanLoss::BinaryProbabilities) loss = PlanLoss::BinaryLogits;
  }
  if (loss == PlanLoss::SparseCategorical) {
    if (out.ndim() != 2) throw ValueError("sparse categorical cross-entropy: expected outputs (batch, classes), got " +
                                          shape_str(out.shape()));
    p.labels = p.buffer({p.batch}, DType::Int32);
    p.need_workspace(kernels::softmax_cross_entropy_workspace(p.device, p.batch));
  } else {
    p.labels = p.buffer(out.shape());
    p.need_workspace(kernels::binary_cross_entropy_workspace(p.device));
  }
  p.loss = loss;
  p.loss_value = p.buffer({});
  p.sums = p.buffer({2});
  kernels::fill_zero(p.device, p.sums.raw(), p.sums.nbytes());
  p.first_nonfinite = p.buffer({1}, DType::Int64);
  kernels::fill_zero(p.device, p.first_nonfinite.raw(), p.first_nonfinite.nbytes());
  p.has_loss = true;
}

void TrainPlan::set_sgd(double momentum, bool nesterov, const std::vector<Tensor>& velocities) {
  Impl& p = *impl_;
  ops::check_range("momentum", momentum, 0.0, 1.0, false);
  if (momentum > 0.0) check_same_extent("velocities", velocities, p.params);
  const float mom = static_cast<float>(momentum);
  p.adam = false;
  p.update = [&p, velocities, mom, nesterov]() {
    const GtSgdParams params{0.0f, mom, nesterov ? 1 : 0, p.step_scalars()};
    for (size_t i = 0; i < p.params.size(); ++i)
      kernels::sgd_update(p.device, p.params[i].numel(), ptr(p.params[i]), cptr(p.param_grads[i]),
                          mom > 0.0f ? ptr(velocities[i]) : nullptr, params);
  };
}

void TrainPlan::set_adam(double beta_1, double beta_2, double epsilon, const std::vector<Tensor>& m,
                         const std::vector<Tensor>& v) {
  Impl& p = *impl_;
  ops::check_range("beta_1", beta_1, 0.0, 1.0, true);
  ops::check_range("beta_2", beta_2, 0.0, 1.0, true);
  ops::check_range("epsilon", epsilon, 0.0, INFINITY, true);
  check_same_extent("m", m, p.params);
  check_same_extent("v", v, p.params);
  p.adam = true;
  p.beta_1 = beta_1;
  p.beta_2 = beta_2;
  const GtAdamParams params{0.0f, static_cast<float>(beta_1), static_cast<float>(beta_2), static_cast<float>(epsilon),
                            p.step_scalars()};
  p.update = [&p, m, v, params]() {
    for (size_t i = 0; i < p.params.size(); ++i)
      kernels::adam_update(p.device, p.params[i].numel(), ptr(p.params[i]), cptr(p.param_grads[i]), ptr(m[i]),
                           ptr(v[i]), params);
  };
}

void TrainPlan::set_rmsprop(double rho, double momentum, double epsilon, bool centered,
                            const std::vector<Tensor>& velocities, const std::vector<Tensor>& momentum_buffers,
                            const std::vector<Tensor>& average_grads) {
  Impl& p = *impl_;
  ops::check_range("rho", rho, 0.0, 1.0, false);
  ops::check_range("momentum", momentum, 0.0, 1.0, false);
  ops::check_range("epsilon", epsilon, 0.0, INFINITY, true);
  check_same_extent("velocities", velocities, p.params);
  if (momentum > 0.0) check_same_extent("momentum_buffers", momentum_buffers, p.params);
  if (centered) check_same_extent("average_grads", average_grads, p.params);
  p.adam = false;
  const GtRmspropParams params{0.0f, static_cast<float>(rho), static_cast<float>(momentum), static_cast<float>(epsilon),
                               centered ? 1 : 0, p.step_scalars()};
  p.update = [&p, velocities, momentum_buffers, average_grads, momentum, centered, params]() {
    for (size_t i = 0; i < p.params.size(); ++i)
      kernels::rmsprop_update(p.device, p.params[i].numel(), ptr(p.params[i]), cptr(p.param_grads[i]),
                              ptr(velocities[i]), momentum > 0.0 ? ptr(momentum_buffers[i]) : nullptr,
                              centered ? ptr(average_grads[i]) : nullptr, params);
  };
}

void TrainPlan::step(const Tensor& x, const Tensor& y, int64_t iteration, double learning_rate) {
  Impl& p = *impl_;
  if (!p.has_loss || !p.update) throw ValueError("step: the plan needs its loss and optimizer first");
  if (iteration < 1) throw ValueError("iteration: expected the 1-based optimizer step, got " + std::to_string(iteration));
  ops::check_float32("learning_rate", learning_rate);
  const Tensor& input = p.values[0];
  if (x.shape() != input.shape())
    throw ValueError("x: expected shape " + shape_str(input.shape()) + ", got " + shape_str(x.shape()));
  ops::check_same_device("x", x, "the plan", input);
  ops::check_same_device("y", y, "the plan", input);
  if (x.dtype() != DType::Float32 && x.dtype() != DType::UInt8)
    throw TypeError(std::string("x: expected float32 or uint8, got ") + dtype_name(x.dtype()));
  ops::check_dtype("y", y, p.labels.dtype());
  if (y.shape() != p.labels.shape())
    throw ValueError("y: expected shape " + shape_str(p.labels.shape()) + ", got " + shape_str(y.shape()));
  if (p.workspace.numel() == 0) {  // the plan is complete: its shared buffers, once
    p.workspace = p.buffer({static_cast<int64_t>(std::max<size_t>(p.workspace_floats, 1))});
    p.scratch = p.buffer({static_cast<int64_t>(std::max<size_t>(p.scratch_floats, 1))});
  }

  // Outside the graph: the batch's buffers differ from step to step (the feed's ring slots).
  if (x.dtype() == DType::UInt8)
    kernels::cast_u8_f32(p.device, x.numel(), x.data<uint8_t>(), ptr(input));
  else
    kernels::copy_device(p.device, input.raw(), x.raw(), x.nbytes());
  kernels::copy_device(p.device, p.labels.raw(), y.raw(), y.nbytes());
  const float alpha = p.adam ? ops::adam_params(iteration, learning_rate, p.beta_1, p.beta_2, 0.0).alpha : 0.0f;
  const GtStepScalars scalars{p.steps, static_cast<float>(learning_rate), alpha};
  kernels::write_step_scalars(p.device, p.step_scalars(), scalars);

  using State = Impl::GraphState;
  if (p.graph_state == State::Pending)  // nothing captured runs: the graph's first launch does it
    p.graph_state = p.graph.capture(p.device, [&p] { p.run(); }) ? State::Replaying : State::Failed;
  if (p.graph_state == State::Replaying)
    p.graph.launch();
  else
    p.run();
  ++p.steps;
}

void TrainPlan::Impl::run() {
  Impl& p = *this;
  for (auto& layer : p.layers) layer->forward(p);
  const Tensor& out = p.values.back();
  const Tensor& dout = p.grads.back();
  if (p.loss == PlanLoss::SparseCategorical) {
    const auto [rows, classes] = rows_cols(out);
    kernels::softmax_cross_entropy(p.device, rows, classes, cptr(out), p.labels.data<int32_t>(), ptr(p.loss_value),
                                   ptr(dout), p.ws());
    kernels::count_argmax_hits(p.device, rows, classes, cptr(out), p.labels.data<int32_t>(), ptr(p.sums) + 1);
  } else {
    const bool logits = p.loss == PlanLoss::BinaryLogits;
    kernels::binary_cross_entropy(p.device, out.numel(), cptr(out), cptr(p.labels), logits, ptr(p.loss_value),
                                  ptr(dout), p.ws());
    kernels::count_threshold_hits(p.device, out.numel(), cptr(out), cptr(p.labels), logits ? 0.0f : 0.5f,
                                  ptr(p.sums) + 1);
  }
  kernels::accumulate(p.device, 1, cptr(p.loss_value), ptr(p.sums));
  kernels::mark_first_nonfinite(p.device, cptr(p.loss_value), p.step_scalars(), p.first_nonfinite.data<int64_t>());
  for (size_t i = p.layers.size(); i-- > 0;) p.layers[i]->backward(p);
  p.update();
}

std::pair<double, double> TrainPlan::metrics() const {
  const Impl& p = *impl_;
  if (!p.has_loss) return {0.0, 0.0};
  const Tensor host = p.sums.to(Device{});
  return {host.data<float>()[0], host.data<float>()[1]};
}

void TrainPlan::reset_metrics() {
  Impl& p = *impl_;
  if (!p.has_loss) return;
  kernels::fill_zero(p.device, p.sums.raw(), p.sums.nbytes());
  kernels::fill_zero(p.device, p.first_nonfinite.raw(), p.first_nonfinite.nbytes());
  p.steps_at_reset = p.steps;
}

int64_t TrainPlan::first_nonfinite_step() const {
  const Impl& p = *impl_;
  if (!p.has_loss) return -1;
  const int64_t first = p.first_nonfinite.to(Device{}).data<int64_t>()[0];
  return first == 0 ? -1 : first - 1 - static_cast<int64_t>(p.steps_at_reset);
}

std::string TrainPlan::graph_state() const {
  switch (impl_->graph_state) {
    case Impl::GraphState::Off: return "off";
    case Impl::GraphState::Pending: return "pending";
    case Impl::GraphState::Replaying: return "replaying";
    default: return "failed";
  }
}

std::string TrainPlan::graph_failure() const { return impl_->graph.failure(); }

int64_t TrainPlan::batch() const { return impl_->batch; }
const Device& TrainPlan::device() const { return impl_->device; }
Shape TrainPlan::output_shape() const { return impl_->values.back().shape(); }
std::vector<Tensor> TrainPlan::parameters() const { return impl_->params; }
std::vector<Tensor> TrainPlan::gradients() const { return impl_->param_grads; }
size_t TrainPlan::buffer_bytes() const { return impl_->held; }

}  // namespace gt
