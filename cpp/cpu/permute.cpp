// The walk is split into lines along its innermost dim: one offset computed per line, then a strided
// read and a contiguous write (a read that is contiguous too where the permutation keeps the last axis);
// lines are split across OpenMP threads when there are enough floats to pay for the fork.
#include "cpu/permute.h"

#include "core/strided_view.h"

namespace gt::cpu {

void permute(const GtStridedView& v, const float* src, float* dst) {
  const int64_t inner = v.dims[v.rank - 1], stride = v.strides[v.rank - 1];
  const int64_t lines = view_size(v) / inner;
#pragma omp parallel for schedule(static) if (lines * inner > (1 << 16))
  for (int64_t line = 0; line < lines; ++line) {
    const float* s = src + view_offset(v, line * inner);
    float* d = dst + line * inner;
    for (int64_t j = 0; j < inner; ++j) d[j] = s[j * stride];
  }
}

}  // namespace gt::cpu
