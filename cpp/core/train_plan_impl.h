// The state of a training plan, shared by its executor (train_plan.cpp) and its layer nodes
// (plan_nodes.cpp): value and gradient buffers by value number, the parameters, one workspace and one
// scratch buffer for every kernel in turn, and the step scalars a recorded graph reads.
#pragma once
#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "core/step_graph.h"
#include "core/train_plan.h"

namespace gt {

inline const float* cptr(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }
inline float* ptr(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

// A whole-buffer strided copy: `n` floats, scaled, written or added.
inline GtStridedCopy flat_copy(int64_t n, float scale, bool accumulate) {
  return GtStridedCopy{1, 1, n, 0, 0, 0, 0, scale, accumulate ? 1 : 0};
}

inline Shape with_batch(int64_t batch, const Shape& sample) {
  Shape s{batch};
  s.insert(s.end(), sample.begin(), sample.end());
  return s;
}

// (rows, cols) over the last axis of a value buffer.
inline std::pair<int64_t, int64_t> rows_cols(const Tensor& t) {
  const int64_t cols = t.dim(t.ndim() - 1);
  return {cols > 0 ? t.numel() / cols : 0, cols};
}

// A layer of the graph: reads values `ins` (one for most layers), writes value `out`. Backward reads
// grads[out] and writes each input's gradient into dins[i]: the value's own gradient buffer for its
// first reader, a buffer of the reader's own for later readers (the executor sums those into the
// value's gradient before the value's producer runs backward), undefined where no gradient is needed
// (the plan's input, inference plans).
struct PlanNode {
  std::vector<int64_t> ins;
  int64_t out = 0;
  std::vector<Tensor> dins;
  std::vector<int> din_slots;  // each din: -1 none, 0 the input's own gradient, j + 1 its reader_grads[j]
  int64_t in() const { return ins.front(); }
  virtual ~PlanNode() = default;
  virtual void forward(TrainPlan::Impl& p, bool training) = 0;
  virtual void backward(TrainPlan::Impl& p) = 0;
  // What backward reads of the forward's values, which memory planning keeps alive until then. The
  // defaults keep both; a node that reads neither says so and lets their buffers be reused.
  virtual bool backward_reads_inputs() const { return true; }
  virtual bool backward_reads_output() const { return true; }
  // The loss takes over this node's output activation (see TrainPlan::add_loss); false if it has none.
  virtual bool drop_activation(PlanActivation) { return false; }
};

struct TrainPlan::Impl {
  Device device;
  int64_t batch = 0;
  bool training = true;
  std::vector<Tensor> values, grads;  // by value number; values[0] is the plan's float32 input
  std::vector<int> readers;           // nodes reading each value
  // By value: the gradients written by its second and later readers, summed into grads[value] before
  // the backward of the node that wrote the value.
  std::vector<std::vector<Tensor>> reader_grads;
  std::vector<std::unique_ptr<PlanNode>> nodes;
  std::vector<Tensor> params, param_grads;
  // A parameter used by several nodes (a shared layer): the gradient of each later use, by index into
  // params, summed into param_grads before the optimizer's update.
  std::vector<std::pair<size_t, Tensor>> shared_param_grads;
  // Parameters of frozen layers (by address): their gradients are computed into buffers of their own,
  // for nothing to update; a frozen batch normalisation runs in inference mode, as Keras's does.
  std::vector<const void*> frozen;
  bool is_frozen(const Tensor& t) const {
    return t.defined() && std::find(frozen.begin(), frozen.end(), t.raw()) != frozen.end();
  }
  size_t workspace_floats = 0, scratch_floats = 0;
  Tensor workspace, scratch;  // allocated when the plan is complete
  std::vector<int64_t> inputs{0};  // the values the plan's inputs are copied into, in load()'s order
  // One term of the step's loss: `kind` on value `output` against `labels`, times `weight`. It writes
  // the output's gradient (`grad`: the value's own for its first reader, else a reader gradient of its
  // own, summed in like a layer's; in an inference plan a buffer nothing reads) and its mean over the
  // batch into `value`.
  struct LossTerm {
    PlanLoss kind = PlanLoss::SparseCategorical;
    int point = -1;      // kind Point: the GtPointLoss
    float param = 0.0f;  // its parameter
    int64_t output = 0;
    float weight = 1.0f;
    std::vector<PlanMetric> metrics;
    size_t first_sum = 0;  // where its sums start: the loss, then one per metric
    Tensor labels, value, grad;
    Tensor class_weight;   // PlanLossSpec's, or undefined
    Tensor metric_values;  // this step's mean of each element-wise metric
    int grad_slot = -1;  // where grad is among the output's gradients (see gradient_slot)
  };
  std::vector<LossTerm> losses;
  bool has_loss() const { return !losses.empty(); }
  // A regularizer: l1·Σ|x| + l2·Σx², times scale, on a parameter (value -1; `param` its index among the
  // trainable ones in a training plan) or on value `value` (its gradient written in its reader slot).
  struct Penalty {
    Tensor x;
    int64_t value = -1;
    size_t param = SIZE_MAX;
    float l1 = 0.0f, l2 = 0.0f, scale = 1.0f;
    Tensor grad;
    int grad_slot = -1;
  };
  std::vector<Penalty> penalties;
  Tensor penalty_values;  // one float per penalty, this step's
  // Since the reset, per loss term its sum of mean losses and one sum per metric, then the sum of the
  // penalties; allocated when the plan is complete.
  Tensor sums;
  Tensor first_nonfinite;  // int64: 1 + the step whose loss was first NaN or infinite since the reset, or 0
  std::vector<int64_t> outputs;  // what predict returns: set_outputs', else the losses' values, else the last
  uint64_t steps_at_reset = 0;
  std::function<void()> update;  // reads the learning rate and the factors from the step scalars
  GtOptimizerParams optimizer{};  // set_optimizer's, for its per-step factors
  bool optimizer_factors = false;
  uint64_t steps = 0;
  Tensor scalars;  // one GtStepScalars, in the device's memory

  enum class GraphState { Off, Pending, Replaying, Failed };
  GraphState graph_state = GraphState::Off;
  StepGraph graph;

  GtStepScalars* step_scalars() const { return static_cast<GtStepScalars*>(scalars.raw()); }
  float* ws() const { return workspace.data<float>(); }

  size_t held = 0;
  Tensor buffer(const Shape& shape, DType dtype = DType::Float32) {
    Tensor t = Tensor::empty(shape, dtype, device);
    held += t.nbytes();
    return t;
  }

  // Memory planning. Value and gradient buffers (besides the plan's input) are placeholders, shapes
  // without memory, until complete() places them in one arena by their lifetimes over the step
  // (plan_memory.h); with reuse_memory off each gets its own place, as for inspecting every value.
  bool reuse_memory = true;
  std::vector<Shape> planned;                        // the planned buffers' shapes
  std::vector<int> value_buffer, grad_buffer;        // by value: its planned buffer, or -1
  std::vector<std::vector<int>> reader_grad_buffer;  // parallel to reader_grads
  Tensor placeholder(const Shape& shape, int* index) {
    planned.push_back(shape);
    *index = static_cast<int>(planned.size()) - 1;
    return Tensor::borrow(nullptr, shape, DType::Float32, device, nullptr);
  }
  void place_buffers();  // complete()'s planning: lifetimes, offsets, the arena, the buffers rebound
  void need_workspace(size_t floats) { workspace_floats = std::max(workspace_floats, floats); }
  void need_scratch(int64_t floats) { scratch_floats = std::max(scratch_floats, static_cast<size_t>(floats)); }

  // The value a new node reads (`input` as given to add_*: -1 for the last value), checked.
  const Tensor& input(int64_t& input);
  // Adds a node that reads values `ins` and writes a new value of `out_sample` shape (with the batch);
  // returns its number.
  int64_t push(std::unique_ptr<PlanNode> node, std::vector<int64_t> ins, const Shape& out_sample);
  int64_t push(std::unique_ptr<PlanNode> node, int64_t in, const Shape& out_sample) {
    return push(std::move(node), std::vector<int64_t>{in}, out_sample);
  }
  // Adds a value that is a view of value `in`'s buffer (a reshape): no kernel writes it, and its
  // gradient is a view of the gradient the node writes for `in`.
  int64_t push_view(std::unique_ptr<PlanNode> node, int64_t in, const Shape& shape);
  // The values predict returns.
  std::vector<int64_t> output_values() const {
    if (!outputs.empty()) return outputs;
    std::vector<int64_t> read;
    for (const LossTerm& term : losses) read.push_back(term.output);
    if (read.empty()) read.push_back(static_cast<int64_t>(values.size()) - 1);
    return read;
  }
  // A trainable parameter and its gradient buffer (none in an inference plan); the gradient.
  Tensor add_param(const Tensor& param, const char* name);
  void complete();  // allocates the shared buffers once every node is known
};

}  // namespace gt
