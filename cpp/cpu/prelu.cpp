// Lines along the walk's innermost dim, as the permutation's: one offset per line, alpha's index
// carried along the line (wrapping at alpha_size) instead of divided for every element.
#include "cpu/prelu.h"

#include "core/nan_rules.h"
#include "core/strided_view.h"

namespace gt::cpu {

namespace {
// f(t, offset, alpha index) for every element of the walk.
template <class F>
void walk(const GtStridedView& v, int64_t alpha_size, F f) {
  const int64_t inner = v.dims[v.rank - 1], stride = v.strides[v.rank - 1];
  const int64_t lines = view_size(v) / inner;
#pragma omp parallel for schedule(static) if (lines * inner > (1 << 16))
  for (int64_t line = 0; line < lines; ++line) {
    const int64_t t0 = line * inner, base = view_offset(v, t0);
    int64_t a = t0 % alpha_size;
    for (int64_t j = 0; j < inner; ++j) {
      f(t0 + j, base + j * stride, a);
      a = a + 1 == alpha_size ? 0 : a + 1;
    }
  }
}
}  // namespace

void prelu_forward(const GtStridedView& v, int64_t alpha_size, const float* x, const float* alpha, float* y) {
  walk(v, alpha_size, [&](int64_t, int64_t o, int64_t a) { y[o] = prelu_value(x[o], alpha[a]); });
}

void prelu_backward(const GtStridedView& v, int64_t alpha_size, const float* dy, const float* x,
                    const float* alpha, float* dx, float* terms) {
  walk(v, alpha_size, [&](int64_t t, int64_t o, int64_t a) {
    if (dx != nullptr) dx[o] = prelu_grad_value(dy[o], x[o], alpha[a]);
    terms[t] = prelu_alpha_term(dy[o], x[o]);
  });
}

}  // namespace gt::cpu
