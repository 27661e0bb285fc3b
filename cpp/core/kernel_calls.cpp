// Every kernel call, on any device, goes through that device's backend table (core/op_list.h): the
// CPU's as much as a GPU's, with no branch on the device type here. Checks and allocation happen before
// (dispatch, training plans); this file adds only the stream, the table lookup and the error naming.
#include "core/kernel_calls.h"

#include <algorithm>

#include "core/activations.h"
#include "core/point_losses.h"
#include "core/registry.h"

namespace gt::kernels {

namespace {
thread_local void* stream_of_thread = nullptr;

// The table's `entry` run as entry(device index, args..., current stream); a failure raises the table's
// error naming `what`. Every kernel entry takes (device, ..., stream), the CPU's ignoring the stream.
template <class Entry, class... Args>
void launch(const Device& device, const char* what, Entry GtBackendTable::*entry, Args... args) {
  const GtBackendTable& table = backend_for(device);
  check_status(table, (table.*entry)(device.index, args..., stream_of_thread), what);
}

// A *_workspace entry: entry(device index, args..., &floats).
template <class Entry, class... Args>
size_t workspace_floats(const Device& device, const char* what, Entry GtBackendTable::*entry, Args... args) {
  const GtBackendTable& table = backend_for(device);
  size_t floats = 0;
  check_status(table, (table.*entry)(device.index, args..., &floats), what);
  return floats;
}

// The op's name in errors, from the list of activations.
const char* activation_op(GtActivation kind, bool backward) {
  const ActivationInfo* a = find_activation(kind);
  if (a == nullptr) return backward ? "activation_grad" : "activation";
  return backward ? a->grad_name : a->name;
}
}  // namespace

void* current_stream() { return stream_of_thread; }

StreamScope::StreamScope(void* stream) : previous_(stream_of_thread) { stream_of_thread = stream; }
StreamScope::~StreamScope() { stream_of_thread = previous_; }

size_t gemm_workspace(const Device& device, int64_t m, int64_t n, int64_t k) {
  if (m == 0 || n == 0) return 0;
  return workspace_floats(device, "gemm", &GtBackendTable::sgemm_workspace, m, n, k);
}

void gemm(const Device& device, const char* what, bool trans_a, bool trans_b, int64_t m, int64_t n,
          int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
          bool accumulate, const float* bias, GtActivation activation, float* workspace) {
  if (m == 0 || n == 0) return;
  launch(device, what, &GtBackendTable::sgemm_f32, int{trans_a}, int{trans_b}, m, n, k, a, lda, b, ldb, c, ldc,
         int{accumulate}, bias, int{activation}, workspace);
}

size_t column_sums_workspace(const Device& device, int64_t cols) {
  return workspace_floats(device, "column_sums", &GtBackendTable::column_sums_workspace, cols);
}

void column_sums(const Device& device, const char* what, const float* a, int64_t rows, int64_t cols,
                 float* sums, float* workspace) {
  if (cols == 0) return;
  launch(device, what, &GtBackendTable::column_sums_f32, a, rows, cols, sums, workspace);
}

void conv2d_forward(const Device& device, const GtWindow2d& g, int64_t k, const float* x, const float* w,
                    const float* bias, GtActivation activation, float* y) {
  launch(device, "conv2d", &GtBackendTable::conv2d_forward_f32, &g, k, x, w, bias, int{activation}, y);
}

void conv2d_backward_data(const Device& device, const GtWindow2d& g, int64_t k, const float* dy,
                          const float* w, float* dx) {
  launch(device, "conv2d_grad", &GtBackendTable::conv2d_backward_data_f32, &g, k, dy, w, dx);
}

size_t conv2d_backward_filter_workspace(const Device& device, const GtWindow2d& g, int64_t k) {
  const size_t floats =
      workspace_floats(device, "conv2d_grad", &GtBackendTable::conv2d_backward_filter_workspace, &g, k);
  // The same workspace serves the bias gradient's column sums afterwards.
  return std::max(floats, column_sums_workspace(device, k));
}

void conv2d_backward_filter(const Device& device, const GtWindow2d& g, int64_t k, const float* x,
                            const float* dy, float* dw, float* dbias, float* workspace) {
  launch(device, "conv2d_grad", &GtBackendTable::conv2d_backward_filter_f32, &g, k, x, dy, dw, workspace);
  if (dbias != nullptr) column_sums(device, "conv2d_grad", dy, g.n * g.oh * g.ow, k, dbias, workspace);
}

void depthwise_conv2d_forward(const Device& device, const GtDepthwise2d& d, const float* x, const float* w,
                              const float* bias, GtActivation activation, float* y) {
  launch(device, "depthwise_conv2d", &GtBackendTable::depthwise_conv2d_forward_f32, &d, x, w, bias,
         int{activation}, y);
}

void depthwise_conv2d_backward_data(const Device& device, const GtDepthwise2d& d, const float* dy,
                                    const float* w, float* dx) {
  launch(device, "depthwise_conv2d_grad", &GtBackendTable::depthwise_conv2d_backward_data_f32, &d, dy, w, dx);
}

size_t depthwise_conv2d_backward_filter_workspace(const Device& device, const GtDepthwise2d& d) {
  const size_t floats = workspace_floats(device, "depthwise_conv2d_grad",
                                         &GtBackendTable::depthwise_conv2d_backward_filter_workspace, &d);
  // The same workspace serves the bias gradient's column sums afterwards.
  return std::max(floats, column_sums_workspace(device, d.g.c * d.multiplier));
}

void depthwise_conv2d_backward_filter(const Device& device, const GtDepthwise2d& d, const float* x,
                                      const float* dy, float* dw, float* dbias, float* workspace) {
  launch(device, "depthwise_conv2d_grad", &GtBackendTable::depthwise_conv2d_backward_filter_f32, &d, x, dy, dw,
         workspace);
  if (dbias != nullptr)
    column_sums(device, "depthwise_conv2d_grad", dy, d.g.n * d.g.oh * d.g.ow, d.g.c * d.multiplier, dbias,
                workspace);
}

void pool2d_forward(const Device& device, const GtWindow2d& g, GtPoolKind kind, const float* x, float* y,
                    int32_t* argmax) {
  launch(device, kind == GT_POOL_MAX ? "max_pool2d" : "avg_pool2d", &GtBackendTable::pool2d_forward_f32, &g,
         int{kind}, x, y, argmax);
}

void max_pool2d_backward(const Device& device, const GtWindow2d& g, const float* dy, const int32_t* argmax,
                         float* dx) {
  launch(device, "max_pool2d_grad", &GtBackendTable::max_pool2d_backward_f32, &g, dy, argmax, dx);
}

void avg_pool2d_backward(const Device& device, const GtWindow2d& g, const float* dy, float* dx) {
  launch(device, "avg_pool2d_grad", &GtBackendTable::avg_pool2d_backward_f32, &g, dy, dx);
}

void global_avg_pool2d_forward(const Device& device, int64_t n, int64_t hw, int64_t c, const float* x,
                               float* y) {
  launch(device, "global_avg_pool2d", &GtBackendTable::global_avg_pool2d_forward_f32, n, hw, c, x, y);
}

void global_avg_pool2d_backward(const Device& device, int64_t n, int64_t hw, int64_t c, const float* dy,
                                float* dx) {
  launch(device, "global_avg_pool2d_grad", &GtBackendTable::global_avg_pool2d_backward_f32, n, hw, c, dy, dx);
}

void activation_forward(const Device& device, GtActivation kind, int64_t n, const float* x, float* y) {
  launch(device, activation_op(kind, false), &GtBackendTable::activation_forward_f32, int{kind}, n, x, y);
}

void activation_backward(const Device& device, GtActivation kind, int64_t n, const float* dy,
                         const float* xy, float* dx) {
  launch(device, activation_op(kind, true), &GtBackendTable::activation_backward_f32, int{kind}, n, dy, xy, dx);
}

void softmax_forward(const Device& device, int64_t rows, int64_t cols, const float* x, float* y) {
  launch(device, "softmax", &GtBackendTable::softmax_forward_f32, rows, cols, x, y);
}

void softmax_backward(const Device& device, int64_t rows, int64_t cols, const float* dy, const float* y,
                      float* dx) {
  launch(device, "softmax_grad", &GtBackendTable::softmax_backward_f32, rows, cols, dy, y, dx);
}

void log_softmax_forward(const Device& device, int64_t outer, int64_t cols, int64_t inner, const float* x, float* y) {
  launch(device, "log_softmax", &GtBackendTable::log_softmax_forward_f32, outer, cols, inner, x, y);
}

void log_softmax_backward(const Device& device, int64_t outer, int64_t cols, int64_t inner, const float* dy,
                          const float* y, float* dx) {
  launch(device, "log_softmax_grad", &GtBackendTable::log_softmax_backward_f32, outer, cols, inner, dy, y, dx);
}

void dropout_forward(const Device& device, int64_t n, const float* x, uint64_t seed, const GtStepScalars* step,
                     uint32_t threshold, float scale, float* y, uint8_t* mask) {
  launch(device, "dropout", &GtBackendTable::dropout_forward_f32, n, x, seed, step, threshold, scale, y, mask);
}

void dropout_backward(const Device& device, int64_t n, const float* dy, const uint8_t* mask, float scale,
                      float* dx) {
  launch(device, "dropout_grad", &GtBackendTable::dropout_backward_f32, n, dy, mask, scale, dx);
}

void bias_activation(const Device& device, const char* what, int64_t rows, int64_t cols, const float* x,
                     const float* bias, GtActivation activation, float* y) {
  launch(device, what, &GtBackendTable::bias_activation_f32, rows, cols, x, bias, int{activation}, y);
}

void binary(const Device& device, const char* what, GtBinaryOp op, int64_t n, const float* a, const float* b,
            float* out) {
  launch(device, what, &GtBackendTable::binary_f32, int{op}, n, a, b, out);
}

void select_grad(const Device& device, const char* what, int64_t n, const float* dy, const float* x, const float* y,
                 uint8_t* taken, float* dx) {
  launch(device, what, &GtBackendTable::select_grad_f32, n, dy, x, y, taken, dx);
}

void strided_copy(const Device& device, const char* what, const GtStridedCopy& c, const float* src, float* dst) {
  launch(device, what, &GtBackendTable::strided_copy_f32, &c, src, dst);
}

void permute(const Device& device, const char* what, const GtStridedView& v, const float* src, float* dst) {
  launch(device, what, &GtBackendTable::permute_f32, &v, src, dst);
}

void prelu_forward(const Device& device, const GtStridedView& v, int64_t alpha_size, const float* x,
                   const float* alpha, float* y) {
  launch(device, "prelu", &GtBackendTable::prelu_forward_f32, &v, alpha_size, x, alpha, y);
}

void prelu_backward(const Device& device, const GtStridedView& v, int64_t alpha_size, const float* dy,
                    const float* x, const float* alpha, float* dx, float* terms) {
  launch(device, "prelu_grad", &GtBackendTable::prelu_backward_f32, &v, alpha_size, dy, x, alpha, dx, terms);
}

void resize_bilinear2d_forward(const Device& device, const GtResize2d& r, const float* x, float* y) {
  launch(device, "up_sampling2d", &GtBackendTable::resize_bilinear2d_forward_f32, &r, x, y);
}

void resize_bilinear2d_backward(const Device& device, const GtResize2d& r, const float* dy, float* dx) {
  launch(device, "up_sampling2d_grad", &GtBackendTable::resize_bilinear2d_backward_f32, &r, dy, dx);
}

void cast_u8_f32(const Device& device, int64_t n, const uint8_t* src, float* dst) {
  launch(device, "cast_u8_f32", &GtBackendTable::cast_u8_f32, n, src, dst);
}

size_t softmax_cross_entropy_workspace(const Device& device, int64_t rows) {
  return workspace_floats(device, "softmax_cross_entropy", &GtBackendTable::softmax_cross_entropy_workspace, rows);
}

void softmax_cross_entropy(const Device& device, int64_t rows, int64_t classes, const float* logits,
                           const int32_t* labels, float* loss, float* dlogits, float* workspace,
                           const CrossEntropyOptions& options) {
  launch(device, "softmax_cross_entropy", &GtBackendTable::softmax_cross_entropy_f32, rows, classes, logits,
         labels, options.class_weight, options.ignore_index, int{options.reduction}, loss, dlogits, workspace);
}

size_t binary_cross_entropy_workspace(const Device& device) {
  return workspace_floats(device, "binary_cross_entropy", &GtBackendTable::binary_cross_entropy_workspace);
}

void binary_cross_entropy(const Device& device, int64_t n, const float* input, const float* target,
                          bool from_logits, float* loss, float* dinput, float* workspace) {
  launch(device, "binary_cross_entropy", &GtBackendTable::binary_cross_entropy_f32, n, input, target,
         int{from_logits}, loss, dinput, workspace);
}

size_t point_loss_workspace(const Device& device) {
  return workspace_floats(device, "loss", &GtBackendTable::point_loss_workspace);
}

void point_loss(const Device& device, int kind, int64_t n, const float* input, const float* target, float param,
                float* loss, float* dinput, float* workspace) {
  launch(device, kPointLossNames[kind], &GtBackendTable::point_loss_f32, kind, n, input, target, param, loss, dinput,
         workspace);
}

size_t weight_penalty_workspace(const Device& device) {
  return workspace_floats(device, "regularizer", &GtBackendTable::weight_penalty_workspace);
}

void weight_penalty(const Device& device, int64_t n, const float* x, float l1, float l2, float scale, float* grad,
                    bool accumulate, float* penalty, float* workspace) {
  launch(device, "regularizer", &GtBackendTable::weight_penalty_f32, n, x, l1, l2, scale, grad, int{accumulate},
         penalty, workspace);
}

void count_argmax_hits(const Device& device, int64_t rows, int64_t classes, const float* output,
                       const int32_t* labels, float* counter) {
  launch(device, "accuracy", &GtBackendTable::count_argmax_hits_f32, rows, classes, output, labels, counter);
}

void count_threshold_hits(const Device& device, int64_t n, const float* output, const float* target,
                          float threshold, float* counter) {
  launch(device, "accuracy", &GtBackendTable::count_threshold_hits_f32, n, output, target, threshold, counter);
}

void mark_first_nonfinite(const Device& device, const float* value, const GtStepScalars* step, int64_t* first) {
  launch(device, "training step", &GtBackendTable::mark_first_nonfinite_f32, value, step, first);
}

void accumulate(const Device& device, int64_t n, const float* x, float* acc) {
  launch(device, "accumulate", &GtBackendTable::add_f32, static_cast<const float*>(acc), x, acc, n);
}

size_t batch_norm_statistics_workspace(const Device& device, int64_t c) {
  return workspace_floats(device, "batch_norm", &GtBackendTable::batch_norm_statistics_workspace, c);
}

void batch_norm_statistics(const Device& device, int64_t m, int64_t c, const float* x, float* mean,
                           float* var, float* workspace) {
  launch(device, "batch_norm", &GtBackendTable::batch_norm_statistics_f32, m, c, x, mean, var, workspace);
}

void batch_norm_forward(const Device& device, int64_t m, int64_t c, const float* x, const float* mean,
                        const float* var, const float* gamma, const float* beta, float epsilon, float* y) {
  if (m == 0) return;
  launch(device, "batch_norm", &GtBackendTable::batch_norm_forward_f32, m, c, x, mean, var, gamma, beta, epsilon,
         y);
}

void batch_norm_update_moving(const Device& device, int64_t c, const float* mean, const float* var,
                              float* moving_mean, float* moving_var, float momentum) {
  launch(device, "batch_norm", &GtBackendTable::batch_norm_update_moving_f32, c, mean, var, moving_mean,
         moving_var, momentum);
}

size_t batch_norm_backward_workspace(const Device& device, int64_t c) {
  return workspace_floats(device, "batch_norm_grad", &GtBackendTable::batch_norm_backward_workspace, c);
}

void batch_norm_backward(const Device& device, int64_t m, int64_t c, const float* dy, const float* x,
                         const float* mean, const float* var, const float* gamma, float epsilon, float* dx,
                         float* dgamma, float* dbeta, float* workspace) {
  launch(device, "batch_norm_grad", &GtBackendTable::batch_norm_backward_f32, m, c, dy, x, mean, var, gamma,
         epsilon, dx, dgamma, dbeta, workspace);
}

void sgd_update(const Device& device, int64_t n, float* param, const float* grad, float* velocity,
                const GtSgdParams& p) {
  if (n == 0) return;
  launch(device, "sgd_update", &GtBackendTable::sgd_update_f32, n, param, grad, velocity, p);
}

void adam_update(const Device& device, int64_t n, float* param, const float* grad, float* m, float* v,
                 const GtAdamParams& p) {
  if (n == 0) return;
  launch(device, "adam_update", &GtBackendTable::adam_update_f32, n, param, grad, m, v, p);
}

void rmsprop_update(const Device& device, int64_t n, float* param, const float* grad, float* velocity,
                    float* momentum_buffer, float* average_grad, const GtRmspropParams& p) {
  if (n == 0) return;
  launch(device, "rmsprop_update", &GtBackendTable::rmsprop_update_f32, n, param, grad, velocity,
         momentum_buffer, average_grad, p);
}

void optimizer_update(const Device& device, int64_t n, float* param, const float* grad, float* s0, float* s1,
                      float* s2, const GtOptimizerParams& p) {
  if (n == 0) return;
  launch(device, "optimizer_update", &GtBackendTable::optimizer_update_f32, n, param, grad, s0, s1, s2, p);
}

void fill_zero(const Device& device, void* ptr, size_t nbytes) {
  if (nbytes == 0) return;
  launch(device, "fill_zero", &GtBackendTable::fill_zero, ptr, nbytes);
}

void copy_device(const Device& device, void* dst, const void* src, size_t nbytes) {
  if (nbytes == 0) return;
  launch(device, "copy", &GtBackendTable::copy_device_async, dst, src, nbytes);
}

void write_step_scalars(const Device& device, GtStepScalars* dst, const GtStepScalars& value) {
  launch(device, "training step", &GtBackendTable::write_step_scalars, dst, value);
}

}  // namespace gt::kernels
