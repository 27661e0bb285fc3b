// Element-wise activations: OpenMP over large contiguous chunks, loop bodies written branch-free so
// they vectorise. Softmax subtracts the row maximum so exp never overflows.
#include "cpu/activation.h"

#include <cmath>

#include "core/nan_rules.h"

namespace gt::cpu {
namespace {
constexpr int64_t kParallelFrom = 1 << 15;  // below this a thread team costs more than it saves

inline float sigmoid(float x) {
  // Never exponentiates a positive number: exact-ish for large |x| and no overflow.
  const float e = std::exp(-std::fabs(x));
  return x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}
}  // namespace

void relu_forward(int64_t n, const float* x, float* y) {
#pragma omp parallel for simd schedule(static) if (n > kParallelFrom)
  for (int64_t i = 0; i < n; ++i) y[i] = relu_value(x[i]);
}

void relu_backward(int64_t n, const float* dy, const float* x, float* dx) {
#pragma omp parallel for simd schedule(static) if (n > kParallelFrom)
  for (int64_t i = 0; i < n; ++i) dx[i] = relu_grad_value(dy[i], x[i]);
}

void sigmoid_forward(int64_t n, const float* x, float* y) {
#pragma omp parallel for schedule(static) if (n > kParallelFrom)
  for (int64_t i = 0; i < n; ++i) y[i] = sigmoid(x[i]);
}

void sigmoid_backward(int64_t n, const float* dy, const float* y, float* dx) {
#pragma omp parallel for simd schedule(static) if (n > kParallelFrom)
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
}

void softmax_forward(int64_t rows, int64_t cols, const float* x, float* y) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelFrom)
  for (int64_t r = 0; r < rows; ++r) {
    const float* in = x + r * cols;
    float* out = y + r * cols;
    float m = -INFINITY;
    for (int64_t j = 0; j < cols; ++j) m = in[j] > m ? in[j] : m;
    double sum = 0.0;
    for (int64_t j = 0; j < cols; ++j) {
      out[j] = std::exp(in[j] - m);
      sum += out[j];
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t j = 0; j < cols; ++j) out[j] *= inv;
  }
}

void softmax_backward(int64_t rows, int64_t cols, const float* dy, const float* y, float* dx) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelFrom)
  for (int64_t r = 0; r < rows; ++r) {
    const float* g = dy + r * cols;
    const float* s = y + r * cols;
    double dot = 0.0;
    for (int64_t j = 0; j < cols; ++j) dot += static_cast<double>(g[j]) * s[j];
    const float d = static_cast<float>(dot);
    for (int64_t j = 0; j < cols; ++j) dx[r * cols + j] = s[j] * (g[j] - d);
  }
}

}  // namespace gt::cpu
