// Device-neutral kernel calls: each runs its entry of the device's backend table (the CPU's, CUDA's or
// HIP's; see core/op_list.h) on raw pointers, with no argument checks and no allocation. Both users
// check and allocate before calling: the op dispatch (nn_*.cpp) per call, and the training plan
// (train_plan.cpp) once at build time, so its steps launch a fixed list of kernels on fixed buffers.
// Workspaces are passed in; the *_workspace functions give their size in floats (0 on the CPU). A
// failure raises the table's error naming the backend and the op. GPU work goes to the calling thread's
// current stream: the compute stream, or the capture stream of a training step being recorded as a
// graph (StreamScope).
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/device.h"
#include "core/op_params.h"

namespace gt::kernels {

// The stream this thread's GPU kernel calls enqueue on (null: the device's compute stream).
void* current_stream();
// Sets the current stream for this thread until the scope ends.
class StreamScope {
 public:
  explicit StreamScope(void* stream);
  ~StreamScope();
  StreamScope(const StreamScope&) = delete;
  StreamScope& operator=(const StreamScope&) = delete;

 private:
  void* previous_;
};

// ---- GEMM family ----
size_t gemm_workspace(const Device& device, int64_t m, int64_t n, int64_t k);
// Row-major C[m,n] = act(op(A)·op(B) (+ C) (+ bias)), see cpp/cpu/gemm.h.
void gemm(const Device& device, const char* what, bool trans_a, bool trans_b, int64_t m, int64_t n,
          int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
          bool accumulate, const float* bias, GtActivation activation, float* workspace);
size_t column_sums_workspace(const Device& device, int64_t cols);
void column_sums(const Device& device, const char* what, const float* a, int64_t rows, int64_t cols,
                 float* sums, float* workspace);

// ---- convolution ----
void conv2d_forward(const Device& device, const GtWindow2d& g, int64_t k, const float* x, const float* w,
                    const float* bias, GtActivation activation, float* y);
void conv2d_backward_data(const Device& device, const GtWindow2d& g, int64_t k, const float* dy,
                          const float* w, float* dx);
// The filter gradient and the bias gradient (column sums of dy) together.
size_t conv2d_backward_filter_workspace(const Device& device, const GtWindow2d& g, int64_t k);
void conv2d_backward_filter(const Device& device, const GtWindow2d& g, int64_t k, const float* x,
                            const float* dy, float* dw, float* dbias, float* workspace);

// ---- depthwise convolution (GtDepthwise2d) ----
void depthwise_conv2d_forward(const Device& device, const GtDepthwise2d& d, const float* x, const float* w,
                              const float* bias, GtActivation activation, float* y);
void depthwise_conv2d_backward_data(const Device& device, const GtDepthwise2d& d, const float* dy,
                                    const float* w, float* dx);
// The filter gradient and the bias gradient (column sums of dy; dbias may be null) together.
size_t depthwise_conv2d_backward_filter_workspace(const Device& device, const GtDepthwise2d& d);
void depthwise_conv2d_backward_filter(const Device& device, const GtDepthwise2d& d, const float* x,
                                      const float* dy, float* dw, float* dbias, float* workspace);

// ---- pooling ----
// y and, for max, each window's first maximum (argmax: window-local i·kw + j, one int32 per output);
// either may be null, not both.
void pool2d_forward(const Device& device, const GtWindow2d& g, GtPoolKind kind, const float* x, float* y,
                    int32_t* argmax = nullptr);
// dx from dy through the argmax of the forward.
void max_pool2d_backward(const Device& device, const GtWindow2d& g, const float* dy, const int32_t* argmax,
                         float* dx);
void avg_pool2d_backward(const Device& device, const GtWindow2d& g, const float* dy, float* dx);
void global_avg_pool2d_forward(const Device& device, int64_t n, int64_t hw, int64_t c, const float* x,
                               float* y);
void global_avg_pool2d_backward(const Device& device, int64_t n, int64_t hw, int64_t c, const float* dy,
                                float* dx);

// ---- element- and row-wise ----
void activation_forward(const Device& device, GtActivation kind, int64_t n, const float* x, float* y);
// relu: xy is the forward input (or output: both are <= 0, or NaN, at the same places); sigmoid: the output.
void activation_backward(const Device& device, GtActivation kind, int64_t n, const float* dy,
                         const float* xy, float* dx);
void softmax_forward(const Device& device, int64_t rows, int64_t cols, const float* x, float* y);
void softmax_backward(const Device& device, int64_t rows, int64_t cols, const float* dy, const float* y,
                      float* dx);
// Along the middle axis of an (outer, cols, inner) view.
void log_softmax_forward(const Device& device, int64_t outer, int64_t cols, int64_t inner, const float* x, float* y);
void log_softmax_backward(const Device& device, int64_t outer, int64_t cols, int64_t inner, const float* dy,
                          const float* y, float* dx);
// With `step` (memory of `device`), the mask's seed is splitmix64(seed + step->step).
void dropout_forward(const Device& device, int64_t n, const float* x, uint64_t seed, const GtStepScalars* step,
                     uint32_t threshold, float scale, float* y, uint8_t* mask);
void dropout_backward(const Device& device, int64_t n, const float* dy, const uint8_t* mask, float scale,
                      float* dx);
// y = act(x + bias) over a (rows, cols) view (bias may be null; y may be x).
void bias_activation(const Device& device, const char* what, int64_t rows, int64_t cols, const float* x,
                     const float* bias, GtActivation activation, float* y);
// out = a op b element-wise (out may be a or b); see GtBinaryOp.
void binary(const Device& device, const char* what, GtBinaryOp op, int64_t n, const float* a, const float* b,
            float* out);
// One input's share of the gradient of an element-wise maximum or minimum (op_list.h, select_grad_f32).
void select_grad(const Device& device, const char* what, int64_t n, const float* dy, const float* x, const float* y,
                 uint8_t* taken, float* dx);
// See GtStridedCopy (core/op_params.h); `what` names the layer or op in errors.
void strided_copy(const Device& device, const char* what, const GtStridedCopy& c, const float* src, float* dst);
// dst (contiguous) = src walked through v (GtStridedView): Permute and its gradient.
void permute(const Device& device, const char* what, const GtStridedView& v, const float* src, float* dst);
// PReLU over the walk v (batch and shared axes first); see prelu_forward_f32 in core/op_list.h. Backward
// writes dx (may be null) and alpha's shares in walk order into terms.
void prelu_forward(const Device& device, const GtStridedView& v, int64_t alpha_size, const float* x,
                   const float* alpha, float* y);
void prelu_backward(const Device& device, const GtStridedView& v, int64_t alpha_size, const float* dy,
                    const float* x, const float* alpha, float* dx, float* terms);
// Bilinear resizing of NHWC images (GtResize2d): y from x, and dx from dy (a gather, deterministic).
void resize_bilinear2d_forward(const Device& device, const GtResize2d& r, const float* x, float* y);
void resize_bilinear2d_backward(const Device& device, const GtResize2d& r, const float* dy, float* dx);
// dst[i] = float(src[i]): uint8 images to float32 on the device they were copied to.
void cast_u8_f32(const Device& device, int64_t n, const uint8_t* src, float* dst);

// ---- losses and metrics ----
size_t softmax_cross_entropy_workspace(const Device& device, int64_t rows);
// Class weights, an ignored label and the reduction (see the table's entry); the defaults are the plain
// mean over all rows.
struct CrossEntropyOptions {
  const float* class_weight = nullptr;  // (classes,) on the device, or null: every weight 1
  int64_t ignore_index = GT_NO_IGNORE_INDEX;
  GtReduction reduction = GT_REDUCTION_MEAN;
};
// Labels must already be known to lie in [0, classes) (or equal options.ignore_index).
void softmax_cross_entropy(const Device& device, int64_t rows, int64_t classes, const float* logits,
                           const int32_t* labels, float* loss, float* dlogits, float* workspace,
                           const CrossEntropyOptions& options = {});
size_t binary_cross_entropy_workspace(const Device& device);
void binary_cross_entropy(const Device& device, int64_t n, const float* input, const float* target,
                          bool from_logits, float* loss, float* dinput, float* workspace);
size_t point_loss_workspace(const Device& device);
// dinput null: the loss's value only (a metric).
void point_loss(const Device& device, int kind, int64_t n, const float* input, const float* target, float param,
                float* loss, float* dinput, float* workspace);
size_t weight_penalty_workspace(const Device& device);
void weight_penalty(const Device& device, int64_t n, const float* x, float l1, float l2, float scale, float* grad,
                    bool accumulate, float* penalty, float* workspace);
// counter[0] += number of rows whose first maximal column is their label.
void count_argmax_hits(const Device& device, int64_t rows, int64_t classes, const float* output,
                       const int32_t* labels, float* counter);
// counter[0] += number of i with (output[i] > threshold) == (target[i] > 0.5).
void count_threshold_hits(const Device& device, int64_t n, const float* output, const float* target,
                          float threshold, float* counter);
// *first = step + 1 (the plan's step counter, read where the step runs) when *value is NaN or infinite
// and *first is 0.
void mark_first_nonfinite(const Device& device, const float* value, const GtStepScalars* step, int64_t* first);
// acc[i] += x[i] (running sums that stay on the device).
void accumulate(const Device& device, int64_t n, const float* x, float* acc);

// ---- batch normalisation ----
size_t batch_norm_statistics_workspace(const Device& device, int64_t c);
void batch_norm_statistics(const Device& device, int64_t m, int64_t c, const float* x, float* mean,
                           float* var, float* workspace);
void batch_norm_forward(const Device& device, int64_t m, int64_t c, const float* x, const float* mean,
                        const float* var, const float* gamma, const float* beta, float epsilon, float* y);
void batch_norm_update_moving(const Device& device, int64_t c, const float* mean, const float* var,
                              float* moving_mean, float* moving_var, float momentum);
size_t batch_norm_backward_workspace(const Device& device, int64_t c);
void batch_norm_backward(const Device& device, int64_t m, int64_t c, const float* dy, const float* x,
                         const float* mean, const float* var, const float* gamma, float epsilon, float* dx,
                         float* dgamma, float* dbeta, float* workspace);

// ---- optimizer updates, in place (p.step, when set, is memory of `device`) ----
void sgd_update(const Device& device, int64_t n, float* param, const float* grad, float* velocity,
                const GtSgdParams& p);
void adam_update(const Device& device, int64_t n, float* param, const float* grad, float* m, float* v,
                 const GtAdamParams& p);
void rmsprop_update(const Device& device, int64_t n, float* param, const float* grad, float* velocity,
                    float* momentum_buffer, float* average_grad, const GtRmspropParams& p);
void optimizer_update(const Device& device, int64_t n, float* param, const float* grad, float* s0, float* s1,
                      float* s2, const GtOptimizerParams& p);

// Fills nbytes at ptr with zero bytes.
void fill_zero(const Device& device, void* ptr, size_t nbytes);
// Copies nbytes within the device's memory, in stream order.
void copy_device(const Device& device, void* dst, const void* src, size_t nbytes);
// *dst = value in the device's memory, in stream order (the host's value may change at once).
void write_step_scalars(const Device& device, GtStepScalars* dst, const GtStepScalars& value);

}  // namespace gt::kernels
