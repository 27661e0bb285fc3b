// Depthwise 2-D convolution on the CPU: NHWC input, kernel (kh, kw, c, multiplier), output channel
// ch·multiplier + m (see GtDepthwise2d). Direct loops, not GEMMs: each output mixes only kh·kw values of
// one channel, too few for a GEMM to pay. Threads take whole rows (of the output, or of dx); the inner
// loops run over the contiguous NHWC channels and vectorise.
#pragma once
#include <cstdint>

#include "core/op_params.h"

namespace gt::cpu {

// y = activation(depthwise(x, w) + bias) (bias may be null).
void depthwise_conv2d_forward(const GtDepthwise2d& d, const float* x, const float* w, const float* bias,
                              GtActivation activation, float* y);
// dx from dy and the kernel.
void depthwise_conv2d_backward_data(const GtDepthwise2d& d, const float* dy, const float* w, float* dx);
// dw (overwritten) from x and dy, summed in an order that does not depend on the number of threads.
void depthwise_conv2d_backward_filter(const GtDepthwise2d& d, const float* x, const float* dy, float* dw);

}  // namespace gt::cpu
