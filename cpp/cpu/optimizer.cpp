// Optimizer updates: one pass over parameter, gradient and state, threads over contiguous chunks.
#include "cpu/optimizer.h"

#include <cmath>

namespace gt::cpu {
namespace {
constexpr int64_t kParallelFrom = 1 << 15;
}

void sgd_update(int64_t n, float* param, const float* grad, float* velocity, float lr, float momentum,
                bool nesterov) {
  if (momentum == 0.0f) {
#pragma omp parallel for simd schedule(static) if (n > kParallelFrom)
    for (int64_t i = 0; i < n; ++i) param[i] -= lr * grad[i];
    return;
  }
#pragma omp parallel for simd schedule(static) if (n > kParallelFrom)
  for (int64_t i = 0; i < n; ++i) {
    const float v = momentum * velocity[i] - lr * grad[i];
    velocity[i] = v;
    param[i] += nesterov ? momentum * v - lr * grad[i] : v;
  }
}

void adam_update(int64_t n, float* param, const float* grad, float* m, float* v, float alpha,
                 float beta_1, float beta_2, float epsilon) {
#pragma omp parallel for schedule(static) if (n > kParallelFrom)
  for (int64_t i = 0; i < n; ++i) {
    const float g = grad[i];
    m[i] += (g - m[i]) * (1.0f - beta_1);
    v[i] += (g * g - v[i]) * (1.0f - beta_2);
    param[i] -= alpha * m[i] / (std::sqrt(v[i]) + epsilon);
  }
}

void rmsprop_update(int64_t n, float* param, const float* grad, float* velocity, float* momentum_buffer,
                    float* average_grad, float lr, float rho, float momentum, float epsilon,
                    bool centered) {
#pragma omp parallel for schedule(static) if (n > kParallelFrom)
  for (int64_t i = 0; i < n; ++i) {
    const float g = grad[i];
    velocity[i] = rho * velocity[i] + (1.0f - rho) * g * g;
    float denominator = velocity[i] + epsilon;
    if (centered) {
      average_grad[i] = rho * average_grad[i] + (1.0f - rho) * g;
      denominator -= average_grad[i] * average_grad[i];
    }
    const float increment = lr * g / std::sqrt(denominator);
    if (momentum > 0.0f) {
      momentum_buffer[i] = momentum * momentum_buffer[i] + increment;
      param[i] -= momentum_buffer[i];
    } else {
      param[i] -= increment;
    }
  }
}

}  // namespace gt::cpu
