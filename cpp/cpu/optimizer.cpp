// Optimizer updates: one pass over parameter, gradient and state, threads over contiguous chunks.
#include "cpu/optimizer.h"

#include "core/optimizer_rules.h"

namespace gt::cpu {
namespace {
constexpr int64_t kParallelFrom = 1 << 15;

// The element's slot, or null for a slot the configuration does not keep.
inline float* at(float* slot, int64_t i) { return slot != nullptr ? slot + i : nullptr; }
}  // namespace

void sgd_update(int64_t n, float* param, const float* grad, float* velocity, float lr, float momentum,
                bool nesterov) {
#pragma omp parallel for schedule(static) if (n > kParallelFrom)
  for (int64_t i = 0; i < n; ++i) rules::sgd(param[i], grad[i], at(velocity, i), lr, momentum, nesterov);
}

void adam_update(int64_t n, float* param, const float* grad, float* m, float* v, float alpha,
                 float beta_1, float beta_2, float epsilon) {
#pragma omp parallel for schedule(static) if (n > kParallelFrom)
  for (int64_t i = 0; i < n; ++i) rules::adam(param[i], grad[i], m + i, v + i, nullptr, alpha, beta_1, beta_2, epsilon);
}

void rmsprop_update(int64_t n, float* param, const float* grad, float* velocity, float* momentum_buffer,
                    float* average_grad, float lr, float rho, float momentum, float epsilon,
                    bool centered) {
#pragma omp parallel for schedule(static) if (n > kParallelFrom)
  for (int64_t i = 0; i < n; ++i)
    rules::rmsprop(param[i], grad[i], velocity + i, at(momentum_buffer, i), centered ? at(average_grad, i) : nullptr,
                   lr, rho, momentum, epsilon);
}

void optimizer_update(int64_t n, float* param, const float* grad, float* s0, float* s1, float* s2,
                      const GtOptimizerParams& o) {
  const float lr = o.step != nullptr ? o.step->learning_rate : o.lr;
  const float* factors = o.step != nullptr ? o.step->factors : o.factors;
  const float scale = rules::clip_scale(o);
#pragma omp parallel for schedule(static) if (n > kParallelFrom)
  for (int64_t i = 0; i < n; ++i)
    rules::optimizer_element(o, lr, factors, scale, param[i], grad[i], at(s0, i), at(s1, i), at(s2, i));
}

}  // namespace gt::cpu
