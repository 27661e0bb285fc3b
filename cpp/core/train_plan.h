// The one executor of a model at one batch size: a graph of layer nodes (cpp/core/plan_nodes.cpp), each
// layer kind's forward and backward written once there, plus a loss and an optimizer. Every activation,
// gradient and workspace buffer is allocated once, when the plan is complete (its first step), values
// and gradients in one arena where buffers whose lifetimes in the step do not overlap share memory. A
// training step launches a fixed list of kernels (input conversion, forward, loss, metrics, backward,
// optimizer) with no Python between them, or the same nodes one call at a time (run eagerly, for
// debugging); an inference plan (predict, evaluate) runs the same nodes' forward with training off. The
// loss and the accuracy count are summed on the device, so a step never waits for the device; metrics()
// reads the sums when asked. Values are numbered: 0 is the plan's first input (further inputs are
// values too), each node reads earlier values and writes a new one, so the graph is directed and
// acyclic by construction. A value read by several nodes gets the sum of their gradients, and a
// parameter used by several nodes (a shared layer) the sum of its uses'.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/nn_ops.h"
#include "core/tensor.h"

namespace gt {

// A layer's output activation: one of core/activations.h's element-wise list (GT_ACTIVATION_NONE: none),
// or softmax over the last axis.
struct PlanActivation {
  GtActivation elementwise = GT_ACTIVATION_NONE;
  bool softmax = false;
  static PlanActivation none() { return {}; }
  static PlanActivation of(GtActivation kind) { return {kind, false}; }
  static PlanActivation softmax_over_rows() { return {GT_ACTIVATION_NONE, true}; }
  bool is_none() const { return !softmax && elementwise == GT_ACTIVATION_NONE; }
  bool operator==(const PlanActivation& o) const { return elementwise == o.elementwise && softmax == o.softmax; }
  bool operator!=(const PlanActivation& o) const { return !(*this == o); }
};
// SparseCategorical: int32 labels (batch,), logits (or a fused softmax) over the last axis.
// SparseCategoricalProbabilities: the same labels against probabilities no softmax of the plan produced
// (computed on the host: such a plan is never recorded as a graph).
// BinaryLogits / BinaryProbabilities: float32 targets shaped like the output.
// Point: one of Keras's element-wise losses (core/point_losses.h), float32 targets shaped like the output.
enum class PlanLoss { SparseCategorical, SparseCategoricalProbabilities, BinaryLogits, BinaryProbabilities, Point };

// The loss of a term: its kind, and for Point which element-wise loss (a GtPointLoss) with its parameter
// (Huber's delta).
struct PlanLossSpec {
  PlanLoss kind = PlanLoss::SparseCategorical;
  int point = -1;
  double param = 0.0;
  // Keras's class_weight for sparse labels (SparseCategorical only): float32 (classes,) on the plan's
  // device; the loss becomes Σ w[label_i]·l_i / batch and its gradient likewise. Undefined: none.
  Tensor class_weight;
};

// What a loss term counts on its output besides its loss (Keras's metrics): correct predictions
// (accuracy: the first maximum against sparse labels; the sign, or 0.5 for probabilities, against binary
// targets), or the mean of an element-wise loss (point: a GtPointLoss; mae, mse, ...) against the targets.
struct PlanMetric {
  bool accuracy = true;
  int point = -1;
};

class TrainPlan {
 public:
  // `sample_shape` excludes the batch; x may be given as float32 or uint8 (converted on the device).
  // With `graphs` on a GPU, the first step records its kernels as a graph that later steps replay.
  // Without `training`, an inference plan: no gradients or optimizer, dropout passes its input through
  // and batch normalisation uses its moving statistics.
  // With `reuse_memory`, buffers whose lifetimes in the step do not overlap share memory (a value no
  // later kernel reads is overwritten: node_output shows it only until then); without, every value
  // keeps its own buffer.
  TrainPlan(const Device& device, int64_t batch, const Shape& sample_shape, bool graphs = true,
            bool training = true, bool reuse_memory = true);
  ~TrainPlan();
  TrainPlan(const TrainPlan&) = delete;
  TrainPlan& operator=(const TrainPlan&) = delete;

  // A parameter of a frozen layer (Keras's trainable = False), before the layers are added: the optimizer
  // leaves it alone, and a batch normalisation whose gamma is frozen runs in inference mode (its moving
  // statistics normalise, and stay as they are), as Keras's does.
  void freeze(const Tensor& param);

