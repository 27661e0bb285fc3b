// The plan's executor: building (values, parameters, the loss, the optimizer) and running a step whole,
// one node at a time, or in inference. values[0] is the plan's own float32 input buffer and has no
// gradient, so the first Dense or Conv2D computes only its weight gradients. One workspace and one
// scratch buffer, sized for the largest need, serve every kernel in turn: the kernels run in order on
// one stream, so no two uses overlap. On a GPU the step after the input copies (forward, loss,
// backward, update) is recorded as a graph on its first run and replayed after that; the learning rate,
// Adam's factor and dropout's step are read from the plan's GtStepScalars, written before each step.
#include "core/train_plan.h"

#include <algorithm>
#include <cmath>

#include "core/dropout_hash.h"
#include "core/errors.h"
#include "core/kernel_calls.h"
#include "core/memory.h"
#include "core/nn_checks.h"
#include "core/ops.h"
#include "core/optimizer_params.h"
#include "core/plan_memory.h"
#include "core/point_losses.h"
#include "core/train_plan_impl.h"

namespace gt {
namespace {

using Impl = TrainPlan::Impl;

void check_same_extent(const char* name, const std::vector<Tensor>& state, const std::vector<Tensor>& params) {
  if (state.size() != params.size())
    throw ValueError(std::string(name) + ": expected one tensor per trainable parameter (" +
                     std::to_string(params.size()) + "), got " + std::to_string(state.size()));
  for (size_t i = 0; i < state.size(); ++i) {
    ops::check_float_on(name, state[i], params[i].device());
    ops::check_same_shape("parameter", params[i], name, state[i]);
  }
}

// -log p[label] with p clipped to [1e-7, 1 - 1e-7] as Keras clips probabilities, and its gradient, on the
// host: probabilities that no softmax of the plan produced are a rare configuration of small models.
void sparse_cross_entropy_on_probabilities(Impl& p, const Impl::LossTerm& term) {
  constexpr double kEpsilon = 1e-7;
  const Tensor& out = p.values[term.output];
  const auto [rows, classes] = rows_cols(out);
  const Device host{};
  const Tensor probs = out.to(host, true), labels = term.labels.to(host, true);
  Tensor grad = Tensor::zeros(out.shape(), DType::Float32, host);
  Tensor loss = Tensor::empty({}, DType::Float32, host);
  double sum = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t at = r * classes + labels.data<int32_t>()[r];
    const double picked = std::clamp(static_cast<double>(probs.data<float>()[at]), kEpsilon, 1.0 - kEpsilon);
    sum -= std::log(picked);
    grad.data<float>()[at] = static_cast<float>(-1.0 / (picked * static_cast<double>(rows)));
  }
  loss.data<float>()[0] = static_cast<float>(sum / static_cast<double>(std::max<int64_t>(rows, 1)));
  const Tensor grad_there = grad.to(p.device), loss_there = loss.to(p.device);
  kernels::copy_device(p.device, term.grad.raw(), grad_there.raw(), grad_there.nbytes());
  kernels::copy_device(p.device, term.value.raw(), loss_there.raw(), loss_there.nbytes());
}

}  // namespace

const Tensor& Impl::input(int64_t& input) {
  if (input == -1) input = static_cast<int64_t>(values.size()) - 1;
  if (input < 0 || input >= static_cast<int64_t>(values.size()))
    throw ValueError("input: no value " + std::to_string(input) + " in a plan of " + std::to_string(values.size()) +
                     " values");
  if (has_loss()) throw ValueError("input: the plan's loss is set; layers come before it");
  return values[input];
}

// Where a new reader of value `in` (a layer, or a loss term) writes its gradient: the value's own
// buffer for its first reader, a buffer of the reader's own for each later one (summed in before the
// value's producer runs backward). The slot says which: -1 none, 0 the value's own, j + 1 its
// reader_grads[j].
int gradient_slot(Impl& p, int64_t in) {
  const bool first = p.readers[in]++ == 0;
  if (!p.grads[in].defined()) return -1;
  if (first) return 0;
  int index = 0;
  p.reader_grads[in].push_back(p.placeholder(p.values[in].shape(), &index));
  p.reader_grad_buffer[in].push_back(index);
  return static_cast<int>(p.reader_grads[in].size());
}

const Tensor& gradient_in_slot(const Impl& p, int64_t in, int slot) {
  static const Tensor none;
  return slot < 0 ? none : slot == 0 ? p.grads[in] : p.reader_grads[in][slot - 1];
}

// The planned buffer behind value `in`'s gradient slot (-1: none).
int slot_buffer(const Impl& p, int64_t in, int slot) {
  return slot < 0 ? -1 : slot == 0 ? p.grad_buffer[in] : p.reader_grad_buffer[in][slot - 1];
}

void add_gradient_target(Impl& p, PlanNode& node, int64_t in) {
  const int slot = gradient_slot(p, in);
  node.dins.push_back(gradient_in_slot(p, in, slot));
  node.din_slots.push_back(slot);
}

