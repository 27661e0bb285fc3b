// 2-D max and average pooling on the CPU, NHWC. Windows are clipped to the real cells (padding cells
// never win a max and are not counted by the average). Backward gathers: each input cell sums what the
// windows covering it send, so no two threads write one cell.
#pragma once
#include <cstdint>

#include "core/op_params.h"

namespace gt::cpu {

void pool2d_forward(const GtWindow2d& g, GtPoolKind kind, const float* x, float* y);
// Window-local index (i·kw + j) of the first maximum of each output's window: what max backward needs;
// with y, max pooling's output from the same pass (as pool2d_forward computes it).
void max_pool2d_argmax(const GtWindow2d& g, const float* x, int32_t* argmax, float* y = nullptr);
void max_pool2d_backward(const GtWindow2d& g, const float* dy, const int32_t* argmax, float* dx);
void avg_pool2d_backward(const GtWindow2d& g, const float* dy, float* dx);

// Global average pooling: y (n, c) = mean over h·w of x (n, h, w, c); backward spreads dy evenly.
void global_avg_pool2d_forward(int64_t n, int64_t hw, int64_t c, const float* x, float* y);
void global_avg_pool2d_backward(int64_t n, int64_t hw, int64_t c, const float* dy, float* dx);

}  // namespace gt::cpu
