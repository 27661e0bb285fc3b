// Element-wise CPU kernels: contiguous buffers, split across OpenMP threads in large chunks so that
// each thread streams its own cache lines and the loop body vectorises.
#include "cpu/elementwise.h"

#include "core/activations.h"
#include "core/nan_rules.h"
#include "core/op_params.h"

namespace gt::cpu {

void add_f32(const float* a, const float* b, float* out, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

void binary_f32(int op, const float* a, const float* b, float* out, int64_t n) {
  if (op == GT_BINARY_MUL) {
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
    for (int64_t i = 0; i < n; ++i) out[i] = a[i] * b[i];
    return;
  }
  const bool max = op == GT_BINARY_MAX;
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) out[i] = max ? max_value(a[i], b[i]) : min_value(a[i], b[i]);
}

void bias_activation_f32(int64_t rows, int64_t cols, const float* x, const float* bias, int activation, float* y) {
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 16))
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j)
      y[r * cols + j] = activate(activation, x[r * cols + j] + (bias != nullptr ? bias[j] : 0.0f));
}

void select_grad_f32(const float* dy, const float* x, const float* y, uint8_t* taken, float* dx, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) {
    const bool take = !taken[i] && selects(x[i], y[i]);
    if (dx != nullptr) dx[i] = take ? dy[i] : 0.0f;
    taken[i] = static_cast<uint8_t>(taken[i] | take);
  }
}

void cast_u8_f32(const uint8_t* src, float* out, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(src[i]);
}

}  // namespace gt::cpu
