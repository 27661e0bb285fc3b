// The CPU's permutation (Permute and its gradient): dst, contiguous, walks src through a strided view.
#pragma once
#include "core/op_params.h"

namespace gt::cpu {

void permute(const GtStridedView& v, const float* src, float* dst);

}  // namespace gt::cpu
