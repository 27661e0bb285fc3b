// Every entry of the backend table, listed once: GT_OP(return type, name, (parameters)). Including this
// file expands GT_OP once per entry, so the table's fields, each backend's declarations and the code that
// fills a table by name all come from here (see backend_table.h). No include guard: include it after
// defining GT_OP; it undefines GT_OP at its end. Contracts are documented beside each entry.
//
// Conventions: every entry but last_error returns a GtStatus. Plain C types only (the modules may be
// built by other compilers). Kernels take the device index first and the vendor's stream last (null:
// the device's compute stream; the CPU has none and finishes before it returns). Pointers are memory of
// `device`. Workspaces are memory that dispatch allocates, sized by the matching *_workspace entry in
// floats (0 where a backend needs none, as on the CPU). Adding an entry: one GT_OP line here, one
// function of that name in each backend (cpp/cpu/backend.cpp, cpp/gpu/*.cu), and GT_BACKEND_ABI_VERSION
// bumped.

#ifndef GT_OP
#error "define GT_OP(Ret, Name, Params) before including core/op_list.h"
#endif

// ---- runtime: devices, memory, copies ----
// A message for the calling thread's last failed entry.
GT_OP(const char*, last_error, (void))
GT_OP(int, runtime_version, (int* version))
GT_OP(int, driver_version, (int* version))
GT_OP(int, device_count, (int* count))
GT_OP(int, device_name, (int device, char* name, size_t capacity))
GT_OP(int, mem_info, (int device, size_t* free_bytes, size_t* total_bytes))
GT_OP(int, allocate, (int device, size_t nbytes, void** ptr))
GT_OP(int, release, (int device, void* ptr))
GT_OP(int, copy_to_device, (int device, void* dst, const void* src, size_t nbytes))
GT_OP(int, copy_to_host, (int device, void* dst, const void* src, size_t nbytes))
GT_OP(int, copy_device_to_device, (int dst_device, void* dst, int src_device, const void* src, size_t nbytes))
// Ordered on `stream`, asynchronous with respect to the host.
GT_OP(int, fill_zero, (int device, void* ptr, size_t nbytes, void* stream))
// A device-to-device copy ordered on `stream`.
GT_OP(int, copy_device_async, (int device, void* dst, const void* src, size_t nbytes, void* stream))
GT_OP(int, synchronize, (int device))

// ---- page-locked host memory, events and the copy stream (GtStreamKind) ----
// Page-locked (pinned) host memory, usable by every device of the backend; only such memory lets
// copy_to_device_async return before the copy is done. Taken with `device` current, so no context
// is created on another device. host_free_pinned waits for nothing: the caller must know that no
// copy still reads the memory (event_synchronize on the copy's event).
GT_OP(int, host_alloc_pinned, (int device, size_t nbytes, void** ptr))
GT_OP(int, host_free_pinned, (int device, void* ptr))
// Events mark a point in a stream (timing disabled: they only order work). An event that was never
// recorded counts as complete. event_destroy may be called while the event is pending.
GT_OP(int, event_create, (int device, void** event))
GT_OP(int, event_destroy, (int device, void* event))
// Marks the point after all work enqueued so far on `stream_kind` (a GtStreamKind).
GT_OP(int, event_record, (int device, void* event, int stream_kind))
// Work enqueued on `stream_kind` after this call starts only once `event` is complete; the host does
// not wait.
GT_OP(int, stream_wait_event, (int device, int stream_kind, void* event))
// The host waits until `event` is complete.
GT_OP(int, event_synchronize, (int device, void* event))
// *done = 1 when `event` is complete, else 0; never waits.
GT_OP(int, event_query, (int device, void* event, int* done))
// Enqueues a host-to-device copy on the device's copy stream and returns; `src` must be pinned (from
// host_alloc_pinned) for the copy to be asynchronous, and must not change until an event recorded on
// the copy stream after it is complete. Nothing on the compute stream waits for it unless told to.
GT_OP(int, copy_to_device_async, (int device, void* dst, const void* src, size_t nbytes))

