// Activations on the CPU, element-wise over contiguous float32 (softmax: over the last axis of a
// (rows, cols) view). The element-wise ones are every activation of core/activations.h, one loop
// templated on its formula; backward takes what the list says the derivative reads (x or y).
#pragma once
#include <cstdint>

namespace gt::cpu {

// y = act(x) for a listed GtActivation `kind`; false (nothing written) for any other kind.
bool activation_forward(int kind, int64_t n, const float* x, float* y);
// dx = act'(dy, t), t the forward's input or output as the list says; false for an unlisted kind.
bool activation_backward(int kind, int64_t n, const float* dy, const float* t, float* dx);
void softmax_forward(int64_t rows, int64_t cols, const float* x, float* y);
// dx = y ⊙ (dy − Σ_j dy_j y_j) per row.
void softmax_backward(int64_t rows, int64_t cols, const float* dy, const float* y, float* dx);
// log(softmax) along the middle axis of an (outer, cols, inner) view (element (o, j, i) at
// (o·cols + j)·inner + i): x − max − log Σ exp(x − max).
void log_softmax_forward(int64_t outer, int64_t cols, int64_t inner, const float* x, float* y);
// dx = dy − exp(y)·Σ_j dy_j along the same axis.
void log_softmax_backward(int64_t outer, int64_t cols, int64_t inner, const float* dy, const float* y, float* dx);

}  // namespace gt::cpu
