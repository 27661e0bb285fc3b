// The C ABI through which a GPU module (_cuda, _hip) hands its runtime and kernels to _core.
// Plain C types only: the modules may be built by different compilers (g++ and nvcc's host compiler,
// or hipcc's clang), so no C++ object or exception crosses this line. Every entry returns a GtStatus;
// on failure the module's last_error() holds a message for the calling thread.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/op_params.h"

extern "C" {

enum GtStatus {
  GT_OK = 0,
  GT_ERR_NO_DEVICE = 1,      // no usable device or driver: nothing can run on this backend
  GT_ERR_OUT_OF_MEMORY = 2,  // an allocation failed for lack of device memory
  GT_ERR_GPU = 3,            // any other runtime or launch error
};

// Bump when a field is added, removed or changes meaning; _core refuses a table of another version.
#define GT_BACKEND_ABI_VERSION 5
#define GT_BACKEND_CAPSULE_NAME "gputrain.backend_table"

// Which of a device's two streams an event or a wait applies to. Kernels and synchronous copies run on
// the compute stream (the legacy default stream, the `stream` argument null; a training step replayed as
// a graph is launched there too, see graph_launch); asynchronous host-to-device
// copies run on the copy stream, created non-blocking so that it does not serialise with the compute
// stream (a blocking stream would, and no copy would overlap a kernel). Work on the two is ordered only
// through events: event_record on one, stream_wait_event on the other.
enum GtStreamKind {
  GT_STREAM_COMPUTE = 0,
  GT_STREAM_COPY = 1,
};

struct GtBackendTable {
  uint32_t abi_version;
  uint32_t struct_size;
  const char* name;  // "cuda" or "hip"

  const char* (*last_error)(void);
  int (*runtime_version)(int* version);
  int (*driver_version)(int* version);
  int (*device_count)(int* count);
  int (*device_name)(int device, char* name, size_t capacity);
  int (*mem_info)(int device, size_t* free_bytes, size_t* total_bytes);

  int (*allocate)(int device, size_t nbytes, void** ptr);
  int (*release)(int device, void* ptr);
  int (*copy_to_device)(int device, void* dst, const void* src, size_t nbytes);
  int (*copy_to_host)(int device, void* dst, const void* src, size_t nbytes);
  int (*copy_device_to_device)(int dst_device, void* dst, int src_device, const void* src, size_t nbytes);
  // Ordered on `stream` (null: the compute stream), asynchronous with respect to the host.
  int (*fill_zero)(int device, void* ptr, size_t nbytes, void* stream);
  int (*synchronize)(int device);

  // Kernels. Pointers are device pointers on `device`; `stream` is the vendor's stream (null: default).
  // Workspaces are device memory that dispatch allocates with the size stated beside each entry.
  int (*add_f32)(int device, const float* a, const float* b, float* out, int64_t n, void* stream);

  // Row-major C[m,n] = act(op(A)·op(B) (+ C if accumulate) (+ bias[n])), act a GtActivation (NONE for
  // a plain product); see cpp/cpu/gemm.h. The workspace
  // (floats from sgemm_workspace; may be 0) holds split-K partial products of short, deep GEMMs.
  int (*sgemm_workspace)(int device, int64_t m, int64_t n, int64_t k, size_t* floats);
  int (*sgemm_f32)(int device, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, const float* a,
                   int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc, int accumulate,
                   const float* bias, int activation, float* workspace, void* stream);
  // sums[j] = Σ_i a[i,j]; workspace: GT_ROW_SPLITS·cols floats.
  int (*column_sums_f32)(int device, const float* a, int64_t rows, int64_t cols, float* sums,
                         float* workspace, void* stream);

  // Convolution, NHWC input, HWIO kernel, k output channels; see cpp/cpu/conv2d.h. The forward fuses
  // bias and activation (a GtActivation) into its store.
  int (*conv2d_forward_f32)(int device, const GtWindow2d* g, int64_t k, const float* x, const float* w,
                            const float* bias, int activation, float* y, void* stream);
  int (*conv2d_backward_data_f32)(int device, const GtWindow2d* g, int64_t k, const float* dy,
                                  const float* w, float* dx, void* stream);
  // Floats of workspace that conv2d_backward_filter_f32 needs for this shape (its split-K partials).
  int (*conv2d_backward_filter_workspace)(int device, const GtWindow2d* g, int64_t k, size_t* floats);
  int (*conv2d_backward_filter_f32)(int device, const GtWindow2d* g, int64_t k, const float* x,
                                    const float* dy, float* dw, float* workspace, void* stream);

  // Pooling (kind: GtPoolKind). The forward writes y and, for max, the window-local index (i·kw + j) of
  // each window's first maximum into argmax (one int32 per output); either may be null, not both. Max
  // backward gathers dy through such an argmax.
  int (*pool2d_forward_f32)(int device, const GtWindow2d* g, int kind, const float* x, float* y,
                            int32_t* argmax, void* stream);
  int (*max_pool2d_backward_f32)(int device, const GtWindow2d* g, const float* dy, const int32_t* argmax,
                                 float* dx, void* stream);
  int (*avg_pool2d_backward_f32)(int device, const GtWindow2d* g, const float* dy, float* dx,
                                 void* stream);
  int (*global_avg_pool2d_forward_f32)(int device, int64_t n, int64_t hw, int64_t c, const float* x,
                                       float* y, void* stream);
  int (*global_avg_pool2d_backward_f32)(int device, int64_t n, int64_t hw, int64_t c, const float* dy,
                                        float* dx, void* stream);

  // Activations (kind: GtActivation). Backward takes x for relu, y for sigmoid.
  int (*activation_forward_f32)(int device, int kind, int64_t n, const float* x, float* y, void* stream);
  int (*activation_backward_f32)(int device, int kind, int64_t n, const float* dy, const float* xy,
                                 float* dx, void* stream);
  int (*softmax_forward_f32)(int device, int64_t rows, int64_t cols, const float* x, float* y,
                             void* stream);
  int (*softmax_backward_f32)(int device, int64_t rows, int64_t cols, const float* dy, const float* y,
                              float* dx, void* stream);

  // With `step` set (device memory), the mask's seed is splitmix64(seed + step->step) (a training
  // plan's per-step masks); else `seed` itself.
  int (*dropout_forward_f32)(int device, int64_t n, const float* x, uint64_t seed, const GtStepScalars* step,
                             uint32_t threshold, float scale, float* y, uint8_t* mask, void* stream);
  int (*dropout_backward_f32)(int device, int64_t n, const float* dy, const uint8_t* mask, float scale,
                              float* dx, void* stream);

  // Losses: *loss is one float in device memory. Labels are checked by dispatch to lie in range.
  // workspace: rows floats (softmax cross-entropy), GT_REDUCE_BLOCKS floats (binary cross-entropy).
  int (*softmax_cross_entropy_f32)(int device, int64_t rows, int64_t classes, const float* logits,
                                   const int32_t* labels, float* loss, float* dlogits, float* workspace,
                                   void* stream);
  int (*binary_cross_entropy_f32)(int device, int64_t n, const float* input, const float* target,
                                  int from_logits, float* loss, float* dinput, float* workspace,
                                  void* stream);

  // Batch normalisation over the last axis of an (m, c) view; gamma/beta may be null (1/0).
  // workspace: GT_ROW_SPLITS·c floats (statistics), 2·GT_ROW_SPLITS·c floats (backward).
  int (*batch_norm_statistics_f32)(int device, int64_t m, int64_t c, const float* x, float* mean,
                                   float* var, float* workspace, void* stream);
  int (*batch_norm_forward_f32)(int device, int64_t m, int64_t c, const float* x, const float* mean,
                                const float* var, const float* gamma, const float* beta, float epsilon,
                                float* y, void* stream);
  int (*batch_norm_update_moving_f32)(int device, int64_t c, const float* mean, const float* var,
                                      float* moving_mean, float* moving_var, float momentum,
                                      void* stream);
  int (*batch_norm_backward_f32)(int device, int64_t m, int64_t c, const float* dy, const float* x,
                                 const float* mean, const float* var, const float* gamma, float epsilon,
                                 float* dx, float* dgamma, float* dbeta, float* workspace, void* stream);

  // Optimizer updates, in place; null state buffers where the configuration does not use them.
  int (*sgd_update_f32)(int device, int64_t n, float* param, const float* grad, float* velocity,
                        GtSgdParams params, void* stream);
  int (*adam_update_f32)(int device, int64_t n, float* param, const float* grad, float* m, float* v,
                         GtAdamParams params, void* stream);
  int (*rmsprop_update_f32)(int device, int64_t n, float* param, const float* grad, float* velocity,
                            float* momentum_buffer, float* average_grad, GtRmspropParams params,
                            void* stream);

  // ---- version 3: page-locked host memory, events and the copy stream ----
  // Page-locked (pinned) host memory, usable by every device of the backend; only such memory lets
  // copy_to_device_async return before the copy is done. Taken with `device` current, so no context
  // is created on another device. host_free_pinned waits for nothing: the caller must know that no
  // copy still reads the memory (event_synchronize on the copy's event).
  int (*host_alloc_pinned)(int device, size_t nbytes, void** ptr);
  int (*host_free_pinned)(int device, void* ptr);
  // Events mark a point in a stream (timing disabled: they only order work). An event that was never
  // recorded counts as complete. event_destroy may be called while the event is pending.
  int (*event_create)(int device, void** event);
  int (*event_destroy)(int device, void* event);
  // Marks the point after all work enqueued so far on `stream_kind` (a GtStreamKind).
  int (*event_record)(int device, void* event, int stream_kind);
  // Work enqueued on `stream_kind` after this call starts only once `event` is complete; the host does
  // not wait.
  int (*stream_wait_event)(int device, int stream_kind, void* event);
  // The host waits until `event` is complete.
  int (*event_synchronize)(int device, void* event);
  // *done = 1 when `event` is complete, else 0; never waits.
  int (*event_query)(int device, void* event, int* done);
  // Enqueues a host-to-device copy on the device's copy stream and returns; `src` must be pinned (from
  // host_alloc_pinned) for the copy to be asynchronous, and must not change until an event recorded on
  // the copy stream after it is complete. Nothing on the compute stream waits for it unless told to.
  int (*copy_to_device_async)(int device, void* dst, const void* src, size_t nbytes);

  // ---- version 3: training-loop helpers ----
  // uint8 images to float32 on the device, and accuracy counts added
  // into counter[0] in device memory (argmax against int32 labels; output > threshold against
  // target > 0.5).
  int (*cast_u8_f32)(int device, int64_t n, const uint8_t* src, float* out, void* stream);
  int (*count_argmax_hits_f32)(int device, int64_t rows, int64_t classes, const float* output,
                               const int32_t* labels, float* counter, void* stream);
  int (*count_threshold_hits_f32)(int device, int64_t n, const float* output, const float* target,
                                  float threshold, float* counter, void* stream);

  // ---- version 4: training steps captured once and replayed as graphs ----
  // A device-to-device copy ordered on `stream` (null: the compute stream).
  int (*copy_device_async)(int device, void* dst, const void* src, size_t nbytes, void* stream);
  // *dst = value, ordered on `stream`; the value travels as a kernel argument, so the host may change
  // its copy at once.
  int (*write_step_scalars)(int device, GtStepScalars* dst, GtStepScalars value, void* stream);
  // Starts capturing this thread's work into a graph: returns a new stream on which every kernel,
  // copy and fill of the step must be enqueued (work sent to the compute stream meanwhile runs at once
  // and is not captured). Nothing enqueued on it runs until the graph is launched. No allocation may
  // happen on this thread until graph_capture_end.
  int (*graph_capture_begin)(int device, void** stream);
  // Ends the capture begun on `stream` and destroys the stream. On success *graph is an executable
  // graph of the captured work; on failure (the capture broke, or the runtime cannot instantiate it)
  // *graph is null, nothing is left capturing, and last_error() says why.
  int (*graph_capture_end)(int device, void* stream, void** graph);
  // Runs the graph's work once on the compute stream, after what was enqueued there before.
  int (*graph_launch)(int device, void* graph);
  int (*graph_destroy)(int device, void* graph);

  // ---- version 5: divergence found without waiting ----
  // *first = step->step + 1 when *value is NaN or infinite and *first is 0 (device memory, one thread).
  int (*mark_first_nonfinite_f32)(int device, const float* value, const GtStepScalars* step, int64_t* first,
                                  void* stream);
};

}  // extern "C"
