// The CPU's strided copy (GtStridedCopy, core/op_params.h): concatenation, padding, cropping and the
// merging layers' sums.
#pragma once
#include "core/op_params.h"

namespace gt::cpu {

void strided_copy(const GtStridedCopy& c, const float* src, float* dst);

}  // namespace gt::cpu
