// 2-D convolution on the CPU: NHWC input, HWIO kernel (kh, kw, c, k), NHWK output, as GEMMs on the
// shared SGEMM over the im2col matrix (rows = output pixels, columns = kh·kw·c in HWIO's own order),
// read from x without being materialised; see conv2d.cpp for each pass.
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

// Largest block of the strided data gradient's columns, in floats (at least one image's); returns the
// previous value.
int64_t set_conv2d_column_budget(int64_t floats);

}  // namespace gt::cpu