// ---- training steps captured once and replayed as graphs ----
// *dst = value, ordered on `stream`; the value travels as a kernel argument, so the host may change
// its copy at once.
GT_OP(int, write_step_scalars, (int device, GtStepScalars* dst, GtStepScalars value, void* stream))
// Starts capturing this thread's work into a graph: returns a new stream on which every kernel,
// copy and fill of the step must be enqueued (work sent to the compute stream meanwhile runs at once
// and is not captured). Nothing enqueued on it runs until the graph is launched. No allocation may
// happen on this thread until graph_capture_end. A backend without graphs (the CPU) fails it.
GT_OP(int, graph_capture_begin, (int device, void** stream))
// Ends the capture begun on `stream` and destroys the stream. On success *graph is an executable
// graph of the captured work; on failure (the capture broke, or the runtime cannot instantiate it)
// *graph is null, nothing is left capturing, and last_error() says why.
GT_OP(int, graph_capture_end, (int device, void* stream, void** graph))
// Runs the graph's work once on the compute stream, after what was enqueued there before.
GT_OP(int, graph_launch, (int device, void* graph))
GT_OP(int, graph_destroy, (int device, void* graph))

// ---- element-wise ----
GT_OP(int, add_f32, (int device, const float* a, const float* b, float* out, int64_t n, void* stream))
// See GtStridedCopy (core/op_params.h); src and dst must not overlap.
GT_OP(int, strided_copy_f32, (int device, const GtStridedCopy* c, const float* src, float* dst, void* stream))
// y[r, j] = act(x[r, j] + bias[j]) over a (rows, cols) view, act a GtActivation (NONE: none), bias
// possibly null; y may be x.
GT_OP(int, bias_activation_f32, (int device, int64_t rows, int64_t cols, const float* x, const float* bias,
                                 int activation, float* y, void* stream))
// out[i] = a[i] op b[i], op a GtBinaryOp; out may be a or b.
GT_OP(int, binary_f32, (int device, int op, int64_t n, const float* a, const float* b, float* out, void* stream))
// The gradient of y = max (or min) of several inputs for one input x, the inputs taken in order: dx[i] =
// dy[i] where x[i] is y[i] (or both are NaN) and no earlier input was (taken[i] == 0), else 0; then
// taken[i] = 1 there. dx may be null (the input needs no gradient; taken is still updated).
GT_OP(int, select_grad_f32, (int device, int64_t n, const float* dy, const float* x, const float* y,
                             uint8_t* taken, float* dx, void* stream))
// uint8 images to float32 on the device.
GT_OP(int, cast_u8_f32, (int device, int64_t n, const uint8_t* src, float* out, void* stream))

// ---- GEMM ----
// Row-major C[m,n] = act(op(A)·op(B) (+ C if accumulate) (+ bias[n])), act a GtActivation (NONE for
// a plain product); see cpp/cpu/gemm.h. The workspace holds split-K partial products of short, deep
// GEMMs.
GT_OP(int, sgemm_workspace, (int device, int64_t m, int64_t n, int64_t k, size_t* floats))
GT_OP(int, sgemm_f32, (int device, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, const float* a,
                       int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc, int accumulate,
                       const float* bias, int activation, float* workspace, void* stream))
// sums[j] = Σ_i a[i,j].
GT_OP(int, column_sums_workspace, (int device, int64_t cols, size_t* floats))
GT_OP(int, column_sums_f32, (int device, const float* a, int64_t rows, int64_t cols, float* sums,
                             float* workspace, void* stream))

// ---- convolution: NHWC input, HWIO kernel, k output channels; see cpp/cpu/conv2d.h ----
// The forward fuses bias and activation (a GtActivation) into its store.
GT_OP(int, conv2d_forward_f32, (int device, const GtWindow2d* g, int64_t k, const float* x, const float* w,
                                const float* bias, int activation, float* y, void* stream))
