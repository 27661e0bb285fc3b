// Keras's weight and activity regularizers (l1, l2, l1_l2): the penalty l1·|x| + l2·x² of one element
// and its derivative l1·sign(x) + 2·l2·x, shared by the CPU and GPU kernels. A factor of 0 contributes
// nothing, as Keras skips it (so an infinite weight under a pure l2 penalty gives inf, not 0·inf = NaN);
// sign keeps a NaN, and is 0 at 0 (abs's subgradient there, as TensorFlow's).
#pragma once
#include <math.h>

#include "core/host_device.h"

namespace gt {

GT_HOST_DEVICE inline float penalty_value(float x, float l1, float l2) {
  return (l1 != 0.0f ? l1 * fabsf(x) : 0.0f) + (l2 != 0.0f ? l2 * x * x : 0.0f);
}

GT_HOST_DEVICE inline float penalty_grad(float x, float l1, float l2) {
  const float sign = x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : x);  // x: 0, or NaN kept
  return (l1 != 0.0f ? l1 * sign : 0.0f) + (l2 != 0.0f ? 2.0f * l2 * x : 0.0f);
}

}  // namespace gt