// The planned buffer behind a node's din k (-1: none).
int din_buffer(const Impl& p, const PlanNode& node, size_t k) {
  return slot_buffer(p, node.ins[k], node.din_slots[k]);
}

// Appends a value (and its gradient's) bookkeeping and the node that writes it.
int64_t add_node(Impl& p, std::unique_ptr<PlanNode> node, Tensor value, int value_buffer, Tensor grad,
                 int grad_buffer) {
  p.values.push_back(std::move(value));
  p.value_buffer.push_back(value_buffer);
  p.grads.push_back(std::move(grad));
  p.grad_buffer.push_back(grad_buffer);
  p.readers.push_back(0);
  p.reader_grads.emplace_back();
  p.reader_grad_buffer.emplace_back();
  node->out = static_cast<int64_t>(p.values.size()) - 1;
  p.nodes.push_back(std::move(node));
  return p.nodes.back()->out;
}

int64_t Impl::push(std::unique_ptr<PlanNode> node, std::vector<int64_t> ins, const Shape& out_sample) {
  for (const int64_t in : ins) add_gradient_target(*this, *node, in);
  node->ins = std::move(ins);
  const Shape shape = with_batch(batch, out_sample);
  int value_index = -1, grad_index = -1;
  Tensor value = placeholder(shape, &value_index);
  Tensor grad = training ? placeholder(shape, &grad_index) : Tensor();
  return add_node(*this, std::move(node), std::move(value), value_index, std::move(grad), grad_index);
}

int64_t Impl::push_view(std::unique_ptr<PlanNode> node, int64_t in, const Shape& shape) {
  add_gradient_target(*this, *node, in);
  node->ins = {in};
  const Tensor& din = node->dins.front();
  const int grad_index = din_buffer(*this, *node, 0);
  return add_node(*this, std::move(node), values[in].reshape(shape), value_buffer[in],
                  din.defined() ? din.reshape(shape) : Tensor(), grad_index);
}

Tensor Impl::add_param(const Tensor& param, const char* name) {
  if (!param.defined()) return Tensor();
  ops::check_float_on(name, param, device);
  if (!training) return Tensor();
  if (is_frozen(param)) return buffer(param.shape());  // written by backward, read by nothing
  for (size_t i = 0; i < params.size(); ++i)
    if (params[i].raw() == param.raw()) {  // a shared layer's second use: its own gradient, summed later
      ops::check_same_shape("parameter", params[i], name, param);
      shared_param_grads.emplace_back(i, buffer(param.shape()));
      return shared_param_grads.back().second;
    }
  params.push_back(param);
  param_grads.push_back(buffer(param.shape()));
  return param_grads.back();
}

void Impl::place_buffers() {
  // The step's schedule: forward of node i at time i, the loss at n, backward of node i at 2n - i, and
  // the output read once more after the step (predict's copy).
  const int64_t n = static_cast<int64_t>(nodes.size()), after = 2 * n + 1;
  std::vector<BufferLifetime> life(planned.size(), BufferLifetime{0, INT64_MAX, INT64_MIN});
  std::vector<bool> written(planned.size(), false);
  const auto use = [&](int buffer, int64_t t, bool writes = false) {
    if (buffer < 0) return;
    life[buffer].first = std::min(life[buffer].first, t);
    life[buffer].last = std::max(life[buffer].last, t);
    written[buffer] = written[buffer] || writes;
  };
  for (int64_t i = 0; i < n; ++i) {
    const PlanNode& node = *nodes[i];
    use(value_buffer[node.out], i, true);
    for (const int64_t in : node.ins) use(value_buffer[in], i);
    if (!training) continue;
    const int64_t t = 2 * n - i;
    for (const int64_t in : node.ins)
      if (node.backward_reads_inputs()) use(value_buffer[in], t);
    if (node.backward_reads_output()) use(value_buffer[node.out], t);
    use(grad_buffer[node.out], t);
    for (const int b : reader_grad_buffer[node.out]) use(b, t);
    for (size_t k = 0; k < node.ins.size(); ++k) use(din_buffer(*this, node, k), t, true);
  }
  for (const LossTerm& term : losses) {
    use(value_buffer[term.output], n);
    use(slot_buffer(*this, term.output, term.grad_slot), n, true);
  }
  for (const int64_t out : output_values()) use(value_buffer[out], after);
  for (const Penalty& penalty : penalties)
    if (penalty.value >= 0) {
      use(value_buffer[penalty.value], n);
      use(slot_buffer(*this, penalty.value, penalty.grad_slot), n, true);
    }
  for (size_t b = 0; b < planned.size(); ++b) {
    life[b].bytes = static_cast<size_t>(shape_numel(planned[b])) * sizeof(float);
    if (!reuse_memory || life[b].first > life[b].last) life[b].first = 0, life[b].last = after;
  }
  // A gradient nothing writes (of a value no layer reads, off the path to the output) must read as
  // zeros: such buffers stay out of the arena, zeroed once.
  std::vector<BufferLifetime> arena_life;
  std::vector<int> arena_index(planned.size(), -1);
  for (size_t b = 0; b < planned.size(); ++b)
    if (written[b]) {
      arena_index[b] = static_cast<int>(arena_life.size());
      arena_life.push_back(life[b]);
    }
  size_t arena_bytes = 0;
  const std::vector<size_t> offsets = gt::place_buffers(arena_life, 256, &arena_bytes);
  const Tensor arena = buffer({static_cast<int64_t>(std::max<size_t>(arena_bytes / sizeof(float), 1))});
  const auto owner = std::make_shared<Tensor>(arena);
  std::vector<Tensor> real(planned.size());
  for (size_t b = 0; b < planned.size(); ++b) {
    if (arena_index[b] >= 0) {
      real[b] = Tensor::borrow(static_cast<char*>(arena.raw()) + offsets[arena_index[b]], planned[b], DType::Float32,
                               device, owner);
    } else {
      real[b] = buffer(planned[b]);
      kernels::fill_zero(device, real[b].raw(), real[b].nbytes());
    }
  }
  for (size_t v = 1; v < values.size(); ++v) {
    if (value_buffer[v] >= 0)  // else a view of the plan's input, which is real memory already
      values[v] = real[value_buffer[v]].reshape(values[v].shape());
    if (grad_buffer[v] >= 0) grads[v] = real[grad_buffer[v]].reshape(grads[v].shape());
    for (size_t j = 0; j < reader_grads[v].size(); ++j) reader_grads[v][j] = real[reader_grad_buffer[v][j]];
  }
  for (const auto& node : nodes)
    for (size_t k = 0; k < node->ins.size(); ++k)
      node->dins[k] = gradient_in_slot(*this, node->ins[k], node->din_slots[k]);
  for (LossTerm& term : losses) term.grad = gradient_in_slot(*this, term.output, term.grad_slot);
  for (Penalty& penalty : penalties)
    if (penalty.value >= 0) {
      penalty.x = values[penalty.value];
      penalty.grad = gradient_in_slot(*this, penalty.value, penalty.grad_slot);
    }
}