GT_OP(int, conv2d_backward_data_f32, (int device, const GtWindow2d* g, int64_t k, const float* dy,
                                      const float* w, float* dx, void* stream))
// The filter gradient only (dispatch adds the bias gradient with column_sums_f32, in the same workspace).
GT_OP(int, conv2d_backward_filter_workspace, (int device, const GtWindow2d* g, int64_t k, size_t* floats))
GT_OP(int, conv2d_backward_filter_f32, (int device, const GtWindow2d* g, int64_t k, const float* x,
                                        const float* dy, float* dw, float* workspace, void* stream))

// ---- depthwise convolution: NHWC input, kernel (kh, kw, c, multiplier), c·multiplier output channels
// (channel ch·multiplier + m); see GtDepthwise2d. Taps over padding multiply zeros (0·Inf is NaN) ----
// The forward fuses bias (may be null) and activation (a GtActivation) into its store.
GT_OP(int, depthwise_conv2d_forward_f32, (int device, const GtDepthwise2d* d, const float* x, const float* w,
                                          const float* bias, int activation, float* y, void* stream))
GT_OP(int, depthwise_conv2d_backward_data_f32, (int device, const GtDepthwise2d* d, const float* dy,
                                                const float* w, float* dx, void* stream))
// The filter gradient only (dispatch adds the bias gradient with column_sums_f32, in the same workspace),
// reduced in a fixed order: the same bits every run.
GT_OP(int, depthwise_conv2d_backward_filter_workspace, (int device, const GtDepthwise2d* d, size_t* floats))
GT_OP(int, depthwise_conv2d_backward_filter_f32, (int device, const GtDepthwise2d* d, const float* x,
                                                  const float* dy, float* dw, float* workspace, void* stream))

// ---- pooling (kind: GtPoolKind) ----
// The forward writes y and, for max, the window-local index (i·kw + j) of each window's first maximum
// into argmax (one int32 per output); either may be null, not both. Max backward gathers dy through
// such an argmax.
GT_OP(int, pool2d_forward_f32, (int device, const GtWindow2d* g, int kind, const float* x, float* y,
                                int32_t* argmax, void* stream))
GT_OP(int, max_pool2d_backward_f32, (int device, const GtWindow2d* g, const float* dy, const int32_t* argmax,
                                     float* dx, void* stream))
GT_OP(int, avg_pool2d_backward_f32, (int device, const GtWindow2d* g, const float* dy, float* dx,
                                     void* stream))
GT_OP(int, global_avg_pool2d_forward_f32, (int device, int64_t n, int64_t hw, int64_t c, const float* x,
                                           float* y, void* stream))
GT_OP(int, global_avg_pool2d_backward_f32, (int device, int64_t n, int64_t hw, int64_t c, const float* dy,
                                            float* dx, void* stream))

// ---- activations (kind: a listed GtActivation, see core/activations.h) ----
// Backward: xy is what the activation's derivative reads (its input or its output, as listed).
GT_OP(int, activation_forward_f32, (int device, int kind, int64_t n, const float* x, float* y, void* stream))
GT_OP(int, activation_backward_f32, (int device, int kind, int64_t n, const float* dy, const float* xy,
                                     float* dx, void* stream))
// Over the last axis of a (rows, cols) view.
GT_OP(int, softmax_forward_f32, (int device, int64_t rows, int64_t cols, const float* x, float* y,
                                 void* stream))
GT_OP(int, softmax_backward_f32, (int device, int64_t rows, int64_t cols, const float* dy, const float* y,
                                  float* dx, void* stream))

