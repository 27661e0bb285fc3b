// Activations on the CPU, element-wise over contiguous float32 (softmax: over the last axis of a
// (rows, cols) view). Backward takes what it needs: relu the input x, sigmoid and softmax their output y.
#pragma once
#include <cstdint>

namespace gt::cpu {

void relu_forward(int64_t n, const float* x, float* y);
void relu_backward(int64_t n, const float* dy, const float* x, float* dx);  // dy except where x <= 0
void sigmoid_forward(int64_t n, const float* x, float* y);
void sigmoid_backward(int64_t n, const float* dy, const float* y, float* dx);  // dy·y·(1 − y)
void softmax_forward(int64_t rows, int64_t cols, const float* x, float* y);
// dx = y ⊙ (dy − Σ_j dy_j y_j) per row.
void softmax_backward(int64_t rows, int64_t cols, const float* dy, const float* y, float* dx);

}  // namespace gt::cpu
