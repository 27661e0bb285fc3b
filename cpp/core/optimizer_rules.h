// One element's optimizer update, Keras 3's formulas (g = gradient, p = parameter), shared by the CPU
// and GPU kernels so both compute them from one definition:
//  SGD:      v = momentum·v − lr·g;  p += v  (Nesterov: p += momentum·v − lr·g);  momentum 0: p −= lr·g
//  Adam:     m += (g − m)(1 − β₁);  v += (g² − v)(1 − β₂);  amsgrad: v̂ = max(v̂, v), v = v̂;
//            p −= α·m/(√v + ε), α = lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ)
//  RMSprop:  v = ρ·v + (1 − ρ)·g²;  centered: a = ρ·a + (1 − ρ)·g, d = v − a² + ε, else d = v + ε;
//            inc = lr·g/√d;  momentum > 0: b = momentum·b + inc, p −= b;  else p −= inc
//  Adamax:   m += (g − m)(1 − β₁);  u = max(β₂·u, |g|);  p −= lr/(1 − β₁ᵗ)·m/(u + ε)
//  Adagrad:  a += g²;  p −= lr·g/√(a + ε)
//  Adadelta: a = ρ·a + (1 − ρ)·g²;  Δ = −√(d + ε)/√(a + ε)·g;  d = ρ·d + (1 − ρ)·Δ²;  p += lr·Δ
//  Lion:     p −= lr·sign(β₁·m + (1 − β₁)·g);  m = β₂·m + (1 − β₂)·g
//  Nadam:    m += (g − m)(1 − β₁);  v += (g² − v)(1 − β₂);  p −= (f₀·m + f₁·g)/(√(f₂·v) + ε), the
//            factors f from the step (nn_train.cpp: optimizer_step_factors)
// A maximum keeps a NaN (as NumPy's), so a NaN gradient is never silently dropped.
#pragma once
#include <math.h>

#include "core/host_device.h"
#include "core/op_params.h"

namespace gt::rules {

GT_HOST_DEVICE inline float max_keeping_nan(float a, float b) { return (a != a || a > b) ? a : b; }

GT_HOST_DEVICE inline float sign_of(float x) { return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : x); }

GT_HOST_DEVICE inline void sgd(float& p, float g, float* velocity, float lr, float momentum, bool nesterov) {
  if (momentum == 0.0f) {
    p -= lr * g;
    return;
  }
  const float v = momentum * *velocity - lr * g;
  *velocity = v;
  p += nesterov ? momentum * v - lr * g : v;
}

GT_HOST_DEVICE inline void adam(float& p, float g, float* m, float* v, float* v_hat, float alpha, float beta_1,
                                float beta_2, float epsilon) {
  const float mi = *m + (g - *m) * (1.0f - beta_1);
  float vi = *v + (g * g - *v) * (1.0f - beta_2);
  *m = mi;
  *v = vi;
  if (v_hat != nullptr) {
    vi = max_keeping_nan(*v_hat, vi);
    *v_hat = vi;
  }
  p -= alpha * mi / (sqrtf(vi) + epsilon);
}

GT_HOST_DEVICE inline void rmsprop(float& p, float g, float* velocity, float* momentum_buffer, float* average_grad,
                                   float lr, float rho, float momentum, float epsilon) {
  const float v = rho * *velocity + (1.0f - rho) * g * g;
  *velocity = v;
  float denominator = v + epsilon;
  if (average_grad != nullptr) {
    const float a = rho * *average_grad + (1.0f - rho) * g;
    *average_grad = a;
    denominator -= a * a;
  }
  const float increment = lr * g / sqrtf(denominator);
  if (momentum > 0.0f) {
    const float b = momentum * *momentum_buffer + increment;
    *momentum_buffer = b;
    p -= b;
  } else {
    p -= increment;
  }
}

// The factor the gradient is scaled by for norm clipping: clipnorm/‖g‖ above clipnorm, else 1 (NaN when
// the norm is, so that a NaN gradient makes the whole update NaN, as Keras's clipping does).
GT_HOST_DEVICE inline float clip_scale(const GtOptimizerParams& o) {
  if (o.grad_sq_norm == nullptr) return 1.0f;
  const float norm = sqrtf(*o.grad_sq_norm);
  if (norm != norm) return norm;
  return norm > o.clipnorm ? o.clipnorm / norm : 1.0f;
}

// The update of one element; lr and f are this step's learning rate and factors, scale clip_scale's.
GT_HOST_DEVICE inline void optimizer_element(const GtOptimizerParams& o, float lr, const float* f, float scale,
                                             float& p, float g, float* s0, float* s1, float* s2) {
  g *= scale;
  if (o.clipvalue > 0.0f) g = g > o.clipvalue ? o.clipvalue : (g < -o.clipvalue ? -o.clipvalue : g);
  if (o.weight_decay != 0.0f) p -= p * o.weight_decay * lr;
  switch (o.kind) {
    case GT_OPTIMIZER_SGD:
      sgd(p, g, s0, lr, o.momentum, (o.flags & GT_OPTIMIZER_NESTEROV) != 0);
      break;
    case GT_OPTIMIZER_ADAM:
      adam(p, g, s0, s1, (o.flags & GT_OPTIMIZER_AMSGRAD) ? s2 : nullptr, f[0], o.beta_1, o.beta_2, o.epsilon);
      break;
    case GT_OPTIMIZER_RMSPROP:
      rmsprop(p, g, s0, s1, (o.flags & GT_OPTIMIZER_CENTERED) ? s2 : nullptr, lr, o.rho, o.momentum, o.epsilon);
      break;
    case GT_OPTIMIZER_ADAMAX: {
      const float m = *s0 + (g - *s0) * (1.0f - o.beta_1);
      const float u = max_keeping_nan(o.beta_2 * *s1, fabsf(g));
      *s0 = m;
      *s1 = u;
      p -= f[0] * m / (u + o.epsilon);
      break;
    }
    case GT_OPTIMIZER_ADAGRAD: {
      const float a = *s0 + g * g;
      *s0 = a;
      p -= lr * g / sqrtf(a + o.epsilon);
      break;
    }
    case GT_OPTIMIZER_ADADELTA: {
      const float a = o.rho * *s0 + (1.0f - o.rho) * g * g;
      const float delta = -sqrtf(*s1 + o.epsilon) * g / sqrtf(a + o.epsilon);
      *s0 = a;
      *s1 = o.rho * *s1 + (1.0f - o.rho) * delta * delta;
      p += lr * delta;
      break;
    }
    case GT_OPTIMIZER_LION:
      p -= lr * sign_of(*s0 * o.beta_1 + g * (1.0f - o.beta_1));
      *s0 = *s0 * o.beta_2 + g * (1.0f - o.beta_2);
      break;
    case GT_OPTIMIZER_NADAM: {
      const float m = *s0 + (g - *s0) * (1.0f - o.beta_1);
      const float v = *s1 + (g * g - *s1) * (1.0f - o.beta_2);
      *s0 = m;
      *s1 = v;
      p -= (f[0] * m + f[1] * g) / (sqrtf(f[2] * v) + o.epsilon);
      break;
    }
    default:
      break;  // checked by dispatch
  }
}

}  // namespace gt::rules
