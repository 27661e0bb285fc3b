// Dropout: each element's fate is a hash of (seed, index), so the loop is embarrassingly parallel and
// the result does not depend on the thread count.
#include "cpu/dropout.h"

#include "core/dropout_hash.h"

namespace gt::cpu {

void dropout_forward(int64_t n, const float* x, uint64_t seed, uint32_t threshold, float scale,
                     float* y, uint8_t* mask) {
#pragma omp parallel for schedule(static) if (n > (1 << 15))
  for (int64_t i = 0; i < n; ++i) {
    const bool keep = dropout_keep(seed, static_cast<uint64_t>(i), threshold);
    mask[i] = keep ? 1 : 0;
    y[i] = x[i] * (keep ? scale : 0.0f);  // x·mask·scale: a dropped NaN or Inf gives NaN, as in NumPy
  }
}

void dropout_backward(int64_t n, const float* dy, const uint8_t* mask, float scale, float* dx) {
#pragma omp parallel for simd schedule(static) if (n > (1 << 15))
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * (mask[i] ? scale : 0.0f);
}

}  // namespace gt::cpu