void Impl::complete() {
  if (workspace.defined()) return;
  place_buffers();
  size_t slots = 0;
  for (LossTerm& term : losses) {
    term.first_sum = slots;
    slots += 1 + term.metrics.size();
  }
  sums = buffer({static_cast<int64_t>(slots) + 1});
  kernels::fill_zero(device, sums.raw(), sums.nbytes());
  first_nonfinite = buffer({1}, DType::Int64);
  kernels::fill_zero(device, first_nonfinite.raw(), first_nonfinite.nbytes());
  penalty_values = buffer({std::max<int64_t>(static_cast<int64_t>(penalties.size()), 1)});
  workspace = buffer({static_cast<int64_t>(std::max<size_t>(workspace_floats, 1))});
  if (training) scratch = buffer({static_cast<int64_t>(std::max<size_t>(scratch_floats, 1))});
}

// A value the plan's caller writes (an input): a buffer of its own, no gradient, no writer.
int64_t add_input_value(Impl& p, const Shape& sample_shape) {
  p.values.push_back(p.buffer(with_batch(p.batch, sample_shape)));
  p.value_buffer.push_back(-1);
  p.grads.emplace_back();  // nothing needs the gradient of the data
  p.grad_buffer.push_back(-1);
  p.readers.push_back(0);
  p.reader_grads.emplace_back();
  p.reader_grad_buffer.emplace_back();
  return static_cast<int64_t>(p.values.size()) - 1;
}

TrainPlan::TrainPlan(const Device& device, int64_t batch, const Shape& sample_shape, bool graphs, bool training,
                     bool reuse_memory)
    : impl_(new Impl) {
  if (batch < 1) throw ValueError("batch: expected a positive batch size, got " + std::to_string(batch));
  impl_->device = device;
  impl_->batch = batch;
  impl_->training = training;
  impl_->graph_state = graphs && device.type != DeviceType::CPU ? Impl::GraphState::Pending : Impl::GraphState::Off;
  impl_->scalars = impl_->buffer({static_cast<int64_t>(sizeof(GtStepScalars))}, DType::UInt8);
  impl_->reuse_memory = reuse_memory;
  add_input_value(*impl_, sample_shape);
}

TrainPlan::~TrainPlan() = default;

int64_t TrainPlan::add_input(const Shape& sample_shape) {
  Impl& p = *impl_;
  if (!p.nodes.empty()) throw ValueError("add_input: inputs come before the layers");
  p.inputs.push_back(add_input_value(p, sample_shape));
  return p.inputs.back();
}

