// Activations: the element-wise ones of core/activations.h with OpenMP over large contiguous chunks, one
// loop per formula so that the loop body has no switch and vectorises where the formula allows. Softmax
// subtracts the row maximum so exp never overflows.
#include "cpu/activation.h"

#include <cmath>

#include "core/activations.h"

namespace gt::cpu {
namespace {
constexpr int64_t kParallelFrom = 1 << 15;  // below this a thread team costs more than it saves

// One loop per formula, its body inlined: relu's select vectorises, as it did as a hand-written loop.
template <class Formula>
void forward_loop(int64_t n, const float* x, float* y) {
#pragma omp parallel for simd schedule(static) if (n > kParallelFrom)
  for (int64_t i = 0; i < n; ++i) y[i] = Formula::forward(x[i]);
}

template <class Formula>
void backward_loop(int64_t n, const float* dy, const float* t, float* dx) {
#pragma omp parallel for simd schedule(static) if (n > kParallelFrom)
  for (int64_t i = 0; i < n; ++i) dx[i] = Formula::backward(dy[i], t[i]);
}
}  // namespace

bool activation_forward(int kind, int64_t n, const float* x, float* y) {
  return with_activation(kind, [&](auto formula) { forward_loop<decltype(formula)>(n, x, y); });
}

bool activation_backward(int kind, int64_t n, const float* dy, const float* t, float* dx) {
  return with_activation(kind, [&](auto formula) { backward_loop<decltype(formula)>(n, dy, t, dx); });
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

// One line (o, i) of cols elements `inner` apart per iteration: contiguous when the axis is the last.
// The maximum skips NaN (a comparison), but a NaN still reaches the sum through exp(NaN − m), so the whole
// line becomes NaN, as NumPy's formula gives it.
void log_softmax_forward(int64_t outer, int64_t cols, int64_t inner, const float* x, float* y) {
#pragma omp parallel for schedule(static) if (outer * cols * inner > kParallelFrom)
  for (int64_t line = 0; line < outer * inner; ++line) {
    const int64_t base = (line / inner) * cols * inner + line % inner;
    const float* in = x + base;
    float* out = y + base;
    float m = -INFINITY;
    for (int64_t j = 0; j < cols; ++j) m = in[j * inner] > m ? in[j * inner] : m;
    double sum = 0.0;
    for (int64_t j = 0; j < cols; ++j) sum += std::exp(static_cast<double>(in[j * inner] - m));
    // (x − m) − log Σ rather than x − (m + log Σ): the shifted values are exact, so entries near the
    // maximum keep their small differences.
    const auto log_sum = static_cast<float>(std::log(sum));
    for (int64_t j = 0; j < cols; ++j) out[j * inner] = (in[j * inner] - m) - log_sum;
  }
}

void log_softmax_backward(int64_t outer, int64_t cols, int64_t inner, const float* dy, const float* y, float* dx) {
#pragma omp parallel for schedule(static) if (outer * cols * inner > kParallelFrom)
  for (int64_t line = 0; line < outer * inner; ++line) {
    const int64_t base = (line / inner) * cols * inner + line % inner;
    double total = 0.0;
    for (int64_t j = 0; j < cols; ++j) total += dy[base + j * inner];
    const auto t = static_cast<float>(total);
    for (int64_t j = 0; j < cols; ++j)
      dx[base + j * inner] = dy[base + j * inner] - std::exp(y[base + j * inner]) * t;
  }
}

}  // namespace gt::cpu
