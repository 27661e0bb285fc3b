// Kernel entries of the backend table, one line per op; each is defined in its op family's .cu file.
#pragma once
#include <cstdint>

namespace gt::gpu {

int add_f32(int device, const float* a, const float* b, float* out, int64_t n, void* stream);

}  // namespace gt::gpu
