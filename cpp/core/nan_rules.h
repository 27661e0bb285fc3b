// How NaN passes through relu, clamps and max, shared by the CPU and GPU kernels so that every backend
// and every kernel variant agrees to the bit. NumPy's rules: np.maximum(x, 0), np.clip and np.max keep
// a NaN, and argmax points at the first NaN. Each rule is one comparison that lets NaN through (a
// comparison with NaN is false), not an extra test, so the kernels cost what they did.
#pragma once

#include "core/host_device.h"

namespace gt {

// relu(x) = np.maximum(x, 0): NaN stays NaN ('x > 0 ? x : 0' would turn it into 0).
GT_HOST_DEVICE inline float relu_value(float x) { return x < 0.0f ? 0.0f : x; }

// relu's derivative, PyTorch's threshold_backward: dy except where x <= 0. A NaN x passes dy on, so a
// gradient reaching a NaN activation is not silently dropped. x may be relu's input or its output:
// both are <= 0, or NaN, at the same places.
GT_HOST_DEVICE inline float relu_grad_value(float dy, float x) { return x <= 0.0f ? 0.0f : dy; }

// PReLU, x where x > 0 else alpha·x: a NaN x gives alpha·NaN, NaN. Its input gradient passes dy·alpha
// on at a NaN x (as relu_grad_value passes dy on), and alpha's share dy·x is then NaN: the NaN reaches
// alpha's gradient instead of vanishing.
GT_HOST_DEVICE inline float prelu_value(float x, float alpha) { return x > 0.0f ? x : alpha * x; }
GT_HOST_DEVICE inline float prelu_grad_value(float dy, float x, float alpha) { return x > 0.0f ? dy : alpha * dy; }
GT_HOST_DEVICE inline float prelu_alpha_term(float dy, float x) { return x > 0.0f ? 0.0f : dy * x; }

// min(max(x, lo), hi) with NaN kept (fminf/fmaxf would return the bound instead): relu6, hard_sigmoid.
GT_HOST_DEVICE inline float clamp_value(float x, float lo, float hi) {
  return x < lo ? lo : (x > hi ? hi : x);
}

// np.maximum / np.minimum of two values: NaN if either is ('a > b ? a : b' would drop a NaN b).
GT_HOST_DEVICE inline float max_value(float a, float b) { return (a > b || a != a) ? a : b; }
GT_HOST_DEVICE inline float min_value(float a, float b) { return (a < b || a != a) ? a : b; }
// Whether an input x is the value y a maximum or minimum chose (for its gradient): equal, or both NaN.
GT_HOST_DEVICE inline bool selects(float x, float y) { return x == y || (x != x && y != y); }

// Whether a window scan replaces its running maximum `best` by `v`: a larger value, or the window's
// first NaN (a later NaN does not move argmax off the first, as np.argmax). Scanning from the window's
// first cell this gives np.max's value and np.argmax's index.
GT_HOST_DEVICE inline bool max_takes(float v, float best) { return v > best || (v != v && best == best); }

}  // namespace gt
