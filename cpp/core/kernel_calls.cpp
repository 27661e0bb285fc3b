// The CPU-or-GPU branch of every kernel, in one place for dispatch and the training plan.
#include "core/kernel_calls.h"

#include <algorithm>
#include <cstring>

#include "core/dropout_hash.h"
#include "core/nn_checks.h"
#include "cpu/activation.h"
#include "cpu/batch_norm.h"
#include "cpu/conv2d.h"
#include "cpu/dense.h"
#include "cpu/dropout.h"
#include "cpu/elementwise.h"
#include "cpu/gemm.h"
#include "cpu/loss.h"
#include "cpu/metrics.h"
#include "cpu/optimizer.h"
#include "cpu/pool2d.h"

namespace gt::kernels {

using ops::gpu_call;
using ops::on_cpu;

namespace {
thread_local void* stream_of_thread = nullptr;
}  // namespace

void* current_stream() { return stream_of_thread; }

StreamScope::StreamScope(void* stream) : previous_(stream_of_thread) { stream_of_thread = stream; }
StreamScope::~StreamScope() { stream_of_thread = previous_; }

size_t gemm_workspace(const Device& device, int64_t m, int64_t n, int64_t k) {
  if (on_cpu(device) || m == 0 || n == 0) return 0;
  size_t floats = 0;
  gpu_call(device, "gemm", [&](const GtBackendTable& t) { return t.sgemm_workspace(device.index, m, n, k, &floats); });
  return floats;
}

void gemm(const Device& device, const char* what, bool trans_a, bool trans_b, int64_t m, int64_t n,
          int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
          bool accumulate, const float* bias, GtActivation activation, float* workspace) {
  if (m == 0 || n == 0) return;
  if (on_cpu(device)) {
    cpu::sgemm(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc, accumulate, bias, activation);
    return;
  }
  gpu_call(device, what, [&](const GtBackendTable& t) {
    return t.sgemm_f32(device.index, trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc, accumulate, bias,
                       activation, workspace, current_stream());
  });
}

size_t column_sums_workspace(const Device& device, int64_t cols) {
  return on_cpu(device) ? 0 : static_cast<size_t>(GT_ROW_SPLITS * cols);
}

void column_sums(const Device& device, const char* what, const float* a, int64_t rows, int64_t cols,
                 float* sums, float* workspace) {
  if (cols == 0) return;
  if (on_cpu(device)) {
    cpu::column_sums(a, rows, cols, sums);
    return;
  }
  gpu_call(device, what, [&](const GtBackendTable& t) {
    return t.column_sums_f32(device.index, a, rows, cols, sums, workspace, current_stream());
  });
}

void conv2d_forward(const Device& device, const GtWindow2d& g, int64_t k, const float* x, const float* w,
                    const float* bias, GtActivation activation, float* y) {
  if (on_cpu(device)) {
    cpu::conv2d_forward(g, k, x, w, bias, activation, y);
    return;
  }
  gpu_call(device, "conv2d", [&](const GtBackendTable& t) {
    return t.conv2d_forward_f32(device.index, &g, k, x, w, bias, activation, y, current_stream());
  });
}

void conv2d_backward_data(const Device& device, const GtWindow2d& g, int64_t k, const float* dy,
                          const float* w, float* dx) {
  if (on_cpu(device)) {
    cpu::conv2d_backward_data(g, k, dy, w, dx);
    return;
  }
  gpu_call(device, "conv2d_grad", [&](const GtBackendTable& t) {
    return t.conv2d_backward_data_f32(device.index, &g, k, dy, w, dx, current_stream());
  });
}

size_t conv2d_backward_filter_workspace(const Device& device, const GtWindow2d& g, int64_t k) {
  if (on_cpu(device)) return 0;
  size_t floats = 0;
  gpu_call(device, "conv2d_grad", [&](const GtBackendTable& t) {
    return t.conv2d_backward_filter_workspace(device.index, &g, k, &floats);
  });
  // The same workspace serves the bias gradient's column sums afterwards.
  return std::max(floats, column_sums_workspace(device, k));
}

void conv2d_backward_filter(const Device& device, const GtWindow2d& g, int64_t k, const float* x,
                            const float* dy, float* dw, float* dbias, float* workspace) {
  if (on_cpu(device)) {
    cpu::conv2d_backward_filter(g, k, x, dy, dw, dbias);
    return;
  }
  gpu_call(device, "conv2d_grad", [&](const GtBackendTable& t) {
    return t.conv2d_backward_filter_f32(device.index, &g, k, x, dy, dw, workspace, current_stream());
  });
  column_sums(device, "conv2d_grad", dy, g.n * g.oh * g.ow, k, dbias, workspace);
}

void pool2d_forward(const Device& device, const GtWindow2d& g, GtPoolKind kind, const float* x, float* y,
                    int32_t* argmax) {
  if (on_cpu(device)) {
    if (argmax != nullptr)  // max pooling (argmax is for max only): values and argmax in one pass
      cpu::max_pool2d_argmax(g, x, argmax, y);
    else
      cpu::pool2d_forward(g, kind, x, y);
    return;
  }
  gpu_call(device, kind == GT_POOL_MAX ? "max_pool2d" : "avg_pool2d", [&](const GtBackendTable& t) {
    return t.pool2d_forward_f32(device.index, &g, kind, x, y, argmax, current_stream());
  });
}

void max_pool2d_backward(const Device& device, const GtWindow2d& g, const float* dy, const int32_t* argmax,
                         float* dx) {
  if (on_cpu(device)) {
    cpu::max_pool2d_backward(g, dy, argmax, dx);
    return;
  }
  gpu_call(device, "max_pool2d_grad", [&](const GtBackendTable& t) {
    return t.max_pool2d_backward_f32(device.index, &g, dy, argmax, dx, current_stream());
  });
}

void avg_pool2d_backward(const Device& device, const GtWindow2d& g, const float* dy, float* dx) {
  if (on_cpu(device)) {
    cpu::avg_pool2d_backward(g, dy, dx);
    return;
  }
  gpu_call(device, "avg_pool2d_grad", [&](const GtBackendTable& t) {
    return t.avg_pool2d_backward_f32(device.index, &g, dy, dx, current_stream());
  });
}

void global_avg_pool2d_forward(const Device& device, int64_t n, int64_t hw, int64_t c, const float* x,
                               float* y) {
  if (on_cpu(device)) {
    cpu::global_avg_pool2d_forward(n, hw, c, x, y);
    return;
  }
  gpu_call(device, "global_avg_pool2d", [&](const GtBackendTable& t) {
    return t.global_avg_pool2d_forward_f32(device.index, n, hw, c, x, y, current_stream());
  });
}

void global_avg_pool2d_backward(const Device& device, int64_t n, int64_t hw, int64_t c, const float* dy,
                                float* dx) {
  if (on_cpu(device)) {
    cpu::global_avg_pool2d_backward(n, hw, c, dy, dx);
    return;
  }
  gpu_call(device, "global_avg_pool2d_grad", [&](const GtBackendTable& t) {
    return t.global_avg_pool2d_backward_f32(device.index, n, hw, c, dy, dx, current_stream());
  });
}

void activation_forward(const Device& device, GtActivation kind, int64_t n, const float* x, float* y) {
  if (on_cpu(device)) {
    (kind == GT_ACTIVATION_RELU ? cpu::relu_forward : cpu::sigmoid_forward)(n, x, y);
    return;
  }
  gpu_call(device, kind == GT_ACTIVATION_RELU ? "relu" : "sigmoid", [&](const GtBackendTable& t) {
    return t.activation_forward_f32(device.index, kind, n, x, y, current_stream());
  });
}

void activation_backward(const Device& device, GtActivation kind, int64_t n, const float* dy,
                         const float* xy, float* dx) {
  if (on_cpu(device)) {
    (kind == GT_ACTIVATION_RELU ? cpu::relu_backward : cpu::sigmoid_backward)(n, dy, xy, dx);
    return;
  }
  gpu_call(device, kind == GT_ACTIVATION_RELU ? "relu_grad" : "sigmoid_grad", [&](const GtBackendTable& t) {
    return t.activation_backward_f32(device.index, kind, n, dy, xy, dx, current_stream());
  });
}

void softmax_forward(const Device& device, int64_t rows, int64_t cols, const float* x, float* y) {
  if (on_cpu(device)) {
    cpu::softmax_forward(rows, cols, x, y);
    return;
  }
  gpu_call(device, "softmax", [&](const GtBackendTable& t) {
    return t.softmax_forward_f32(device.index, rows, cols, x, y, current_stream());
  });
}

void softmax_backward(const Device& device, int64_t rows, int64_t cols, const float* dy, const float* y,
                      float* dx) {
  if (on_cpu(device)) {
    cpu::softmax_backward(rows, cols, dy, y, dx);
    return;
  }
  gpu_call(device, "softmax_grad", [&](const GtBackendTable& t) {
    return t.softmax_backward_f32(device.index, rows, cols, dy, y, dx, current_stream());
  });
}

void dropout_forward(const Device& device, int64_t n, const float* x, uint64_t seed, const GtStepScalars* step,
                     uint32_t threshold, float scale, float* y, uint8_t* mask) {
  if (on_cpu(device)) {
    cpu::dropout_forward(n, x, step ? splitmix64(seed + step->step) : seed, threshold, scale, y, mask);
    return;
  }
  gpu_call(device, "dropout", [&](const GtBackendTable& t) {
    return t.dropout_forward_f32(device.index, n, x, seed, step, threshold, scale, y, mask, current_stream());
  });
}

void dropout_backward(const Device& device, int64_t n, const float* dy, const uint8_t* mask, float scale,
                      float* dx) {
  if (on_cpu(device)) {
    cpu::dropout_backward(n, dy, mask, scale, dx);
    return;
  }
  gpu_call(device, "dropout_grad", [&](const GtBackendTable& t) {
    return t.dropout_backward_f32(device.index, n, dy, mask, scale, dx, current_stream());
  });
}

void cast_u8_f32(const Device& device, int64_t n, const uint8_t* src, float* dst) {
  if (on_cpu(device)) {
    cpu::cast_u8_f32(src, dst, n);
    return;
  }
  gpu_call(device, "cast_u8_f32", [&](const GtBackendTable& t) {
    return t.cast_u8_f32(device.index, n, src, dst, current_stream());
  });
}

size_t softmax_cross_entropy_workspace(const Device& device, int64_t rows) {
  return on_cpu(device) ? 0 : static_cast<size_t>(rows);
}

void softmax_cross_entropy(const Device& device, int64_t rows, int64_t classes, const float* logits,
                           const int32_t* labels, float* loss, float* dlogits, float* workspace) {
  if (on_cpu(device)) {
    cpu::softmax_cross_entropy(rows, classes, logits, labels, loss, dlogits);
    return;
  }
  gpu_call(device, "softmax_cross_entropy", [&](const GtBackendTable& t) {
    return t.softmax_cross_entropy_f32(device.index, rows, classes, logits, labels, loss, dlogits, workspace,
                                       current_stream());
  });
}

size_t binary_cross_entropy_workspace(const Device& device) { return on_cpu(device) ? 0 : GT_REDUCE_BLOCKS; }

void binary_cross_entropy(const Device& device, int64_t n, const float* input, const float* target,
                          bool from_logits, float* loss, float* dinput, float* workspace) {
  if (on_cpu(device)) {
    cpu::binary_cross_entropy(n, input, target, from_logits, loss, dinput);
    return;
  }
  gpu_call(device, "binary_cross_entropy", [&](const GtBackendTable& t) {
    return t.binary_cross_entropy_f32(device.index, n, input, target, from_logits, loss, dinput, workspace,
                                      current_stream());
  });
}

void count_argmax_hits(const Device& device, int64_t rows, int64_t classes, const float* output,
                       const int32_t* labels, float* counter) {
  if (on_cpu(device)) {
    cpu::count_argmax_hits(rows, classes, output, labels, counter);
    return;
  }
  gpu_call(device, "accuracy", [&](const GtBackendTable& t) {
    return t.count_argmax_hits_f32(device.index, rows, classes, output, labels, counter, current_stream());
  });
}

void count_threshold_hits(const Device& device, int64_t n, const float* output, const float* target,
                          float threshold, float* counter) {
  if (on_cpu(device)) {
    cpu::count_threshold_hits(n, output, target, threshold, counter);
    return;
  }
  gpu_call(device, "accuracy", [&](const GtBackendTable& t) {
    return t.count_threshold_hits_f32(device.index, n, output, target, threshold, counter, current_stream());
  });
}

void mark_first_nonfinite(const Device& device, const float* value, const GtStepScalars* step, int64_t* first) {
  if (on_cpu(device)) {
    cpu::mark_first_nonfinite(value, step->step, first);
    return;
  }
  gpu_call(device, "training step", [&](const GtBackendTable& t) {
    return t.mark_first_nonfinite_f32(device.index, value, step, first, current_stream());
  });
}

void accumulate(const Device& device, int64_t n, const float* x, float* acc) {
  if (on_cpu(device)) {
    cpu::add_f32(acc, x, acc, n);
    return;
  }
  gpu_call(device, "accumulate", [&](const GtBackendTable& t) {
    return t.add_f32(device.index, acc, x, acc, n, current_stream());
  });
}

size_t batch_norm_statistics_workspace(const Device& device, int64_t c) {
  return on_cpu(device) ? 0 : static_cast<size_t>(GT_ROW_SPLITS * c);
}

void batch_norm_statistics(const Device& device, int64_t m, int64_t c, const float* x, float* mean,
                           float* var, float* workspace) {
  if (on_cpu(device)) {
    cpu::batch_norm_statistics(m, c, x, mean, var);
    return;
  }
  gpu_call(device, "batch_norm", [&](const GtBackendTable& t) {
    return t.batch_norm_statistics_f32(device.index, m, c, x, mean, var, workspace, current_stream());
  });
}

void batch_norm_forward(const Device& device, int64_t m, int64_t c, const float* x, const float* mean,
                        const float* var, const float* gamma, const float* beta, float epsilon, float* y) {
  if (m == 0) return;
  if (on_cpu(device)) {
    cpu::batch_norm_forward(m, c, x, mean, var, gamma, beta, epsilon, y);
    return;
  }
  gpu_call(device, "batch_norm", [&](const GtBackendTable& t) {
    return t.batch_norm_forward_f32(device.index, m, c, x, mean, var, gamma, beta, epsilon, y, current_stream());
  });
}

void batch_norm_update_moving(const Device& device, int64_t c, const float* mean, const float* var,
                              float* moving_mean, float* moving_var, float momentum) {
  if (on_cpu(device)) {
    cpu::batch_norm_update_moving(c, mean, var, moving_mean, moving_var, momentum);
    return;
  }
  gpu_call(device, "batch_norm", [&](const GtBackendTable& t) {
    return t.batch_norm_update_moving_f32(device.index, c, mean, var, moving_mean, moving_var, momentum,
                                          current_stream());
  });
}

size_t batch_norm_backward_workspace(const Device& device, int64_t c) {
  return on_cpu(device) ? 0 : static_cast<size_t>(2 * GT_ROW_SPLITS * c);
}

void batch_norm_backward(const Device& device, int64_t m, int64_t c, const float* dy, const float* x,
                         const float* mean, const float* var, const float* gamma, float epsilon, float* dx,
                         float* dgamma, float* dbeta, float* workspace) {
  if (on_cpu(device)) {
    cpu::batch_norm_backward(m, c, dy, x, mean, var, gamma, epsilon, dx, dgamma, dbeta);
    return;
  }
  gpu_call(device, "batch_norm_grad", [&](const GtBackendTable& t) {
    return t.batch_norm_backward_f32(device.index, m, c, dy, x, mean, var, gamma, epsilon, dx, dgamma, dbeta,
                                     workspace, current_stream());
  });
}

void sgd_update(const Device& device, int64_t n, float* param, const float* grad, float* velocity,
                const GtSgdParams& p) {
  if (n == 0) return;
  if (on_cpu(device)) {
    cpu::sgd_update(n, param, grad, velocity, p.step ? p.step->learning_rate : p.lr, p.momentum, p.nesterov != 0);
    return;
  }
  gpu_call(device, "sgd_update", [&](const GtBackendTable& t) {
    return t.sgd_update_f32(device.index, n, param, grad, velocity, p, current_stream());
  });
}

void adam_update(const Device& device, int64_t n, float* param, const float* grad, float* m, float* v,
                 const GtAdamParams& p) {
  if (n == 0) return;
  if (on_cpu(device)) {
    cpu::adam_update(n, param, grad, m, v, p.step ? p.step->adam_alpha : p.alpha, p.beta_1, p.beta_2, p.epsilon);
    return;
  }
  gpu_call(device, "adam_update", [&](const GtBackendTable& t) {
    return t.adam_update_f32(device.index, n, param, grad, m, v, p, current_stream());
  });
}

void rmsprop_update(const Device& device, int64_t n, float* param, const float* grad, float* velocity,
                    float* momentum_buffer, float* average_grad, const GtRmspropParams& p) {
  if (n == 0) return;
  if (on_cpu(device)) {
    cpu::rmsprop_update(n, param, grad, velocity, momentum_buffer, average_grad, p.step ? p.step->learning_rate : p.lr,
                        p.rho, p.momentum, p.epsilon, p.centered != 0);
    return;
  }
  gpu_call(device, "rmsprop_update", [&](const GtBackendTable& t) {
    return t.rmsprop_update_f32(device.index, n, param, grad, velocity, momentum_buffer, average_grad, p,
                                current_stream());
  });
}

void fill_zero(const Device& device, void* ptr, size_t nbytes) {
  if (nbytes == 0) return;
  if (on_cpu(device)) {
    std::memset(ptr, 0, nbytes);
    return;
  }
  gpu_call(device, "fill_zero",
           [&](const GtBackendTable& t) { return t.fill_zero(device.index, ptr, nbytes, current_stream()); });
}

void copy_device(const Device& device, void* dst, const void* src, size_t nbytes) {
  if (nbytes == 0) return;
  if (on_cpu(device)) {
    std::memmove(dst, src, nbytes);
    return;
  }
  gpu_call(device, "copy", [&](const GtBackendTable& t) {
    return t.copy_device_async(device.index, dst, src, nbytes, current_stream());
  });
}

void write_step_scalars(const Device& device, GtStepScalars* dst, const GtStepScalars& value) {
  if (on_cpu(device)) {
    *dst = value;
    return;
  }
  gpu_call(device, "training step", [&](const GtBackendTable& t) {
    return t.write_step_scalars(device.index, dst, value, current_stream());
  });
}

}  // namespace gt::kernels
