// Element-wise CPU kernels on contiguous buffers.
#pragma once
#include <cstdint>

#include "core/op_params.h"

namespace gt::cpu {

void add_f32(const float* a, const float* b, float* out, int64_t n);
void binary_f32(int op, const float* a, const float* b, float* out, int64_t n);
void bias_activation_f32(int64_t rows, int64_t cols, const float* x, const float* bias, int activation, float* y);
void select_grad_f32(const float* dy, const float* x, const float* y, uint8_t* taken, float* dx, int64_t n);
// out[i] = float(src[i]): uint8 images to float32, unscaled as Keras does.
void cast_u8_f32(const uint8_t* src, float* out, int64_t n);

}  // namespace gt::cpu