void TrainPlan::add_loss(const PlanLossSpec& spec, bool fuse_activation, int64_t output, double weight,
                         const std::vector<PlanMetric>& metrics) {
  Impl& p = *impl_;
  PlanLoss loss = spec.kind;
  if (p.nodes.empty()) throw ValueError("add_loss: the plan has no layers");
  if (p.workspace.defined()) throw ValueError("add_loss: the plan has run; losses come before its first step");
  if (output == -1) output = static_cast<int64_t>(p.values.size()) - 1;
  const auto writer = std::find_if(p.nodes.begin(), p.nodes.end(), [&](const auto& n) { return n->out == output; });
  if (output < 0 || output >= static_cast<int64_t>(p.values.size()) || writer == p.nodes.end())
    throw ValueError("add_loss: no layer's value " + std::to_string(output) + " in a plan of " +
                     std::to_string(p.values.size()) + " values");
  ops::check_float32("loss_weights", weight);
  const Tensor& out = p.values[output];
  const bool sparse = loss == PlanLoss::SparseCategorical || loss == PlanLoss::SparseCategoricalProbabilities;
  if (loss == PlanLoss::Point) {
    if (spec.point < 0 || spec.point >= GT_POINT_LOSS_COUNT)
      throw ValueError("add_loss: unknown element-wise loss " + std::to_string(spec.point));
    if (fuse_activation) throw ValueError("add_loss: an element-wise loss takes over no activation");
    ops::check_float32("delta", spec.param);
  }
  for (const PlanMetric& m : metrics) {
    if (!m.accuracy && (m.point < 0 || m.point >= GT_POINT_LOSS_COUNT))
      throw ValueError("metrics: unknown element-wise metric " + std::to_string(m.point));
    if (!m.accuracy && sparse)
      throw ValueError("metrics: an element-wise metric compares outputs with targets of their shape, not with "
                       "sparse labels");
    if (m.accuracy && loss == PlanLoss::Point && out.numel() != p.batch)
      throw ValueError("metrics: accuracy against the targets of an element-wise loss needs one output per "
                       "sample (a 0.5 threshold), got outputs " + shape_str(out.shape()));
  }
  if (fuse_activation) {
    if (p.readers[output] > 0)  // the layers reading it need the activation's output, not the logits
      throw ValueError("add_loss: value " + std::to_string(output) + " is read by other layers, so the loss "
                       "cannot take over its activation");
    const PlanActivation absorbed = loss == PlanLoss::SparseCategorical ? PlanActivation::softmax_over_rows()
                                                                        : PlanActivation::of(GT_ACTIVATION_SIGMOID);
    if (!(*writer)->drop_activation(absorbed))
      throw ValueError("add_loss: the output's layer has no activation for the loss to absorb");
    if (loss == PlanLoss::BinaryProbabilities) loss = PlanLoss::BinaryLogits;
  }
  Impl::LossTerm term;
  term.kind = loss;
  term.point = spec.point;
  term.param = static_cast<float>(spec.param);
  term.output = output;
  term.weight = static_cast<float>(weight);
  term.metrics = metrics;
  if (spec.class_weight.defined()) {
    if (loss != PlanLoss::SparseCategorical)
      throw ValueError("class_weight: supported with sparse or categorical cross-entropy computed from logits "
                       "(an output without softmax, or with the softmax the loss takes over) so far");
    ops::check_float_on("class_weight", spec.class_weight, p.device);
    if (spec.class_weight.shape() != Shape{out.dim(1)})
      throw ValueError("class_weight: expected one weight per class (" + std::to_string(out.dim(1)) + "), got " +
                       shape_str(spec.class_weight.shape()));
    term.class_weight = spec.class_weight;
  }
  if (sparse) {
    if (out.ndim() != 2) throw ValueError("sparse categorical cross-entropy: expected outputs (batch, classes), got " +
                                          shape_str(out.shape()));
    term.labels = p.buffer({p.batch}, DType::Int32);
    p.need_workspace(kernels::softmax_cross_entropy_workspace(p.device, p.batch));
  } else {  // targets per sample as one row, however the output is shaped (the feed flattens them so)
    term.labels = p.buffer({p.batch, out.numel() / p.batch});
    p.need_workspace(loss == PlanLoss::Point ? kernels::point_loss_workspace(p.device)
                                             : kernels::binary_cross_entropy_workspace(p.device));
  }
  if (std::any_of(metrics.begin(), metrics.end(), [](const PlanMetric& m) { return !m.accuracy; }))
    p.need_workspace(kernels::point_loss_workspace(p.device));
  term.metric_values = p.buffer({std::max<int64_t>(static_cast<int64_t>(metrics.size()), 1)});
  if (p.training) {
    term.grad_slot = gradient_slot(p, output);
  } else {  // the loss writes a gradient nothing reads
    if (!p.grads[output].defined()) p.grads[output] = p.placeholder(out.shape(), &p.grad_buffer[output]);
    term.grad_slot = 0;
  }
  term.grad = gradient_in_slot(p, output, term.grad_slot);
  // Probabilities are read back to the host each step, which a recorded graph cannot do.
  if (loss == PlanLoss::SparseCategoricalProbabilities) p.graph_state = Impl::GraphState::Off;
  term.value = p.buffer({});
  p.losses.push_back(std::move(term));
}