// ---- dropout ----
// With `step` set (memory of `device`), the mask's seed is splitmix64(seed + step->step) (a training
// plan's per-step masks); else `seed` itself.
GT_OP(int, dropout_forward_f32, (int device, int64_t n, const float* x, uint64_t seed, const GtStepScalars* step,
                                 uint32_t threshold, float scale, float* y, uint8_t* mask, void* stream))
GT_OP(int, dropout_backward_f32, (int device, int64_t n, const float* dy, const uint8_t* mask, float scale,
                                  float* dx, void* stream))

// ---- losses: *loss is one float in memory of `device`; labels are checked by dispatch ----
// Sparse cross-entropy from logits: row i (label y_i, weight w_i = class_weight[y_i], or 1 when
// class_weight is null; 0 when y_i == ignore_index, whose row is then skipped and may hold any label)
// has loss w_i·(logsumexp(z_i) − z_i[y_i]) and gradient w_i·(softmax(z_i) − onehot(y_i)), both divided
// by Σ w_i for GT_REDUCTION_MEAN (a GtReduction). loss holds one float (mean, sum) or one per row (none).
GT_OP(int, softmax_cross_entropy_workspace, (int device, int64_t rows, size_t* floats))
GT_OP(int, softmax_cross_entropy_f32, (int device, int64_t rows, int64_t classes, const float* logits,
                                       const int32_t* labels, const float* class_weight, int64_t ignore_index,
                                       int reduction, float* loss, float* dlogits, float* workspace,
                                       void* stream))
GT_OP(int, binary_cross_entropy_workspace, (int device, size_t* floats))
GT_OP(int, binary_cross_entropy_f32, (int device, int64_t n, const float* input, const float* target,
                                      int from_logits, float* loss, float* dinput, float* workspace,
                                      void* stream))

// Keras's element-wise losses (core/point_losses.h, `kind` a GtPointLoss): *loss = the mean of
// f(input, target) over the n elements; with dinput set, dinput = f'(input, target) / n (null: a metric,
// no gradient). param: Huber's delta.
GT_OP(int, point_loss_workspace, (int device, size_t* floats))
GT_OP(int, point_loss_f32, (int device, int kind, int64_t n, const float* input, const float* target, float param,
                            float* loss, float* dinput, float* workspace, void* stream))
// Keras's regularizers (core/penalty.h): *penalty = scale·Σ (l1·|x| + l2·x²) and grad = (with accumulate,
// grad +=) scale·(l1·sign(x) + 2·l2·x); either output may be null.
GT_OP(int, weight_penalty_workspace, (int device, size_t* floats))
GT_OP(int, weight_penalty_f32, (int device, int64_t n, const float* x, float l1, float l2, float scale,
                                float* grad, int accumulate, float* penalty, float* workspace, void* stream))

// ---- metrics: counts added into counter[0] in memory of `device` ----
// Rows whose first maximal column is their label.
GT_OP(int, count_argmax_hits_f32, (int device, int64_t rows, int64_t classes, const float* output,
                                   const int32_t* labels, float* counter, void* stream))
// Elements with (output > threshold) == (target > 0.5).
GT_OP(int, count_threshold_hits_f32, (int device, int64_t n, const float* output, const float* target,
                                      float threshold, float* counter, void* stream))
// *first = step->step + 1 when *value is NaN or infinite and *first is 0 (memory of `device`).
GT_OP(int, mark_first_nonfinite_f32, (int device, const float* value, const GtStepScalars* step, int64_t* first,
                                      void* stream))

// ---- batch normalisation over the last axis of an (m, c) view; gamma/beta may be null (1/0) ----
GT_OP(int, batch_norm_statistics_workspace, (int device, int64_t c, size_t* floats))
GT_OP(int, batch_norm_statistics_f32, (int device, int64_t m, int64_t c, const float* x, float* mean,
                                       float* var, float* workspace, void* stream))
GT_OP(int, batch_norm_forward_f32, (int device, int64_t m, int64_t c, const float* x, const float* mean,
                                    const float* var, const float* gamma, const float* beta, float epsilon,
                                    float* y, void* stream))
