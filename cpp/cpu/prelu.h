// The CPU's PReLU (see prelu_forward_f32 in core/op_list.h): x walked through a strided view with the
// batch and alpha's shared axes first, so the walk's element t uses alpha[t % alpha_size].
#pragma once
#include "core/op_params.h"

namespace gt::cpu {

void prelu_forward(const GtStridedView& v, int64_t alpha_size, const float* x, const float* alpha, float* y);
// dx may be null; terms (alpha's shares, in walk order) is always written.
void prelu_backward(const GtStridedView& v, int64_t alpha_size, const float* dy, const float* x,
                    const float* alpha, float* dx, float* terms);

}  // namespace gt::cpu