// A regularizer's factors, checked as Keras checks them: finite and not negative.
void check_penalty(double l1, double l2) {
  ops::check_range("l1", l1, 0.0, INFINITY, false);
  ops::check_range("l2", l2, 0.0, INFINITY, false);
  ops::check_float32("l1", l1);
  ops::check_float32("l2", l2);
}

void TrainPlan::add_weight_penalty(const Tensor& param, double l1, double l2) {
  Impl& p = *impl_;
  if (p.workspace.defined()) throw ValueError("add_weight_penalty: the plan has run; penalties come before its first step");
  check_penalty(l1, l2);
  ops::check_float_on("param", param, p.device);
  if (p.is_frozen(param)) return;
  for (const Impl::Penalty& other : p.penalties)
    if (other.value < 0 && other.x.raw() == param.raw()) return;  // a shared layer's weight: once
  Impl::Penalty penalty;
  penalty.x = param;
  penalty.l1 = static_cast<float>(l1);
  penalty.l2 = static_cast<float>(l2);
  if (p.training) {
    const auto found = std::find_if(p.params.begin(), p.params.end(), [&](const Tensor& t) { return t.raw() == param.raw(); });
    if (found == p.params.end()) throw ValueError("add_weight_penalty: the tensor is not a parameter of the plan's layers");
    penalty.param = static_cast<size_t>(found - p.params.begin());
  }
  p.need_workspace(kernels::weight_penalty_workspace(p.device));
  p.penalties.push_back(std::move(penalty));
}

void TrainPlan::add_activity_penalty(int64_t value, double l1, double l2) {
  Impl& p = *impl_;
  if (p.workspace.defined()) throw ValueError("add_activity_penalty: the plan has run; penalties come before its first step");
  check_penalty(l1, l2);
  const auto writer = std::find_if(p.nodes.begin(), p.nodes.end(), [&](const auto& n) { return n->out == value; });
  if (writer == p.nodes.end())
    throw ValueError("add_activity_penalty: no layer's value " + std::to_string(value) + " in a plan of " +
                     std::to_string(p.values.size()) + " values");
  Impl::Penalty penalty;
  penalty.x = p.values[value];
  penalty.value = value;
  penalty.l1 = static_cast<float>(l1);
  penalty.l2 = static_cast<float>(l2);
  penalty.scale = 1.0f / static_cast<float>(p.batch);
  if (p.training) {
    penalty.grad_slot = gradient_slot(p, value);
    penalty.grad = gradient_in_slot(p, value, penalty.grad_slot);
  }
  p.need_workspace(kernels::weight_penalty_workspace(p.device));
  p.penalties.push_back(std::move(penalty));
}

void TrainPlan::set_outputs(const std::vector<int64_t>& values) {
  Impl& p = *impl_;
  if (p.workspace.defined()) throw ValueError("set_outputs: the plan has run; outputs are set before its first step");
  if (values.empty()) throw ValueError("set_outputs: expected at least one value");
  for (const int64_t v : values)
    if (v < 0 || v >= static_cast<int64_t>(p.values.size()))
      throw ValueError("set_outputs: no value " + std::to_string(v) + " in a plan of " +
                       std::to_string(p.values.size()) + " values");
  p.outputs = values;
}

