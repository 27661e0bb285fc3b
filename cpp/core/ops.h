// Operation dispatch: validates arguments, picks the backend for the device, allocates outputs.
// Nothing reaches a kernel without passing through here.
#pragma once
#include "core/tensor.h"

namespace gt::ops {

// Shared checks; each throws ValueError/TypeError naming the argument(s) and shapes.
void check_dtype(const char* name, const Tensor& t, DType expected);
void check_same_shape(const char* name_a, const Tensor& a, const char* name_b, const Tensor& b);
void check_same_device(const char* name_a, const Tensor& a, const char* name_b, const Tensor& b);
void check_rank(const char* name, const Tensor& t, int rank);

// a + b, element-wise, float32, same shape and device.
Tensor add(const Tensor& a, const Tensor& b);

// float32 copy of a uint8 tensor on its device (images as stored, unscaled, as Keras converts them).
Tensor uint8_to_float32(const Tensor& x);

}  // namespace gt::ops
