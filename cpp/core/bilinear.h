// TensorFlow's bilinear resizing (tf.image.resize, method "bilinear": half-pixel centres, no antialiasing,
// as Keras's UpSampling2D(interpolation="bilinear") calls it) along one axis, shared by the CPU and GPU
// kernels: output row o samples the input at (o + 0.5)·in/out − 0.5, between rows `lower` and `upper`
// (clamped to the image) with weights 1 − lerp and lerp. The position is computed exactly, as the
// fraction ((2o + 1)·in − out) / (2·out) in integers: in float32 (TensorFlow's way) a contracted
// multiply-add can leave a lerp of 1e-8 where the exact one is 0, and whether a row is read at all
// (a NaN or an infinity there spreads or not) would then depend on the compiler.
#pragma once
#include <stdint.h>

#include "core/host_device.h"

namespace gt {

struct BilinearTap {
  int64_t lower, upper;
  float lerp;  // 0 exactly where lower == upper: that row alone, weight 1 (so 0·inf never makes a NaN)
};

GT_HOST_DEVICE inline BilinearTap bilinear_tap(int64_t out, int64_t in_size, int64_t out_size) {
  const int64_t num = (2 * out + 1) * in_size - out_size, den = 2 * out_size;
  const int64_t below = num >= 0 ? num / den : -((-num + den - 1) / den);  // floor(num / den)
  const int64_t rest = num - below * den;
  BilinearTap t;
  t.lower = below < 0 ? 0 : below;
  const int64_t above = rest != 0 ? below + 1 : below;
  t.upper = above > in_size - 1 ? in_size - 1 : above;
  t.lerp = t.lower == t.upper ? 0.0f : static_cast<float>(rest) / static_cast<float>(den);
  return t;
}

// The weight with which output row `out` reads input row `in`: 1 − lerp, lerp, 1 or 0.
GT_HOST_DEVICE inline float bilinear_weight(int64_t out, int64_t in, int64_t in_size, int64_t out_size) {
  const BilinearTap t = bilinear_tap(out, in_size, out_size);
  if (t.lower == t.upper) return t.lower == in ? 1.0f : 0.0f;
  return t.lower == in ? 1.0f - t.lerp : (t.upper == in ? t.lerp : 0.0f);
}

// (1 − lerp)·a + lerp·b, or a alone where the tap reads one row.
GT_HOST_DEVICE inline float bilinear_mix(float a, float b, float lerp) {
  return lerp == 0.0f ? a : (1.0f - lerp) * a + lerp * b;
}

// The output rows [*first, *last] that may read input row `in` (a few more than do, never fewer: each
// output row reads input rows within 1 of (o + 0.5)·in/out − 0.5, and the clamped edges read rows 0 and
// in_size − 1), for the backward's gather.
GT_HOST_DEVICE inline void bilinear_readers(int64_t in, int64_t in_size, int64_t out_size, int64_t* first,
                                            int64_t* last) {
  const int64_t lo = (in - 1) * out_size / in_size - 2, hi = (in + 2) * out_size / in_size + 2;
  *first = lo < 0 ? 0 : lo;
  *last = hi > out_size - 1 ? out_size - 1 : hi;
}

}  // namespace gt
