// Inverted dropout on the CPU: keep each element with probability 1 − rate (the mask of
// core/dropout_hash.h, the same on every backend) and scale kept ones by 1/(1 − rate): y = x·mask/(1 − rate),
// a product, so a dropped NaN or Inf gives NaN as NumPy's formula does. Backward needs only the mask:
// dx = dy·mask/(1 − rate).
#pragma once
#include <cstdint>

namespace gt::cpu {

// threshold = rate·2^24 (see dropout_keep); mask[i] = 1 for kept elements, 0 for dropped ones.
void dropout_forward(int64_t n, const float* x, uint64_t seed, uint32_t threshold, float scale,
                     float* y, uint8_t* mask);
void dropout_backward(int64_t n, const float* dy, const uint8_t* mask, float scale, float* dx);

}  // namespace gt::cpu
