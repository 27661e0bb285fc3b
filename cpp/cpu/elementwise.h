// Element-wise CPU kernels on contiguous float32 buffers.
#pragma once
#include <cstdint>

namespace gt::cpu {

void add_f32(const float* a, const float* b, float* out, int64_t n);

}  // namespace gt::cpu
