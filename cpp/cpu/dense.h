// Dense (fully connected) layer on the CPU: x (m, in) · kernel (in, out) + bias (out). Backward needs
// x and the kernel: dx = dy·kernelᵀ, dkernel = xᵀ·dy, dbias = column sums of dy.
#pragma once
#include <cstdint>

#include "core/op_params.h"

namespace gt::cpu {

void dense_forward(int64_t m, int64_t in, int64_t out, const float* x, const float* kernel,
                   const float* bias, GtActivation activation, float* y);
// Any of dx, dkernel, dbias may be null when that gradient is not wanted.
void dense_backward(int64_t m, int64_t in, int64_t out, const float* dy, const float* x,
                    const float* kernel, float* dx, float* dkernel, float* dbias);

// sums[j] = Σ_i a[i, j] over a row-major (rows, cols) matrix (the bias gradient of dense and conv).
void column_sums(const float* a, int64_t rows, int64_t cols, float* sums);

}  // namespace gt::cpu