  // Layers in an order where each comes after the layer whose output it reads: `input` is a value
  // returned by an earlier add_* (0: the plan's input; -1: the last value added); each returns the value
  // it writes. Parameters are the model's own tensors, updated in place (never copies).
  int64_t add_dense(const Tensor& kernel, const Tensor& bias, PlanActivation activation, int64_t input = -1);
  // Keras's Conv2D: kernel (kh, kw, in/groups, out), taps `dilation` apart, in `groups` groups.
  int64_t add_conv2d(const Tensor& kernel, const Tensor& bias, ops::Pair strides, const std::string& padding,
                     PlanActivation activation, int64_t input = -1, ops::Pair dilation = {1, 1},
                     int64_t groups = 1);
  int64_t add_pool2d(GtPoolKind kind, ops::Pair pool_size, ops::Pair strides, const std::string& padding,
                     int64_t input = -1);
  int64_t add_global_avg_pool2d(int64_t input = -1);
  int64_t add_flatten(int64_t input = -1);
  // Each step draws its mask from splitmix64(seed + step number): the one seeding rule.
  int64_t add_dropout(double rate, uint64_t seed, int64_t input = -1);
  int64_t add_batch_norm(const Tensor& gamma, const Tensor& beta, const Tensor& moving_mean,
                         const Tensor& moving_var, double momentum, double epsilon, int64_t input = -1);
  int64_t add_activation(PlanActivation activation, int64_t input = -1);
  // A view of the input with another sample shape (no kernel runs).
  int64_t add_reshape(const Shape& sample_shape, int64_t input = -1);
  // factor · the input (a layer's building block: LeakyReLU is max(x, slope·x)).
  int64_t add_scale(double factor, int64_t input = -1);
  // Merging layers over values of one shape: "add", "subtract" (two inputs), "average", and (two inputs
  // or more) "multiply", "maximum", "minimum".
  int64_t add_merge(const std::string& kind, const std::vector<int64_t>& inputs);
  // Along `axis` of the values (with the batch as axis 0; negative counts from the end), which agree
  // on every other axis.
  int64_t add_concatenate(const std::vector<int64_t>& inputs, int64_t axis);
  // Keras's Conv2DTranspose: kernel (kh, kw, filters, input channels), TensorFlow's output sizes.
  int64_t add_conv2d_transpose(const Tensor& kernel, const Tensor& bias, ops::Pair strides,
                               const std::string& padding, PlanActivation activation, int64_t input = -1);
  // UpSampling2D with nearest interpolation: each cell repeated size[0] x size[1] times.
  int64_t add_upsample_nearest2d(ops::Pair size, int64_t input = -1);
  // UpSampling2D with bilinear interpolation: TensorFlow's tf.image.resize "bilinear" (half-pixel centres).
  int64_t add_upsample_bilinear2d(ops::Pair size, int64_t input = -1);
  // Keras's PReLU: x where x > 0, else alpha·x; alpha has the sample shape with each shared axis 1.
  int64_t add_prelu(const Tensor& alpha, int64_t input = -1);
  // Keras's Permute: `dims` a permutation of the sample axes 1..rank (the batch stays first).
  int64_t add_permute(const std::vector<int64_t>& dims, int64_t input = -1);
  // ZeroPadding2D (padding) or Cropping2D: `sides` = (top, bottom, left, right) rows and columns.
  int64_t add_border2d(bool padding, const std::vector<int64_t>& sides, int64_t input = -1);
  // Keras's DepthwiseConv2D: kernel (kh, kw, c, depth_multiplier), taps `dilation` apart.
  int64_t add_depthwise_conv2d(const Tensor& kernel, const Tensor& bias, ops::Pair strides,
                               const std::string& padding, ops::Pair dilation, PlanActivation activation,
                               int64_t input = -1);

  // A further input of the plan (the constructor's `sample_shape` is the first), before any layer:
  // its value. step, evaluate and predict take one tensor per input, in the order they were added.
  int64_t add_input(const Shape& sample_shape);

