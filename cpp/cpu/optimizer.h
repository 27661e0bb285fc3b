// Optimizer updates on the CPU, in place, with Keras 3's formulas (g = gradient, p = parameter):
//  SGD:     v = momentum·v − lr·g;  p += v  (Nesterov: p += momentum·v − lr·g);  momentum 0: p −= lr·g
//  Adam:    m += (g − m)(1 − β₁);  v += (g² − v)(1 − β₂);  p −= α·m / (√v + ε),
//           α = lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ) (computed by dispatch, in double, from the step t)
//  RMSprop: v = ρ·v + (1 − ρ)·g²;  centered: a = ρ·a + (1 − ρ)·g, d = v − a² + ε, else d = v + ε;
//           inc = lr·g/√d;  momentum > 0: b = momentum·b + inc, p −= b;  else p −= inc
#pragma once
#include <cstdint>

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

}  // namespace gt::cpu
