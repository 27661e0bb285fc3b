// The CPU's backend table: one function per entry of core/op_list.h, with the entry's own name and
// signature, each a thin adapter over a cpu:: kernel. The CPU has no streams and no asynchrony: work is
// done when an entry returns, so events are always complete and the stream arguments are unused.
// Nothing here throws across the table: an exception becomes a status and last_error()'s message.
#include "cpu/backend.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>

#include "core/dropout_hash.h"
#include "cpu/activation.h"
#include "cpu/batch_norm.h"
#include "cpu/conv2d.h"
#include "cpu/dense.h"
#include "cpu/depthwise_conv2d.h"
#include "cpu/dropout.h"
#include "cpu/elementwise.h"
#include "cpu/gemm.h"
#include "cpu/loss.h"
#include "cpu/metrics.h"
#include "cpu/optimizer.h"
#include "cpu/permute.h"
#include "cpu/pool2d.h"
#include "cpu/prelu.h"
#include "cpu/resize.h"
#include "cpu/strided_copy.h"

namespace gt::cpu_backend {
namespace {

thread_local char last_message[512] = "no error";

int fail(int status, const char* message) {
  std::snprintf(last_message, sizeof last_message, "%s", message);
  return status;
}

// Runs a kernel, turning what it throws (an allocation failing inside the GEMM, say) into a status.
template <class Kernel>
int guarded(Kernel&& kernel) noexcept {
  try {
    kernel();
    return GT_OK;
  } catch (const std::bad_alloc&) {
    return fail(GT_ERR_OUT_OF_MEMORY, "out of memory (std::bad_alloc)");
  } catch (const std::exception& e) {
    return fail(GT_ERR_GPU, e.what());
  } catch (...) {
    return fail(GT_ERR_GPU, "unknown exception");
  }
}

// The host's memory has no device alignment rule; 64 bytes keeps vector loads on cache lines.
void* aligned_bytes(size_t nbytes) {
  return std::aligned_alloc(64, (nbytes + 63) / 64 * 64 + (nbytes == 0 ? 64 : 0));
}

// A non-null handle that stands for every CPU event: all of them are complete.
char event_token;

}  // namespace

// ---- runtime ----

const char* last_error(void) { return last_message; }
int runtime_version(int* version) { *version = 0; return GT_OK; }
int driver_version(int* version) { *version = 0; return GT_OK; }
int device_count(int* count) { *count = 1; return GT_OK; }

int device_name(int, char* name, size_t capacity) {
  std::snprintf(name, capacity, "cpu");
  return GT_OK;
}

int mem_info(int, size_t* free_bytes, size_t* total_bytes) {
  const long page = sysconf(_SC_PAGESIZE), pages = sysconf(_SC_PHYS_PAGES), free_pages = sysconf(_SC_AVPHYS_PAGES);
  if (page <= 0 || pages <= 0 || free_pages < 0) return fail(GT_ERR_GPU, "mem_info: sysconf failed");
  *free_bytes = static_cast<size_t>(free_pages) * static_cast<size_t>(page);
  *total_bytes = static_cast<size_t>(pages) * static_cast<size_t>(page);
  return GT_OK;
}

int allocate(int, size_t nbytes, void** ptr) {
  *ptr = aligned_bytes(nbytes);
  return *ptr ? GT_OK : fail(GT_ERR_OUT_OF_MEMORY, "allocate: out of memory");
}
int release(int, void* ptr) { std::free(ptr); return GT_OK; }

int copy_to_device(int, void* dst, const void* src, size_t nbytes) {
  if (nbytes) std::memcpy(dst, src, nbytes);
  return GT_OK;
}
int copy_to_host(int, void* dst, const void* src, size_t nbytes) {
  if (nbytes) std::memcpy(dst, src, nbytes);
  return GT_OK;
}
int copy_device_to_device(int, void* dst, int, const void* src, size_t nbytes) {
  if (nbytes) std::memmove(dst, src, nbytes);
  return GT_OK;
}
int fill_zero(int, void* ptr, size_t nbytes, void*) {
  if (nbytes) std::memset(ptr, 0, nbytes);
  return GT_OK;
}
int copy_device_async(int, void* dst, const void* src, size_t nbytes, void*) {
  if (nbytes) std::memmove(dst, src, nbytes);
  return GT_OK;
}
int synchronize(int) { return GT_OK; }

int host_alloc_pinned(int device, size_t nbytes, void** ptr) { return allocate(device, nbytes, ptr); }
int host_free_pinned(int device, void* ptr) { return release(device, ptr); }
int event_create(int, void** event) { *event = &event_token; return GT_OK; }
int event_destroy(int, void*) { return GT_OK; }
int event_record(int, void*, int) { return GT_OK; }
int stream_wait_event(int, int, void*) { return GT_OK; }
int event_synchronize(int, void*) { return GT_OK; }
int event_query(int, void*, int* done) { *done = 1; return GT_OK; }
int copy_to_device_async(int device, void* dst, const void* src, size_t nbytes) {
  return copy_to_device(device, dst, src, nbytes);
}

int write_step_scalars(int, GtStepScalars* dst, GtStepScalars value, void*) { *dst = value; return GT_OK; }
// A training step on the CPU is its list of calls; there is nothing to record and replay.
int graph_capture_begin(int, void** stream) {
  *stream = nullptr;
  return fail(GT_ERR_GPU, "graph_capture_begin: the CPU backend has no graphs");
}
int graph_capture_end(int, void*, void** graph) {
  *graph = nullptr;
  return fail(GT_ERR_GPU, "graph_capture_end: the CPU backend has no graphs");
}
int graph_launch(int, void*) { return fail(GT_ERR_GPU, "graph_launch: the CPU backend has no graphs"); }
int graph_destroy(int, void* graph) {
  return graph == nullptr ? GT_OK : fail(GT_ERR_GPU, "graph_destroy: the CPU backend has no graphs");
}

// ---- kernels ----

int add_f32(int, const float* a, const float* b, float* out, int64_t n, void*) {
  return guarded([&] { cpu::add_f32(a, b, out, n); });
}
int binary_f32(int, int op, int64_t n, const float* a, const float* b, float* out, void*) {
  return guarded([&] { cpu::binary_f32(op, a, b, out, n); });
}
int bias_activation_f32(int, int64_t rows, int64_t cols, const float* x, const float* bias, int activation, float* y,
                        void*) {
  return guarded([&] { cpu::bias_activation_f32(rows, cols, x, bias, activation, y); });
}
int select_grad_f32(int, int64_t n, const float* dy, const float* x, const float* y, uint8_t* taken, float* dx,
                    void*) {
  return guarded([&] { cpu::select_grad_f32(dy, x, y, taken, dx, n); });
}
int strided_copy_f32(int, const GtStridedCopy* c, const float* src, float* dst, void*) {
  return guarded([&] { cpu::strided_copy(*c, src, dst); });
}
int permute_f32(int, const GtStridedView* v, const float* src, float* dst, void*) {
  return guarded([&] { cpu::permute(*v, src, dst); });
}
int prelu_forward_f32(int, const GtStridedView* v, int64_t alpha_size, const float* x, const float* alpha, float* y,
                      void*) {
  return guarded([&] { cpu::prelu_forward(*v, alpha_size, x, alpha, y); });
}
int prelu_backward_f32(int, const GtStridedView* v, int64_t alpha_size, const float* dy, const float* x,
                       const float* alpha, float* dx, float* terms, void*) {
  return guarded([&] { cpu::prelu_backward(*v, alpha_size, dy, x, alpha, dx, terms); });
}
int resize_bilinear2d_forward_f32(int, const GtResize2d* r, const float* x, float* y, void*) {
  return guarded([&] { cpu::resize_bilinear2d_forward(*r, x, y); });
}
int resize_bilinear2d_backward_f32(int, const GtResize2d* r, const float* dy, float* dx, void*) {
  return guarded([&] { cpu::resize_bilinear2d_backward(*r, dy, dx); });
}
int cast_u8_f32(int, int64_t n, const uint8_t* src, float* out, void*) {
  return guarded([&] { cpu::cast_u8_f32(src, out, n); });
}

int sgemm_workspace(int, int64_t, int64_t, int64_t, size_t* floats) { *floats = 0; return GT_OK; }
int sgemm_f32(int, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
              const float* b, int64_t ldb, float* c, int64_t ldc, int accumulate, const float* bias,
              int activation, float*, void*) {
  return guarded([&] {
    cpu::sgemm(trans_a != 0, trans_b != 0, m, n, k, a, lda, b, ldb, c, ldc, accumulate != 0, bias,
               static_cast<GtActivation>(activation));
  });
}
int column_sums_workspace(int, int64_t, size_t* floats) { *floats = 0; return GT_OK; }
int column_sums_f32(int, const float* a, int64_t rows, int64_t cols, float* sums, float*, void*) {
  return guarded([&] { cpu::column_sums(a, rows, cols, sums); });
}

int conv2d_forward_f32(int, const GtWindow2d* g, int64_t k, const float* x, const float* w, const float* bias,
                       int activation, float* y, void*) {
  return guarded([&] { cpu::conv2d_forward(*g, k, x, w, bias, static_cast<GtActivation>(activation), y); });
}
int conv2d_backward_data_f32(int, const GtWindow2d* g, int64_t k, const float* dy, const float* w, float* dx,
                             void*) {
  return guarded([&] { cpu::conv2d_backward_data(*g, k, dy, w, dx); });
}
int conv2d_backward_filter_workspace(int, const GtWindow2d*, int64_t, size_t* floats) {
  *floats = 0;
  return GT_OK;
}
int conv2d_backward_filter_f32(int, const GtWindow2d* g, int64_t k, const float* x, const float* dy, float* dw,
                               float*, void*) {
  return guarded([&] { cpu::conv2d_backward_filter(*g, k, x, dy, dw, nullptr); });
}

int depthwise_conv2d_forward_f32(int, const GtDepthwise2d* d, const float* x, const float* w, const float* bias,
                                 int activation, float* y, void*) {
  return guarded([&] { cpu::depthwise_conv2d_forward(*d, x, w, bias, static_cast<GtActivation>(activation), y); });
}
int depthwise_conv2d_backward_data_f32(int, const GtDepthwise2d* d, const float* dy, const float* w, float* dx,
                                       void*) {
  return guarded([&] { cpu::depthwise_conv2d_backward_data(*d, dy, w, dx); });
}
int depthwise_conv2d_backward_filter_workspace(int, const GtDepthwise2d*, size_t* floats) {
  *floats = 0;  // the CPU kernel keeps its per-chunk sums itself
  return GT_OK;
}
int depthwise_conv2d_backward_filter_f32(int, const GtDepthwise2d* d, const float* x, const float* dy, float* dw,
                                         float*, void*) {
  return guarded([&] { cpu::depthwise_conv2d_backward_filter(*d, x, dy, dw); });
}

int pool2d_forward_f32(int, const GtWindow2d* g, int kind, const float* x, float* y, int32_t* argmax, void*) {
  return guarded([&] {
    if (argmax != nullptr)  // max pooling (argmax is for max only): values and argmax in one pass
      cpu::max_pool2d_argmax(*g, x, argmax, y);
    else
      cpu::pool2d_forward(*g, static_cast<GtPoolKind>(kind), x, y);
  });
}
int max_pool2d_backward_f32(int, const GtWindow2d* g, const float* dy, const int32_t* argmax, float* dx,
                            void*) {
  return guarded([&] { cpu::max_pool2d_backward(*g, dy, argmax, dx); });
}
int avg_pool2d_backward_f32(int, const GtWindow2d* g, const float* dy, float* dx, void*) {
  return guarded([&] { cpu::avg_pool2d_backward(*g, dy, dx); });
}
int global_avg_pool2d_forward_f32(int, int64_t n, int64_t hw, int64_t c, const float* x, float* y, void*) {
  return guarded([&] { cpu::global_avg_pool2d_forward(n, hw, c, x, y); });
}
int global_avg_pool2d_backward_f32(int, int64_t n, int64_t hw, int64_t c, const float* dy, float* dx, void*) {
  return guarded([&] { cpu::global_avg_pool2d_backward(n, hw, c, dy, dx); });
}

int activation_forward_f32(int, int kind, int64_t n, const float* x, float* y, void*) {
  bool listed = false;
  const int status = guarded([&] { listed = cpu::activation_forward(kind, n, x, y); });
  return status != GT_OK || listed ? status : fail(GT_ERR_GPU, "unknown activation kind");
}
int activation_backward_f32(int, int kind, int64_t n, const float* dy, const float* xy, float* dx, void*) {
  bool listed = false;
  const int status = guarded([&] { listed = cpu::activation_backward(kind, n, dy, xy, dx); });
  return status != GT_OK || listed ? status : fail(GT_ERR_GPU, "unknown activation kind");
}
int softmax_forward_f32(int, int64_t rows, int64_t cols, const float* x, float* y, void*) {
  return guarded([&] { cpu::softmax_forward(rows, cols, x, y); });
}
int softmax_backward_f32(int, int64_t rows, int64_t cols, const float* dy, const float* y, float* dx, void*) {
  return guarded([&] { cpu::softmax_backward(rows, cols, dy, y, dx); });
}
int log_softmax_forward_f32(int, int64_t outer, int64_t cols, int64_t inner, const float* x, float* y, void*) {
  return guarded([&] { cpu::log_softmax_forward(outer, cols, inner, x, y); });
}
int log_softmax_backward_f32(int, int64_t outer, int64_t cols, int64_t inner, const float* dy, const float* y,
                             float* dx, void*) {
  return guarded([&] { cpu::log_softmax_backward(outer, cols, inner, dy, y, dx); });
}

int dropout_forward_f32(int, int64_t n, const float* x, uint64_t seed, const GtStepScalars* step,
                        uint32_t threshold, float scale, float* y, uint8_t* mask, void*) {
  return guarded([&] {
    cpu::dropout_forward(n, x, step ? splitmix64(seed + step->step) : seed, threshold, scale, y, mask);
  });
}
int dropout_backward_f32(int, int64_t n, const float* dy, const uint8_t* mask, float scale, float* dx, void*) {
  return guarded([&] { cpu::dropout_backward(n, dy, mask, scale, dx); });
}

int softmax_cross_entropy_workspace(int, int64_t, size_t* floats) { *floats = 0; return GT_OK; }
int softmax_cross_entropy_f32(int, int64_t rows, int64_t classes, const float* logits, const int32_t* labels,
                              const float* class_weight, int64_t ignore_index, int reduction, float* loss,
                              float* dlogits, float*, void*) {
  return guarded([&] {
    cpu::softmax_cross_entropy(rows, classes, logits, labels, class_weight, ignore_index, reduction, loss, dlogits);
  });
}
int binary_cross_entropy_workspace(int, size_t* floats) { *floats = 0; return GT_OK; }
int binary_cross_entropy_f32(int, int64_t n, const float* input, const float* target, int from_logits,
                             float* loss, float* dinput, float*, void*) {
  return guarded([&] { cpu::binary_cross_entropy(n, input, target, from_logits != 0, loss, dinput); });
}

int point_loss_workspace(int, size_t* floats) { *floats = 0; return GT_OK; }
int point_loss_f32(int, int kind, int64_t n, const float* input, const float* target, float param, float* loss,
                   float* dinput, float*, void*) {
  bool listed = false;
  const int status = guarded([&] { listed = cpu::point_loss(kind, n, input, target, param, loss, dinput); });
  return status != GT_OK || listed ? status : fail(GT_ERR_GPU, "unknown loss kind");
}
int weight_penalty_workspace(int, size_t* floats) { *floats = 0; return GT_OK; }
int weight_penalty_f32(int, int64_t n, const float* x, float l1, float l2, float scale, float* grad, int accumulate,
                       float* penalty, float*, void*) {
  return guarded([&] { cpu::weight_penalty(n, x, l1, l2, scale, grad, accumulate != 0, penalty); });
}

int count_argmax_hits_f32(int, int64_t rows, int64_t classes, const float* output, const int32_t* labels,
                          float* counter, void*) {
  return guarded([&] { cpu::count_argmax_hits(rows, classes, output, labels, counter); });
}
int count_threshold_hits_f32(int, int64_t n, const float* output, const float* target, float threshold,
                             float* counter, void*) {
  return guarded([&] { cpu::count_threshold_hits(n, output, target, threshold, counter); });
}
int mark_first_nonfinite_f32(int, const float* value, const GtStepScalars* step, int64_t* first, void*) {
  return guarded([&] { cpu::mark_first_nonfinite(value, step->step, first); });
}

int batch_norm_statistics_workspace(int, int64_t, size_t* floats) { *floats = 0; return GT_OK; }
int batch_norm_statistics_f32(int, int64_t m, int64_t c, const float* x, float* mean, float* var, float*,
                              void*) {
  return guarded([&] { cpu::batch_norm_statistics(m, c, x, mean, var); });
}
int batch_norm_forward_f32(int, int64_t m, int64_t c, const float* x, const float* mean, const float* var,
                           const float* gamma, const float* beta, float epsilon, float* y, void*) {
  return guarded([&] { cpu::batch_norm_forward(m, c, x, mean, var, gamma, beta, epsilon, y); });
}
int batch_norm_update_moving_f32(int, int64_t c, const float* mean, const float* var, float* moving_mean,
                                 float* moving_var, float momentum, void*) {
  return guarded([&] { cpu::batch_norm_update_moving(c, mean, var, moving_mean, moving_var, momentum); });
}
int batch_norm_backward_workspace(int, int64_t, size_t* floats) { *floats = 0; return GT_OK; }
int batch_norm_backward_f32(int, int64_t m, int64_t c, const float* dy, const float* x, const float* mean,
                            const float* var, const float* gamma, float epsilon, float* dx, float* dgamma,
                            float* dbeta, float*, void*) {
  return guarded([&] { cpu::batch_norm_backward(m, c, dy, x, mean, var, gamma, epsilon, dx, dgamma, dbeta); });
}

// The learning rate (Adam: alpha) of this step is host memory here: the plan's step scalars when set.
int sgd_update_f32(int, int64_t n, float* param, const float* grad, float* velocity, GtSgdParams p, void*) {
  return guarded([&] {
    cpu::sgd_update(n, param, grad, velocity, p.step ? p.step->learning_rate : p.lr, p.momentum, p.nesterov != 0);
  });
}
int adam_update_f32(int, int64_t n, float* param, const float* grad, float* m, float* v, GtAdamParams p, void*) {
  return guarded([&] {
    cpu::adam_update(n, param, grad, m, v, p.step ? p.step->adam_alpha : p.alpha, p.beta_1, p.beta_2, p.epsilon);
  });
}
int rmsprop_update_f32(int, int64_t n, float* param, const float* grad, float* velocity, float* momentum_buffer,
                       float* average_grad, GtRmspropParams p, void*) {
  return guarded([&] {
    cpu::rmsprop_update(n, param, grad, velocity, momentum_buffer, average_grad,
                        p.step ? p.step->learning_rate : p.lr, p.rho, p.momentum, p.epsilon, p.centered != 0);
  });
}
int optimizer_update_f32(int, int64_t n, float* param, const float* grad, float* s0, float* s1, float* s2,
                         GtOptimizerParams p, void*) {
  return guarded([&] { cpu::optimizer_update(n, param, grad, s0, s1, s2, p); });
}

namespace {
// Filled by name from the list: an entry without a function above, or with one of another signature,
// fails to compile here.
GtBackendTable make_table() {
  GtBackendTable t = gt_backend_table_header("cpu");
#define GT_OP(Ret, Name, Params) t.Name = &::gt::cpu_backend::Name;
#include "core/op_list.h"
  return t;
}
}  // namespace

const GtBackendTable& table() {
  static const GtBackendTable filled = make_table();
  return filled;
}

}  // namespace gt::cpu_backend