void TrainPlan::set_optimizer(const std::string& name, std::map<std::string, double> hyper,
                              const std::vector<std::vector<Tensor>>& slots) {
  Impl& p = *impl_;
  if (!p.training) throw ValueError("set_optimizer: an inference plan has no optimizer");
  if (p.workspace.defined()) throw ValueError("set_optimizer: the plan has run; the optimizer comes before its first step");
  bool global = false;  // global_clipnorm: the norm of all the gradients together
  if (const auto it = hyper.find("global_clipnorm"); it != hyper.end()) {
    if (hyper.count("clipnorm")) throw ValueError("clipnorm and global_clipnorm: give one of them, not both");
    hyper["clipnorm"] = it->second;
    hyper.erase("global_clipnorm");
    global = true;
  }
  GtOptimizerParams o = ops::optimizer_params(name, std::move(hyper));
  if (o.clipnorm > 0.0f && o.clipvalue > 0.0f) throw ValueError("clipnorm and clipvalue: give one of them, not both");
  o.step = p.step_scalars();
  const std::array<bool, 3> keeps = ops::optimizer_slots(o);
  if (slots.size() != 3) throw ValueError("slots: expected three lists (s0, s1, s2; empty where not kept)");
  for (size_t k = 0; k < 3; ++k)
    if (keeps[k]) check_same_extent(("slots[" + std::to_string(k) + "]").c_str(), slots[k], p.params);
  p.optimizer = o;
  p.optimizer_factors = o.kind == GT_OPTIMIZER_ADAM || o.kind == GT_OPTIMIZER_ADAMAX || o.kind == GT_OPTIMIZER_NADAM;
  const bool clip_norm = o.clipnorm > 0.0f;
  const size_t count = p.params.size();
  Tensor norms;  // each gradient's squared norm, then (global) their sum
  if (clip_norm) {
    norms = p.buffer({static_cast<int64_t>(count + 1)});
    p.need_workspace(kernels::weight_penalty_workspace(p.device));
  }
  p.update = [&p, o, slots, keeps, clip_norm, global, norms, count]() {
    float* squares = clip_norm ? ptr(norms) : nullptr;
    if (clip_norm) {
      for (size_t i = 0; i < count; ++i)
        kernels::weight_penalty(p.device, p.param_grads[i].numel(), cptr(p.param_grads[i]), 0.0f, 1.0f, 1.0f, nullptr,
                                false, squares + i, p.ws());
      if (global)  // Σ|x| of the (non-negative) squares: the squared norm of all the gradients
        kernels::weight_penalty(p.device, static_cast<int64_t>(count), squares, 1.0f, 0.0f, 1.0f, nullptr, false,
                                squares + count, p.ws());
    }
    for (size_t i = 0; i < count; ++i) {
      GtOptimizerParams q = o;
      if (clip_norm) q.grad_sq_norm = squares + (global ? count : i);
      kernels::optimizer_update(p.device, p.params[i].numel(), ptr(p.params[i]), cptr(p.param_grads[i]),
                                keeps[0] ? ptr(slots[0][i]) : nullptr, keeps[1] ? ptr(slots[1][i]) : nullptr,
                                keeps[2] ? ptr(slots[2][i]) : nullptr, q);
    }
  };
}

// "x" for a plan of one input (or "y", one loss), else "x[i]": the argument a message names.
std::string nth(const char* name, size_t i, size_t count) {
  return count == 1 ? std::string(name) : std::string(name) + "[" + std::to_string(i) + "]";
}

void check_count(const char* name, size_t got, size_t expected, const char* what) {
  if (got != expected)
    throw ValueError(std::string(name) + ": expected " + std::to_string(expected) + " tensor(s), one per " + what +
                     ", got " + std::to_string(got));
}

void TrainPlan::load(const std::vector<Tensor>& xs, const std::vector<Tensor>& ys, int64_t iteration,
                     double learning_rate) {
  Impl& p = *impl_;
  if (!p.has_loss() || (p.training && !p.update))
    throw ValueError(p.training ? "step: the plan needs its loss and optimizer first"
                                : "evaluate: the plan needs its loss first");
  if (iteration < 1) throw ValueError("iteration: expected the 1-based optimizer step, got " + std::to_string(iteration));
  ops::check_float32("learning_rate", learning_rate);
  check_count("y", ys.size(), p.losses.size(), "loss");
  for (size_t k = 0; k < ys.size(); ++k) {
    const std::string name = nth("y", k, ys.size());
    const Tensor& labels = p.losses[k].labels;
    ops::check_same_device(name.c_str(), ys[k], "the plan", p.values[0]);
    ops::check_dtype(name.c_str(), ys[k], labels.dtype());
    if (ys[k].shape() != labels.shape())
      throw ValueError(name + ": expected shape " + shape_str(labels.shape()) + ", got " + shape_str(ys[k].shape()));
  }
  load_inputs(xs);
  for (size_t k = 0; k < ys.size(); ++k)
    kernels::copy_device(p.device, p.losses[k].labels.raw(), ys[k].raw(), ys[k].nbytes());
  GtStepScalars scalars{p.steps, static_cast<float>(learning_rate), 0.0f, {0.0f, 0.0f, 0.0f}};
  if (p.optimizer_factors) ops::optimizer_step_factors(p.optimizer, iteration, learning_rate, scalars.factors);
  kernels::write_step_scalars(p.device, p.step_scalars(), scalars);
  ++p.steps;
}

void TrainPlan::load_inputs(const std::vector<Tensor>& xs) {
  Impl& p = *impl_;
  check_count("x", xs.size(), p.inputs.size(), "input");
  for (size_t i = 0; i < xs.size(); ++i) {
    const std::string name = nth("x", i, xs.size());
    const Tensor& input = p.values[p.inputs[i]];
    if (xs[i].shape() != input.shape())
      throw ValueError(name + ": expected shape " + shape_str(input.shape()) + ", got " + shape_str(xs[i].shape()));
    ops::check_same_device(name.c_str(), xs[i], "the plan", input);
    if (xs[i].dtype() != DType::Float32 && xs[i].dtype() != DType::UInt8)
      throw TypeError(name + ": expected float32 or uint8, got " + dtype_name(xs[i].dtype()));
  }
  p.complete();
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& x = xs[i];
    const Tensor& input = p.values[p.inputs[i]];
    if (x.dtype() == DType::UInt8)
      kernels::cast_u8_f32(p.device, x.numel(), x.data<uint8_t>(), ptr(input));
    else
      kernels::copy_device(p.device, input.raw(), x.raw(), x.nbytes());
  }
}

