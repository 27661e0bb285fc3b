// The dropout mask as a pure function of (seed, element index), shared by the CPU and GPU kernels so
// that both backends drop exactly the same elements for a seed, whatever the thread layout.
#pragma once
#include <stdint.h>

#include "core/host_device.h"

namespace gt {

// splitmix64's finaliser: a bijection with full avalanche, so neighbouring indices are independent.
GT_HOST_DEVICE inline uint64_t splitmix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Keep element `index` when its 24-bit uniform draw u (in [0, 2^24)) is >= threshold = rate·2^24
// (rounded half away from zero by dispatch):
// P(keep) = 1 − threshold / 2^24.
GT_HOST_DEVICE inline bool dropout_keep(uint64_t seed, uint64_t index, uint32_t threshold) {
  const uint64_t h = splitmix64(seed ^ splitmix64(index));
  return static_cast<uint32_t>(h >> 40) >= threshold;
}

}  // namespace gt
