// Division by a run-time constant as a multiply-high and a shift (Granlund & Montgomery), for index
// arithmetic in GPU kernels: a 32-bit integer division costs ~20 instructions on a GPU and a 64-bit
// one ~70, and the implicit-GEMM loaders divide several times per element they load. The divisor is
// fixed on the host; the same code runs on the host (where _core's tests check it against `//`).
#pragma once
#include <stdint.h>

#include "core/host_device.h"

namespace gt {

struct FastDivmod {
  uint32_t divisor = 1, multiplier = 1, shift = 0;

  FastDivmod() = default;
  // divisor >= 1. Exact for every numerator below 2^31.
  GT_HOST_DEVICE explicit FastDivmod(uint32_t d) : divisor(d) {
    while ((uint64_t(1) << shift) < d) ++shift;  // shift = ceil(log2 d)
    multiplier = static_cast<uint32_t>(((uint64_t(1) << 32) * ((uint64_t(1) << shift) - d)) / d + 1);
  }

  GT_HOST_DEVICE uint32_t div(uint32_t n) const {
    // The high half of a 32×32-bit product: nvcc and LLVM emit one multiply-high (mul.hi.u32,
    // v_mul_hi_u32) for this, and the host runs literally the same expression as the GPU.
    const uint32_t high = static_cast<uint32_t>((uint64_t(n) * multiplier) >> 32);
    return (high + n) >> shift;  // high <= n < 2^31: the sum cannot overflow
  }

  // quotient, and n − quotient·divisor in *remainder.
  GT_HOST_DEVICE uint32_t divmod(uint32_t n, uint32_t* remainder) const {
    const uint32_t q = div(n);
    *remainder = n - q * divisor;
    return q;
  }
};

}  // namespace gt
