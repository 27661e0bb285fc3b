// 2-D convolution on the CPU: NHWC input, HWIO kernel (kh, kw, c, k), NHWK output. Each pass lowers a
// block of images to an im2col matrix (rows = output pixels, columns = kh·kw·c, HWIO's own order) and
// runs the shared SGEMM; backward data turns the column gradient back into pixels by gathering.
#pragma once
#include <cstdint>

#include "core/op_params.h"

namespace gt::cpu {

// y = activation(conv(x, w) + bias) (bias may be null).
void conv2d_forward(const GtWindow2d& g, int64_t k, const float* x, const float* w, const float* bias,
                    GtActivation activation, float* y);
// dx from dy and the kernel.
void conv2d_backward_data(const GtWindow2d& g, int64_t k, const float* dy, const float* w, float* dx);
// dw (overwritten) from x and dy; dbias (may be null) = sums of dy over every output pixel.
void conv2d_backward_filter(const GtWindow2d& g, int64_t k, const float* x, const float* dy, float* dw,
                            float* dbias);

// Largest im2col block in floats (at least one image is always lowered); returns the previous value.
int64_t set_conv2d_column_budget(int64_t floats);

}  // namespace gt::cpu
