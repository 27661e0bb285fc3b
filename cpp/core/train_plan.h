// A compiled training step for a Sequential model at one batch size: every activation, gradient and
// workspace buffer is allocated once when the plan is built, and step() launches a fixed list of kernels
// (input conversion, forward, loss, metrics, backward, optimizer) with no Python between them. The loss
// and the accuracy count are summed on the device, so a step never waits for the device; metrics() reads
// the sums when the caller reports them.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/nn_ops.h"
#include "core/tensor.h"

namespace gt {

enum class PlanActivation { None, Relu, Sigmoid, Softmax };
// SparseCategorical: int32 labels (batch,), logits (or a fused softmax) over the last axis.
// BinaryLogits / BinaryProbabilities: float32 targets shaped like the output.
enum class PlanLoss { SparseCategorical, BinaryLogits, BinaryProbabilities };

class TrainPlan {
 public:
  // `sample_shape` excludes the batch; x may be given as float32 or uint8 (converted on the device).
  // With `graphs` on a GPU, the first step records its kernels as a graph that later steps replay.
  TrainPlan(const Device& device, int64_t batch, const Shape& sample_shape, bool graphs = true);
  ~TrainPlan();
  TrainPlan(const TrainPlan&) = delete;
  TrainPlan& operator=(const TrainPlan&) = delete;

  // Layers in model order. Parameters are the model's own tensors, updated in place (never copies).
  void add_dense(const Tensor& kernel, const Tensor& bias, PlanActivation activation);
  void add_conv2d(const Tensor& kernel, const Tensor& bias, ops::Pair strides, const std::string& padding,
                  PlanActivation activation);
  void add_pool2d(GtPoolKind kind, ops::Pair pool_size, ops::Pair strides, const std::string& padding);
  void add_global_avg_pool2d();
  void add_flatten();
  // Each step draws its mask from splitmix64(seed + step number).
  void add_dropout(double rate, uint64_t seed);
  void add_batch_norm(const Tensor& gamma, const Tensor& beta, const Tensor& moving_mean,
                      const Tensor& moving_var, double momentum, double epsilon);
  void add_activation(PlanActivation activation);

  // The loss on the last layer's output. With fuse_activation, the last layer's softmax (sparse
  // cross-entropy) or sigmoid (binary, then given as BinaryLogits) is computed inside the loss from the
  // logits, as Keras does; the accuracy is read from the logits, where argmax and sign agree with it.
  void set_loss(PlanLoss loss, bool fuse_activation);
  // Optimizer state, one tensor per trainable parameter in parameters() order (the model's slots).
  void set_sgd(double momentum, bool nesterov, const std::vector<Tensor>& velocities);
  void set_adam(double beta_1, double beta_2, double epsilon, const std::vector<Tensor>& m,
                const std::vector<Tensor>& v);
  void set_rmsprop(double rho, double momentum, double epsilon, bool centered,
                   const std::vector<Tensor>& velocities, const std::vector<Tensor>& momentum_buffers,
                   const std::vector<Tensor>& average_grads);

  // One training step on x (batch, sample...) and y on the plan's device; `iteration` is the 1-based
  // optimizer step. Sparse labels must already be known to lie in [0, classes) (the feed checks them
  // on the host, where they come from).
  void step(const Tensor& x, const Tensor& y, int64_t iteration, double learning_rate);

  // (sum of the steps' mean losses, number of correct predictions) since reset_metrics(); reading
  // waits for the device.
  std::pair<double, double> metrics() const;
  void reset_metrics();
  // Which of this plan's steps since reset_metrics() (0 for the first) was the first whose loss was NaN
  // or infinite, or -1; reading waits for the device.
  int64_t first_nonfinite_step() const;

  // "off" (the CPU, or graphs not asked for), "pending" (before the first step), "replaying", or
  // "failed" (the runtime refused the capture; steps launch their kernels one by one, graph_failure()
  // says why).
  std::string graph_state() const;
  std::string graph_failure() const;

  int64_t batch() const;
  const Device& device() const;
  Shape output_shape() const;                 // with the batch
  std::vector<Tensor> parameters() const;     // trainable, in model order
  std::vector<Tensor> gradients() const;      // of the last step, same order
  size_t buffer_bytes() const;                // device memory the plan holds

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace gt
