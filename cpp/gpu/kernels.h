// Kernel entries of the backend table, one line per op; each is defined in its op family's .cu file
// (contracts in cpp/core/backend_table.h). Also the device limits that launchers size grids with.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/op_params.h"

namespace gt::gpu {

// Queried from the device on every launch that needs them (an attribute read, no synchronisation):
// the warp (wavefront) width is 32 on NVIDIA and RDNA, 64 on CDNA, never assumed.
struct DeviceLimits {
  int sm_count = 0;
  int warp_size = 0;
};
int device_limits(int device, DeviceLimits* limits);

int add_f32(int device, const float* a, const float* b, float* out, int64_t n, void* stream);
int cast_u8_f32(int device, int64_t n, const uint8_t* src, float* out, void* stream);

// gemm.cu
int sgemm_workspace(int device, int64_t m, int64_t n, int64_t k, size_t* floats);
int sgemm_f32(int device, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, const float* a,
              int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc, int accumulate,
              const float* bias, int activation, float* workspace, void* stream);
int column_sums_f32(int device, const float* a, int64_t rows, int64_t cols, float* sums, float* workspace,
                    void* stream);

// conv2d.cu
int conv2d_forward_f32(int device, const GtWindow2d* g, int64_t k, const float* x, const float* w,
                       const float* bias, int activation, float* y, void* stream);
int conv2d_backward_data_f32(int device, const GtWindow2d* g, int64_t k, const float* dy, const float* w,
                             float* dx, void* stream);
int conv2d_backward_filter_workspace(int device, const GtWindow2d* g, int64_t k, size_t* floats);
int conv2d_backward_filter_f32(int device, const GtWindow2d* g, int64_t k, const float* x,
                               const float* dy, float* dw, float* workspace, void* stream);

// pool2d.cu
int pool2d_forward_f32(int device, const GtWindow2d* g, int kind, const float* x, float* y, int32_t* argmax,
                       void* stream);
int max_pool2d_backward_f32(int device, const GtWindow2d* g, const float* dy, const int32_t* argmax, float* dx,
                            void* stream);
int avg_pool2d_backward_f32(int device, const GtWindow2d* g, const float* dy, float* dx, void* stream);
int global_avg_pool2d_forward_f32(int device, int64_t n, int64_t hw, int64_t c, const float* x, float* y,
                                  void* stream);
int global_avg_pool2d_backward_f32(int device, int64_t n, int64_t hw, int64_t c, const float* dy,
                                   float* dx, void* stream);

// activation.cu
int activation_forward_f32(int device, int kind, int64_t n, const float* x, float* y, void* stream);
int activation_backward_f32(int device, int kind, int64_t n, const float* dy, const float* xy, float* dx,
                            void* stream);
int softmax_forward_f32(int device, int64_t rows, int64_t cols, const float* x, float* y, void* stream);
int softmax_backward_f32(int device, int64_t rows, int64_t cols, const float* dy, const float* y,
                         float* dx, void* stream);

// dropout.cu
int dropout_forward_f32(int device, int64_t n, const float* x, uint64_t seed, const GtStepScalars* step,
                        uint32_t threshold, float scale, float* y, uint8_t* mask, void* stream);
int dropout_backward_f32(int device, int64_t n, const float* dy, const uint8_t* mask, float scale,
                         float* dx, void* stream);

// loss.cu
int softmax_cross_entropy_f32(int device, int64_t rows, int64_t classes, const float* logits,
                              const int32_t* labels, float* loss, float* dlogits, float* workspace,
                              void* stream);
int binary_cross_entropy_f32(int device, int64_t n, const float* input, const float* target,
                             int from_logits, float* loss, float* dinput, float* workspace, void* stream);

// batch_norm.cu
int batch_norm_statistics_f32(int device, int64_t m, int64_t c, const float* x, float* mean, float* var,
                              float* workspace, void* stream);
int batch_norm_forward_f32(int device, int64_t m, int64_t c, const float* x, const float* mean,
                           const float* var, const float* gamma, const float* beta, float epsilon,
                           float* y, void* stream);
int batch_norm_update_moving_f32(int device, int64_t c, const float* mean, const float* var,
                                 float* moving_mean, float* moving_var, float momentum, void* stream);
int batch_norm_backward_f32(int device, int64_t m, int64_t c, const float* dy, const float* x,
                            const float* mean, const float* var, const float* gamma, float epsilon,
                            float* dx, float* dgamma, float* dbeta, float* workspace, void* stream);

// optimizer.cu
int sgd_update_f32(int device, int64_t n, float* param, const float* grad, float* velocity,
                   GtSgdParams params, void* stream);
int adam_update_f32(int device, int64_t n, float* param, const float* grad, float* m, float* v,
                    GtAdamParams params, void* stream);
int rmsprop_update_f32(int device, int64_t n, float* param, const float* grad, float* velocity,
                       float* momentum_buffer, float* average_grad, GtRmspropParams params, void* stream);

// metrics.cu
int count_argmax_hits_f32(int device, int64_t rows, int64_t classes, const float* output,
                          const int32_t* labels, float* counter, void* stream);
int count_threshold_hits_f32(int device, int64_t n, const float* output, const float* target,
                             float threshold, float* counter, void* stream);
int mark_first_nonfinite_f32(int device, const float* value, const GtStepScalars* step, int64_t* first,
                             void* stream);

// step_graph.cu
int write_step_scalars(int device, GtStepScalars* dst, GtStepScalars value, void* stream);
int graph_capture_begin(int device, void** stream);
int graph_capture_end(int device, void* stream, void** graph);
int graph_launch(int device, void* graph);
int graph_destroy(int device, void* graph);

}  // namespace gt::gpu
