// Loss kernels: rows in parallel, loss sums in double so the mean over a large batch keeps float32's
// precision.
#include "cpu/loss.h"

#include <cmath>

#include "core/op_params.h"
#include "core/penalty.h"
#include "core/point_losses.h"

namespace gt::cpu {

void softmax_cross_entropy(int64_t rows, int64_t classes, const float* logits, const int32_t* labels,
                           const float* class_weight, int64_t ignore_index, int reduction, float* loss,
                           float* dlogits) {
  auto weight = [&](int64_t r) -> float {
    if (labels[r] == ignore_index) return 0.0f;
    return class_weight != nullptr ? class_weight[labels[r]] : 1.0f;
  };
  // The mean's divisor first, since every gradient row is scaled by it: Σ w_r (the rows not ignored, when
  // unweighted). 0/0 is NaN, as np.mean of nothing and PyTorch's mean over only ignored rows.
  double weights = 0.0;
  if (reduction == GT_REDUCTION_MEAN)
    for (int64_t r = 0; r < rows; ++r) weights += weight(r);
  const float scale = reduction == GT_REDUCTION_MEAN ? static_cast<float>(1.0 / weights) : 1.0f;
  double total = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : total) if (rows * classes > (1 << 15))
  for (int64_t r = 0; r < rows; ++r) {
    float* g = dlogits + r * classes;
    if (labels[r] == ignore_index) {  // no loss, no gradient; its label need not be a class
      for (int64_t j = 0; j < classes; ++j) g[j] = 0.0f;
      if (reduction == GT_REDUCTION_NONE) loss[r] = 0.0f;
      continue;
    }
    const float* z = logits + r * classes;
    float m = -INFINITY;
    for (int64_t j = 0; j < classes; ++j) m = z[j] > m ? z[j] : m;
    double sum = 0.0;
    for (int64_t j = 0; j < classes; ++j) {
      g[j] = std::exp(z[j] - m);
      sum += g[j];
    }
    const int32_t label = labels[r];
    const float w = weight(r);
    const double row_loss = static_cast<double>(w) * (std::log(sum) + m - z[label]);
    if (reduction == GT_REDUCTION_NONE) loss[r] = static_cast<float>(row_loss);
    total += row_loss;
    const float inv = static_cast<float>(1.0 / sum), row_scale = w * scale;
    for (int64_t j = 0; j < classes; ++j) g[j] = g[j] * inv * row_scale;
    g[label] -= row_scale;
  }
  if (reduction == GT_REDUCTION_MEAN) *loss = static_cast<float>(total / weights);
  if (reduction == GT_REDUCTION_SUM) *loss = static_cast<float>(total);
}

void binary_cross_entropy(int64_t n, const float* input, const float* target, bool from_logits,
                          float* loss, float* dinput) {
  double total = 0.0;
  const float inv_n = n > 0 ? 1.0f / static_cast<float>(n) : 0.0f;
  const float eps = kBceEpsilon;
#pragma omp parallel for schedule(static) reduction(+ : total) if (n > (1 << 15))
  for (int64_t i = 0; i < n; ++i) {
    const float t = target[i];
    if (from_logits) {
      const float z = input[i];
      const float e = std::exp(-std::fabs(z));
      total += (z > 0.0f ? z : 0.0f) - z * t + std::log1p(e);
      const float s = z >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
      dinput[i] = (s - t) * inv_n;
    } else {
      const float p = input[i];
      const float pc = p < eps ? eps : (p > 1.0f - eps ? 1.0f - eps : p);
      total += -(t * std::log(pc) + (1.0f - t) * std::log(1.0f - pc));
      const bool clipped = p < eps || p > 1.0f - eps;
      dinput[i] = clipped ? 0.0f : -(t / pc - (1.0f - t) / (1.0f - pc)) * inv_n;
    }
  }
  *loss = static_cast<float>(total / static_cast<double>(n));  // 0/0: NaN when empty, as np.mean
}

bool point_loss(int kind, int64_t n, const float* input, const float* target, float param, float* loss,
                float* dinput) {
  return with_point_loss(kind, [&](auto formula) {
    using Formula = decltype(formula);
    double total = 0.0;
    const float inv_n = n > 0 ? 1.0f / static_cast<float>(n) : 0.0f;
#pragma omp parallel for schedule(static) reduction(+ : total) if (n > (1 << 15))
    for (int64_t i = 0; i < n; ++i) {
      total += Formula::value(input[i], target[i], param);
      if (dinput) dinput[i] = Formula::grad(input[i], target[i], param) * inv_n;
    }
    *loss = static_cast<float>(total / static_cast<double>(n));  // 0/0: NaN when empty, as np.mean
  });
}

void weight_penalty(int64_t n, const float* x, float l1, float l2, float scale, float* grad, bool accumulate,
                    float* penalty) {
  double total = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : total) if (n > (1 << 15))
  for (int64_t i = 0; i < n; ++i) {
    total += penalty_value(x[i], l1, l2);
    if (grad) {
      const float g = scale * penalty_grad(x[i], l1, l2);
      grad[i] = accumulate ? grad[i] + g : g;
    }
  }
  if (penalty) *penalty = static_cast<float>(total * static_cast<double>(scale));
}

}  // namespace gt::cpu