  // A term of the loss, on value `output` (-1: the last one added), after the layers: the step's loss
  // is the weighted sum of the terms (Keras's loss_weights), each term's mean and metrics kept apart
  // in metrics(). With fuse_activation, the output layer's softmax (sparse cross-entropy) or sigmoid
  // (binary, then given as BinaryLogits) is computed inside the loss from the logits, as Keras does;
  // the accuracy is read from the logits, where argmax and sign agree with it. A value other layers
  // also read gets the sum of their gradients and the loss's (its activation cannot be fused then).
  void add_loss(const PlanLossSpec& loss, bool fuse_activation, int64_t output = -1, double weight = 1.0,
                const std::vector<PlanMetric>& metrics = {PlanMetric{}});
  // The values predict returns, in order (by default the loss terms', else the last value).
  void set_outputs(const std::vector<int64_t>& values);
  // Keras's regularizers, each adding to the step's loss and its gradient to what it reads. A weight
  // penalty (kernel_regularizer, bias_regularizer) is l1·Σ|p| + l2·Σp² on a parameter of the plan, once
  // however many nodes use it, none on a frozen one (Keras counts trainable weights); an activity
  // penalty (activity_regularizer) is the same of value `value`, divided by the batch.
  void add_weight_penalty(const Tensor& param, double l1, double l2);
  void add_activity_penalty(int64_t value, double l1, double l2);
  // Optimizer state, one tensor per trainable parameter in parameters() order (the model's slots).
  // Any optimizer of optimizer_update (core/optimizer_params.h: name and hyper-parameters, plus
  // global_clipnorm), with its slots s0, s1, s2 as three lists of one tensor per parameter (a list the
  // configuration does not keep may be empty).
  void set_optimizer(const std::string& name, std::map<std::string, double> hyper,
                     const std::vector<std::vector<Tensor>>& slots);

  // One training step on xs (one (batch, sample...) tensor per input) and ys (one per loss term) on the
  // plan's device; `iteration` is the 1-based optimizer step. Sparse labels must already be known to
  // lie in [0, classes) (the feed checks them on the host, where they come from). The same as load(),
  // then every node's forward, loss(), every node's backward in reverse and update(), which a caller
  // may also run one at a time.
  void step(const std::vector<Tensor>& xs, const std::vector<Tensor>& ys, int64_t iteration, double learning_rate);
  void load(const std::vector<Tensor>& xs, const std::vector<Tensor>& ys, int64_t iteration, double learning_rate);
  size_t node_count() const;
  void forward_node(size_t index);
  void loss();
  void backward_node(size_t index);
  void update();
  // The value a node wrote in the last forward (a view of the plan's buffer, overwritten by the next).
  Tensor node_output(size_t index) const;

  // The model's outputs for xs (new tensors on the plan's device): in an inference plan, or in a
  // training plan with training's forward (dropout's masks, batch statistics that also update the
  // moving ones), as Keras's model(x, training=True).
  std::vector<Tensor> predict(const std::vector<Tensor>& xs);
  // Inference plans: the losses and accuracies of xs against ys added to metrics().
  void evaluate(const std::vector<Tensor>& xs, const std::vector<Tensor>& ys);

  // Per loss term, in order: the sum of its steps' mean losses (unweighted), then one sum per metric
  // (correct predictions, or the steps' means of an element-wise loss); then the sum of the steps'
  // penalties (regularizers); since reset_metrics(). Empty before the first step; reading waits for the
  // device.
  std::vector<double> metrics() const;
  void reset_metrics();
  // Which of this plan's steps since reset_metrics() (0 for the first) was the first whose loss was NaN
  // or infinite, or -1; reading waits for the device.
  int64_t first_nonfinite_step() const;

  // "off" (the CPU, or graphs not asked for), "pending" (before the first step), "replaying", or
  // "failed" (the runtime refused the capture; steps launch their kernels one by one, graph_failure()
  // says why).
  std::string graph_state() const;
  std::string graph_failure() const;

  bool training() const;
  int64_t batch() const;
  const Device& device() const;
  std::vector<Shape> output_shapes() const;   // predict's, with the batch
  std::vector<Tensor> parameters() const;     // trainable, in model order
  std::vector<Tensor> gradients() const;      // of the last step, same order
  size_t buffer_bytes() const;                // device memory the plan holds

  struct Impl;

 private:
  void load_inputs(const std::vector<Tensor>& xs);
  struct PlanNode& node(size_t index) const;  // checked: a ValueError past the last
  std::unique_ptr<Impl> impl_;
};

}  // namespace gt
