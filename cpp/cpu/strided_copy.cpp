// Each line of `cols` floats is contiguous on both sides, so the inner loop streams and vectorises; the
// lines are split across OpenMP threads when there are enough floats to pay for the fork.
#include "cpu/strided_copy.h"

#include <cstring>

namespace gt::cpu {

void strided_copy(const GtStridedCopy& c, const float* src, float* dst) {
  const int64_t lines = c.outer * c.rows;
  const bool plain = c.scale == 1.0f && !c.accumulate;
#pragma omp parallel for schedule(static) if (lines * c.cols > (1 << 16))
  for (int64_t line = 0; line < lines; ++line) {
    const int64_t o = line / c.rows, r = line % c.rows;
    const float* s = src + o * c.src_outer + r * c.src_row;
    float* d = dst + o * c.dst_outer + r * c.dst_row;
    if (plain) {
      std::memcpy(d, s, static_cast<size_t>(c.cols) * sizeof(float));
    } else if (c.accumulate) {
#pragma omp simd
      for (int64_t j = 0; j < c.cols; ++j) d[j] += c.scale * s[j];
    } else {
#pragma omp simd
      for (int64_t j = 0; j < c.cols; ++j) d[j] = c.scale * s[j];
    }
  }
}

}  // namespace gt::cpu
