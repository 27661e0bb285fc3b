// Optimizer updates on the CPU, in place, with Keras 3's formulas (core/optimizer_rules.h).
#pragma once
#include <cstdint>

#include "core/op_params.h"

namespace gt::cpu {

// velocity may be null when momentum is 0.
void sgd_update(int64_t n, float* param, const float* grad, float* velocity, float lr, float momentum,
                bool nesterov);
void adam_update(int64_t n, float* param, const float* grad, float* m, float* v, float alpha,
                 float beta_1, float beta_2, float epsilon);
// momentum_buffer is used when momentum > 0, average_grad when centered; either may be null otherwise.
void rmsprop_update(int64_t n, float* param, const float* grad, float* velocity, float* momentum_buffer,
                    float* average_grad, float lr, float rho, float momentum, float epsilon,
                    bool centered);
// Any optimizer with Keras's weight decay and clipping (GtOptimizerParams; its step, when set, is host memory).
void optimizer_update(int64_t n, float* param, const float* grad, float* s0, float* s1, float* s2,
                      const GtOptimizerParams& params);

}  // namespace gt::cpu