GT_OP(int, batch_norm_update_moving_f32, (int device, int64_t c, const float* mean, const float* var,
                                          float* moving_mean, float* moving_var, float momentum,
                                          void* stream))
GT_OP(int, batch_norm_backward_workspace, (int device, int64_t c, size_t* floats))
GT_OP(int, batch_norm_backward_f32, (int device, int64_t m, int64_t c, const float* dy, const float* x,
                                     const float* mean, const float* var, const float* gamma, float epsilon,
                                     float* dx, float* dgamma, float* dbeta, float* workspace, void* stream))

// ---- optimizer updates, in place; null state buffers where the configuration does not use them ----
GT_OP(int, sgd_update_f32, (int device, int64_t n, float* param, const float* grad, float* velocity,
                            GtSgdParams params, void* stream))
GT_OP(int, adam_update_f32, (int device, int64_t n, float* param, const float* grad, float* m, float* v,
                             GtAdamParams params, void* stream))
GT_OP(int, rmsprop_update_f32, (int device, int64_t n, float* param, const float* grad, float* velocity,
                                float* momentum_buffer, float* average_grad, GtRmspropParams params,
                                void* stream))

// ---- added after ABI 11, at the end (the existing entries keep their places) ----
// ---- layers that move values or scale them per position ----
// dst[t] = src[offset of t in the view] for every t of the view's walk (see GtStridedView); src and dst
// must not overlap. Permute and its gradient.
GT_OP(int, permute_f32, (int device, const GtStridedView* v, const float* src, float* dst, void* stream))
// PReLU over the walk v of x (the batch and the shared axes first): element t at offset o(t) gives
// y[o] = x[o] > 0 ? x[o] : alpha[t % alpha_size]·x[o]. Backward writes dx[o] (dx may be null) and
// terms[t] = alpha's share, x[o] > 0 ? 0 : dy[o]·x[o], in walk order, whose column sums over
// (walk size / alpha_size, alpha_size) are alpha's gradient.
GT_OP(int, prelu_forward_f32, (int device, const GtStridedView* v, int64_t alpha_size, const float* x,
                               const float* alpha, float* y, void* stream))
GT_OP(int, prelu_backward_f32, (int device, const GtStridedView* v, int64_t alpha_size, const float* dy,
                                const float* x, const float* alpha, float* dx, float* terms, void* stream))
// Bilinear resizing (GtResize2d). Backward gathers, for each input cell, the output cells whose taps
// read it (no atomics: deterministic).
GT_OP(int, resize_bilinear2d_forward_f32, (int device, const GtResize2d* r, const float* x, float* y,
                                           void* stream))
GT_OP(int, resize_bilinear2d_backward_f32, (int device, const GtResize2d* r, const float* dy, float* dx,
                                            void* stream))
// ---- log_softmax ----
// log(softmax(x)) along the middle axis of an (outer, cols, inner) view: element (o, j, i) at
// (o·cols + j)·inner + i; x − max − log Σ exp(x − max), a NaN anywhere in a row making the row NaN.
GT_OP(int, log_softmax_forward_f32, (int device, int64_t outer, int64_t cols, int64_t inner, const float* x,
                                     float* y, void* stream))
// dx = dy − exp(y)·Σ_j dy_j along the same axis, from the forward's output y.
GT_OP(int, log_softmax_backward_f32, (int device, int64_t outer, int64_t cols, int64_t inner, const float* dy,
                                      const float* y, float* dx, void* stream))

// ---- added after ABI 12 ----
// Any optimizer's update with Keras's options (GtOptimizerParams), in place; slots the configuration does
// not use may be null.
GT_OP(int, optimizer_update_f32, (int device, int64_t n, float* param, const float* grad, float* s0, float* s1,
                                  float* s2, GtOptimizerParams params, void* stream))

#undef GT_OP
