// Element-wise CPU kernels: contiguous buffers, split across OpenMP threads in large chunks so that
// each thread streams its own cache lines and the loop body vectorises.
#include "cpu/elementwise.h"

namespace gt::cpu {

void add_f32(const float* a, const float* b, float* out, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

void cast_u8_f32(const uint8_t* src, float* out, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(src[i]);
}

}  // namespace gt::cpu
