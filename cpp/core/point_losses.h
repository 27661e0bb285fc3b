// Keras's element-wise losses (keras.losses: mean squared / absolute / absolute percentage / squared
// logarithmic error, Huber, log-cosh, Poisson), listed once: each one's value f(p, t) of a prediction p
// and its target t, and its derivative df/dp, shared by the CPU and GPU kernels. A loss is the mean of
// f over every element (Keras's mean over the last axis, then over the batch: the same for rows of one
// width); `param` is Huber's delta. NaN propagates as in NumPy (max_value keeps a NaN where fmaxf would
// not). The enum values cross the backend table as ints: append only.
#pragma once
#include <math.h>
#include <string.h>

#include "core/host_device.h"
#include "core/nan_rules.h"

namespace gt {

constexpr float kPointLossEpsilon = 1e-7f;  // Keras's backend epsilon

// sign(x), 0 at 0 (abs's derivative there, as TensorFlow's), NaN kept.
GT_HOST_DEVICE inline float sign_value(float x) { return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : x); }

struct MeanSquaredErrorFormula {
  GT_HOST_DEVICE static float value(float p, float t, float) { return (p - t) * (p - t); }
  GT_HOST_DEVICE static float grad(float p, float t, float) { return 2.0f * (p - t); }
};

struct MeanAbsoluteErrorFormula {
  GT_HOST_DEVICE static float value(float p, float t, float) { return fabsf(p - t); }
  GT_HOST_DEVICE static float grad(float p, float t, float) { return sign_value(p - t); }
};

// 100·|t − p| / max(|t|, ε).
struct MeanAbsolutePercentageErrorFormula {
  GT_HOST_DEVICE static float scale(float t) { return 100.0f / max_value(fabsf(t), kPointLossEpsilon); }
  GT_HOST_DEVICE static float value(float p, float t, float) { return fabsf(t - p) * scale(t); }
  GT_HOST_DEVICE static float grad(float p, float t, float) { return sign_value(p - t) * scale(t); }
};

// (log(max(p, ε) + 1) − log(max(t, ε) + 1))²; max passes the gradient where p >= ε (TensorFlow's rule).
struct MeanSquaredLogarithmicErrorFormula {
  GT_HOST_DEVICE static float diff(float p, float t) {
    return log1pf(max_value(p, kPointLossEpsilon)) - log1pf(max_value(t, kPointLossEpsilon));
  }
  GT_HOST_DEVICE static float value(float p, float t, float) { return diff(p, t) * diff(p, t); }
  GT_HOST_DEVICE static float grad(float p, float t, float) {
    const float q = max_value(p, kPointLossEpsilon);
    return p < kPointLossEpsilon ? 0.0f : 2.0f * diff(p, t) / (q + 1.0f);
  }
};

// e = p − t: e²/2 where |e| <= delta, else delta·|e| − delta²/2.
struct HuberFormula {
  GT_HOST_DEVICE static float value(float p, float t, float delta) {
    const float e = p - t, a = fabsf(e);
    return a <= delta ? 0.5f * e * e : delta * a - 0.5f * delta * delta;
  }
  GT_HOST_DEVICE static float grad(float p, float t, float delta) {
    const float e = p - t;
    return fabsf(e) > delta ? delta * sign_value(e) : e;
  }
};

// log(cosh(e)), e = p − t, as e + softplus(−2e) − log 2 (no overflow for large |e|); derivative tanh(e).
struct LogCoshFormula {
  GT_HOST_DEVICE static float value(float p, float t, float) {
    const float e = p - t, z = -2.0f * e;
    const float softplus = z > 0.0f ? z + log1pf(expf(-z)) : log1pf(expf(z));
    return e + softplus - 0.69314718055994530942f;
  }
  GT_HOST_DEVICE static float grad(float p, float t, float) { return tanhf(p - t); }
};

// p − t·log(p + ε).
struct PoissonFormula {
  GT_HOST_DEVICE static float value(float p, float t, float) { return p - t * logf(p + kPointLossEpsilon); }
  GT_HOST_DEVICE static float grad(float p, float t, float) { return 1.0f - t / (p + kPointLossEpsilon); }
};

}  // namespace gt

// X(ENUM, keras_name, Formula). Append only.
#define GT_POINT_LOSS_LIST(X)                                                        \
  X(MSE, mean_squared_error, ::gt::MeanSquaredErrorFormula)                          \
  X(MAE, mean_absolute_error, ::gt::MeanAbsoluteErrorFormula)                        \
  X(MAPE, mean_absolute_percentage_error, ::gt::MeanAbsolutePercentageErrorFormula)  \
  X(MSLE, mean_squared_logarithmic_error, ::gt::MeanSquaredLogarithmicErrorFormula)  \
  X(HUBER, huber, ::gt::HuberFormula)                                                \
  X(LOG_COSH, log_cosh, ::gt::LogCoshFormula)                                        \
  X(POISSON, poisson, ::gt::PoissonFormula)

#define GT_POINT_LOSS_ENUMERATOR_(E, name, Formula) GT_POINT_LOSS_##E,
enum GtPointLoss { GT_POINT_LOSS_LIST(GT_POINT_LOSS_ENUMERATOR_) GT_POINT_LOSS_COUNT };
#undef GT_POINT_LOSS_ENUMERATOR_

namespace gt {

inline constexpr const char* kPointLossNames[] = {
#define GT_POINT_LOSS_NAME_(E, name, Formula) #name,
    GT_POINT_LOSS_LIST(GT_POINT_LOSS_NAME_)
#undef GT_POINT_LOSS_NAME_
};

// The listed loss of that Keras name, or -1.
inline int find_point_loss(const char* name) {
  for (int i = 0; i < GT_POINT_LOSS_COUNT; ++i)
    if (strcmp(kPointLossNames[i], name) == 0) return i;
  return -1;
}

// Calls f(Formula{}) for a listed kind and returns true; false for anything else (kernels pick their
// instantiation with it, so the loop body has no switch).
template <class F>
bool with_point_loss(int kind, F&& f) {
  switch (kind) {
#define GT_POINT_LOSS_VISIT_(E, name, Formula) \
  case GT_POINT_LOSS_##E: f(Formula{}); return true;
    GT_POINT_LOSS_LIST(GT_POINT_LOSS_VISIT_)
#undef GT_POINT_LOSS_VISIT_
    default: return false;
  }
}

}  // namespace gt