void TrainPlan::step(const std::vector<Tensor>& xs, const std::vector<Tensor>& ys, int64_t iteration,
                     double learning_rate) {
  Impl& p = *impl_;
  if (!p.training) throw ValueError("step: an inference plan does not train (see evaluate and predict)");
  // Outside the graph: the batch's buffers differ from step to step (the feed's ring slots).
  load(xs, ys, iteration, learning_rate);
  const auto run = [this, &p] {
    for (size_t i = 0; i < p.nodes.size(); ++i) forward_node(i);
    loss();
    for (size_t i = p.nodes.size(); i-- > 0;) backward_node(i);
    update();
  };
  using State = Impl::GraphState;
  if (p.graph_state == State::Pending)  // nothing captured runs: the graph's first launch does it
    p.graph_state = p.graph.capture(p.device, run) ? State::Replaying : State::Failed;
  if (p.graph_state == State::Replaying)
    p.graph.launch();
  else
    run();
}

void TrainPlan::freeze(const Tensor& param) {
  Impl& p = *impl_;
  if (!p.nodes.empty()) throw ValueError("freeze: parameters are frozen before the layers are added");
  if (param.defined()) p.frozen.push_back(param.raw());
}

size_t TrainPlan::node_count() const { return impl_->nodes.size(); }

PlanNode& TrainPlan::node(size_t index) const {
  if (index >= impl_->nodes.size())
    throw ValueError("node " + std::to_string(index) + " of a plan of " + std::to_string(impl_->nodes.size()));
  return *impl_->nodes[index];
}

void TrainPlan::forward_node(size_t index) { node(index).forward(*impl_, impl_->training); }

void TrainPlan::backward_node(size_t index) {
  Impl& p = *impl_;
  if (!p.training) throw ValueError("backward_node: an inference plan has no gradients");
  PlanNode& n = node(index);
  // Every reader of the node's value ran its backward before this (readers come later in the plan).
  const Tensor& dy = p.grads[n.out];
  for (const Tensor& g : p.reader_grads[n.out]) kernels::accumulate(p.device, dy.numel(), cptr(g), ptr(dy));
  n.backward(p);
}

Tensor TrainPlan::node_output(size_t index) const { return impl_->values[node(index).out]; }

void TrainPlan::update() {
  Impl& p = *impl_;
  if (!p.training) throw ValueError("update: an inference plan has no optimizer");
  for (const auto& [i, g] : p.shared_param_grads)
    kernels::accumulate(p.device, g.numel(), cptr(g), ptr(p.param_grads[i]));
  for (const Impl::Penalty& penalty : p.penalties)
    if (penalty.value < 0)
      kernels::weight_penalty(p.device, penalty.x.numel(), cptr(penalty.x), penalty.l1, penalty.l2, 1.0f,
                              ptr(p.param_grads[penalty.param]), true, nullptr, p.ws());
  p.update();
}

void TrainPlan::loss() {
  Impl& p = *this->impl_;
  for (const Impl::LossTerm& term : p.losses) {
    const Tensor& out = p.values[term.output];
    const auto [rows, classes] = rows_cols(out);
    const bool sparse = term.kind == PlanLoss::SparseCategorical || term.kind == PlanLoss::SparseCategoricalProbabilities;
    switch (term.kind) {
      case PlanLoss::SparseCategorical:
        if (term.class_weight.defined()) {  // Keras: Σ w[label]·l / batch (not PyTorch's / Σ w)
          kernels::CrossEntropyOptions options;
          options.class_weight = cptr(term.class_weight);
          options.reduction = GT_REDUCTION_SUM;
          kernels::softmax_cross_entropy(p.device, rows, classes, cptr(out), term.labels.data<int32_t>(),
                                         ptr(term.value), ptr(term.grad), p.ws(), options);
          const float per_row = 1.0f / static_cast<float>(rows);
          kernels::strided_copy(p.device, "class_weight", flat_copy(out.numel(), per_row, false), cptr(term.grad),
                                ptr(term.grad));
          kernels::strided_copy(p.device, "class_weight", flat_copy(1, per_row, false), cptr(term.value),
                                ptr(term.value));
        } else {
          kernels::softmax_cross_entropy(p.device, rows, classes, cptr(out), term.labels.data<int32_t>(),
                                         ptr(term.value), ptr(term.grad), p.ws());
        }
        break;
      case PlanLoss::SparseCategoricalProbabilities:
        sparse_cross_entropy_on_probabilities(p, term);
        break;
      case PlanLoss::Point:
        kernels::point_loss(p.device, term.point, out.numel(), cptr(out), cptr(term.labels), term.param,
                            ptr(term.value), ptr(term.grad), p.ws());
        break;
      default:
        kernels::binary_cross_entropy(p.device, out.numel(), cptr(out), cptr(term.labels),
                                      term.kind == PlanLoss::BinaryLogits, ptr(term.value), ptr(term.grad), p.ws());
    }
    if (term.weight != 1.0f)  // the gradient of weight · loss (the sums keep the loss itself)
      kernels::strided_copy(p.device, "loss_weights", flat_copy(out.numel(), term.weight, false), cptr(term.grad),
                            ptr(term.grad));
    float* sums = ptr(p.sums) + term.first_sum;
    kernels::accumulate(p.device, 1, cptr(term.value), sums);
    kernels::mark_first_nonfinite(p.device, cptr(term.value), p.step_scalars(), p.first_nonfinite.data<int64_t>());
    for (size_t j = 0; j < term.metrics.size(); ++j) {
      const PlanMetric& m = term.metrics[j];
      if (m.accuracy && sparse) {
        kernels::count_argmax_hits(p.device, rows, classes, cptr(out), term.labels.data<int32_t>(), sums + 1 + j);
      } else if (m.accuracy) {  // logits: their sign; probabilities (and regression outputs): 0.5
        const float threshold = term.kind == PlanLoss::BinaryLogits ? 0.0f : 0.5f;
        kernels::count_threshold_hits(p.device, out.numel(), cptr(out), cptr(term.labels), threshold, sums + 1 + j);
      } else {
        float* value = ptr(term.metric_values) + j;
        kernels::point_loss(p.device, m.point, out.numel(), cptr(out), cptr(term.labels), 0.0f, value, nullptr, p.ws());
        kernels::accumulate(p.device, 1, value, sums + 1 + j);
      }
    }
  }
  // The regularizers' penalties; an activity penalty's gradient too (a weight penalty's is added to its
  // parameter's gradient in update(), once backward has written that).
  float* penalty_sum = ptr(p.sums) + (p.sums.numel() - 1);
  for (size_t k = 0; k < p.penalties.size(); ++k) {
    const Impl::Penalty& penalty = p.penalties[k];
    float* value = ptr(p.penalty_values) + k;
    kernels::weight_penalty(p.device, penalty.x.numel(), cptr(penalty.x), penalty.l1, penalty.l2, penalty.scale,
                            penalty.value >= 0 ? ptr(penalty.grad) : nullptr, false, value, p.ws());
    kernels::accumulate(p.device, 1, value, penalty_sum);
    kernels::mark_first_nonfinite(p.device, value, p.step_scalars(), p.first_nonfinite.data<int64_t>());
  }
}

std::vector<Tensor> TrainPlan::predict(const std::vector<Tensor>& xs) {
  Impl& p = *impl_;
  load_inputs(xs);
  if (p.training) {  // dropout draws this call's masks from the plan's step count
    kernels::write_step_scalars(p.device, p.step_scalars(), GtStepScalars{p.steps, 0.0f, 0.0f, {0.0f, 0.0f, 0.0f}});
    ++p.steps;
  }
  for (size_t i = 0; i < p.nodes.size(); ++i) forward_node(i);
  std::vector<Tensor> outputs;
  for (const int64_t v : p.output_values()) outputs.push_back(p.values[v].to(p.device, /*copy=*/true));
  return outputs;
}

void TrainPlan::evaluate(const std::vector<Tensor>& xs, const std::vector<Tensor>& ys) {
  Impl& p = *impl_;
  if (p.training) throw ValueError("evaluate: a training plan does not evaluate (build one with training=False)");
  load(xs, ys, 1, 0.0);
  for (size_t i = 0; i < p.nodes.size(); ++i) forward_node(i);
  loss();
}

std::vector<double> TrainPlan::metrics() const {
  const Impl& p = *impl_;
  if (!p.sums.defined()) return {};
  const Tensor host = p.sums.to(Device{});
  return std::vector<double>(host.data<float>(), host.data<float>() + host.numel());
}

void TrainPlan::reset_metrics() {
  Impl& p = *impl_;
  if (!p.sums.defined()) return;
  kernels::fill_zero(p.device, p.sums.raw(), p.sums.nbytes());
  kernels::fill_zero(p.device, p.first_nonfinite.raw(), p.first_nonfinite.nbytes());
  p.steps_at_reset = p.steps;
}

int64_t TrainPlan::first_nonfinite_step() const {
  const Impl& p = *impl_;
  if (!p.first_nonfinite.defined()) return -1;
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

bool TrainPlan::training() const { return impl_->training; }
int64_t TrainPlan::batch() const { return impl_->batch; }
const Device& TrainPlan::device() const { return impl_->device; }
std::vector<Shape> TrainPlan::output_shapes() const {
  std::vector<Shape> shapes;
  for (const int64_t v : impl_->output_values()) shapes.push_back(impl_->values[v].shape());
  return shapes;
}
std::vector<Tensor> TrainPlan::parameters() const { return impl_->params; }
std::vector<Tensor> TrainPlan::gradients() const { return impl_->param_grads; }
size_t TrainPlan::buffer_bytes() const { return impl_->held; }

}  // namespace gt
