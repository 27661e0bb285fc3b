// The element-wise activations, listed once: each one's formulas (host and device, shared by the CPU
// and GPU kernels and the fused GEMM/conv epilogues), its name in Python, and what its derivative reads.
// The GtActivation values, the kernels' dispatch, the op names in errors and the Python bindings all
// come from GT_ACTIVATION_LIST; a new activation is one formula struct and one line of it (plus a test).
#pragma once
#include <math.h>
#include <string.h>

#include "core/host_device.h"
#include "core/nan_rules.h"

namespace gt {

// ---- formulas: forward(x), and backward(dy, t) with t the value GT_ACTIVATION_LIST says it reads ----
// NaN propagates through both (NumPy's rules, see nan_rules.h).

struct ReluFormula {
  GT_HOST_DEVICE static float forward(float x) { return relu_value(x); }
  // t: relu's input or its output, which are <= 0, or NaN, at the same places.
  GT_HOST_DEVICE static float backward(float dy, float t) { return relu_grad_value(dy, t); }
};

struct SigmoidFormula {
  GT_HOST_DEVICE static float forward(float x) {
    const float e = expf(-fabsf(x));  // never exponentiates a positive number: no overflow
    return x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
  }
  GT_HOST_DEVICE static float backward(float dy, float y) { return dy * y * (1.0f - y); }
};

// swish (SiLU): x·sigmoid(x). Its derivative needs x: sigmoid(x)·(1 + x·(1 − sigmoid(x))).
struct SwishFormula {
  GT_HOST_DEVICE static float forward(float x) { return x * SigmoidFormula::forward(x); }
  GT_HOST_DEVICE static float backward(float dy, float x) {
    const float s = SigmoidFormula::forward(x);
    return dy * s * (1.0f + x * (1.0f - s));
  }
};

// ---- Keras 3's activations (keras.activations.<name>, default arguments) ----
// NaN: a formula that selects a branch by comparison lets a NaN take the branch where the gradient is
// passed on (relu's rule in nan_rules.h: a gradient reaching a NaN activation is not silently dropped);
// a smooth formula gives NaN through its arithmetic, as NumPy does.

// relu6: min(max(x, 0), 6). Derivative 1 on (0, 6), 0 elsewhere (the bounds included, as
// TensorFlow and PyTorch). t is x or y: y = x on [0, 6] and y is 0 or 6 outside, so both lie in (0, 6)
// at the same places; a NaN t passes dy on.
struct Relu6Formula {
  GT_HOST_DEVICE static float forward(float x) { return clamp_value(x, 0.0f, 6.0f); }
  GT_HOST_DEVICE static float backward(float dy, float t) {
    return t <= 0.0f || t >= 6.0f ? 0.0f : dy;
  }
};

// elu (alpha 1): x for x > 0, else exp(x) − 1 (expm1: exact near 0). Below 0 the derivative exp(x) is
// y + 1, so it reads the output and a layer fuses it; y > 0 exactly where x > 0. A NaN y passes dy on.
struct EluFormula {
  GT_HOST_DEVICE static float forward(float x) { return x > 0.0f ? x : expm1f(x); }
  GT_HOST_DEVICE static float backward(float dy, float y) { return y <= 0.0f ? dy * (y + 1.0f) : dy; }
};

// selu: scale·elu(x, alpha) with Keras's (and the paper's) constants. Its derivative reads x:
// scale·alpha·exp(x) for x <= 0, else scale; a NaN x takes the scale branch.
struct SeluFormula {
  static constexpr float kAlpha = 1.67326324235437728481f;
  static constexpr float kScale = 1.05070098735548049342f;
  GT_HOST_DEVICE static float forward(float x) { return kScale * (x > 0.0f ? x : kAlpha * expm1f(x)); }
  GT_HOST_DEVICE static float backward(float dy, float x) {
    return x <= 0.0f ? dy * (kScale * kAlpha) * expf(x) : dy * kScale;
  }
};

// gelu, Keras's default (approximate=False): x·Φ(x) = 0.5·x·(1 + erf(x/√2)), written with
// 1 + erf(z) = erfc(−z) so that the negative tail keeps its digits instead of cancelling to 0.
// Derivative Φ(x) + x·φ(x), from x. At −inf the product is −inf·0 = NaN, as the formula gives in NumPy
// (and in Keras and PyTorch); the derivative at ±inf likewise (inf·0).
struct GeluFormula {
  static constexpr float kSqrtHalf = 0.70710678118654752440f;     // 1/√2
  static constexpr float kInvSqrt2Pi = 0.39894228040143267794f;  // 1/√(2π)
  GT_HOST_DEVICE static float cdf(float x) { return 0.5f * erfcf(-x * kSqrtHalf); }
  GT_HOST_DEVICE static float forward(float x) { return x * cdf(x); }
  GT_HOST_DEVICE static float backward(float dy, float x) {
    return dy * (cdf(x) + x * (kInvSqrt2Pi * expf(-0.5f * x * x)));
  }
};

// tanh; its derivative 1 − y² reads the output, so a layer fuses it.
struct TanhFormula {
  GT_HOST_DEVICE static float forward(float x) { return tanhf(x); }
  GT_HOST_DEVICE static float backward(float dy, float y) { return dy * (1.0f - y * y); }
};

// softplus: log(1 + exp(x)) as max(x, 0) + log1p(exp(−|x|)), which never exponentiates a positive
// number (no overflow: softplus(1000) = 1000, softplus(inf) = inf) and keeps a NaN (relu_value).
// Derivative sigmoid(x), from x.
struct SoftplusFormula {
  GT_HOST_DEVICE static float forward(float x) { return relu_value(x) + log1pf(expf(-fabsf(x))); }
  GT_HOST_DEVICE static float backward(float dy, float x) { return dy * SigmoidFormula::forward(x); }
};

// softsign: x/(1 + |x|) (±inf/inf = NaN, as the formula gives in NumPy). Derivative 1/(1 + |x|)²,
// from x, as r·r with r = 1/(1 + |x|): no overflow of (1 + |x|)² for large x.
struct SoftsignFormula {
  GT_HOST_DEVICE static float forward(float x) { return x / (1.0f + fabsf(x)); }
  GT_HOST_DEVICE static float backward(float dy, float x) {
    const float r = 1.0f / (1.0f + fabsf(x));
    return dy * r * r;
  }
};

// hard_sigmoid, Keras 3's: x/6 + 1/2 clipped to [0, 1] (= relu6(x + 3)/6). Derivative 1/6 on (−3, 3),
// 0 elsewhere. It reads the output, not either: the same test on x and on y would need different
// bounds, and y lies in (0, 1) where x lies in (−3, 3), except at the one float32 x just below 3,
// whose y rounds to 1 (a derivative of 0 there: the computed output is flat). A NaN y passes dy/6 on.
struct HardSigmoidFormula {
  GT_HOST_DEVICE static float forward(float x) { return clamp_value(x / 6.0f + 0.5f, 0.0f, 1.0f); }
  GT_HOST_DEVICE static float backward(float dy, float y) {
    return y <= 0.0f || y >= 1.0f ? 0.0f : dy / 6.0f;
  }
};

// leaky_relu with keras.activations.leaky_relu's default negative_slope 0.2 (the LeakyReLU layer's
// default, 0.3, is another thing): x for x >= 0, else 0.2·x. Derivative 1 for x > 0 and 0.2 for
// x <= 0 (at 0 the slope, as TensorFlow and PyTorch). t is x or y: y <= 0 exactly where x <= 0 (0.2·x
// of a tiny negative x may round to −0, still <= 0). A NaN t passes dy on.
struct LeakyReluFormula {
  static constexpr float kSlope = 0.2f;
  GT_HOST_DEVICE static float forward(float x) { return x < 0.0f ? kSlope * x : x; }
  GT_HOST_DEVICE static float backward(float dy, float t) { return t <= 0.0f ? kSlope * dy : dy; }
};

}  // namespace gt

// What an activation's backward reads besides dy: the forward's OUTPUT y, its INPUT x, or EITHER of them
// (relu: the derivative depends only on where the value is <= 0, which input and output share; the
// Python binding then calls it x). Layers that fuse an activation into their store keep only y, so they
// can fuse exactly the OUTPUT and EITHER ones.
enum GtActivationReads {
  GT_ACTIVATION_READS_INPUT = 0,
  GT_ACTIVATION_READS_OUTPUT = 1,
  GT_ACTIVATION_READS_EITHER = 2,
};

// X(ENUM, python_name, READS, Formula). Append only: the enum values cross the backend table as ints.
#define GT_ACTIVATION_LIST(X)                  \
  X(RELU, relu, EITHER, ::gt::ReluFormula)     \
  X(SIGMOID, sigmoid, OUTPUT, ::gt::SigmoidFormula) \
  X(SWISH, swish, INPUT, ::gt::SwishFormula) \
  X(RELU6, relu6, EITHER, ::gt::Relu6Formula) \
  X(ELU, elu, OUTPUT, ::gt::EluFormula) \
  X(SELU, selu, INPUT, ::gt::SeluFormula) \
  X(GELU, gelu, INPUT, ::gt::GeluFormula) \
  X(TANH, tanh, OUTPUT, ::gt::TanhFormula) \
  X(SOFTPLUS, softplus, INPUT, ::gt::SoftplusFormula) \
  X(SOFTSIGN, softsign, INPUT, ::gt::SoftsignFormula) \
  X(HARD_SIGMOID, hard_sigmoid, OUTPUT, ::gt::HardSigmoidFormula) \
  X(LEAKY_RELU, leaky_relu, EITHER, ::gt::LeakyReluFormula)

// NONE is only for the fused epilogues of dense and conv2d (y = act(x·w + b) with no act).
#define GT_ACTIVATION_ENUMERATOR_(E, name, reads, Formula) GT_ACTIVATION_##E,
enum GtActivation { GT_ACTIVATION_NONE = 0, GT_ACTIVATION_LIST(GT_ACTIVATION_ENUMERATOR_) };
#undef GT_ACTIVATION_ENUMERATOR_

namespace gt {

// act(v) for a listed kind, v itself for NONE (or anything else): the fused epilogue.
GT_HOST_DEVICE inline float activate(int kind, float v) {
  switch (kind) {
#define GT_ACTIVATION_CASE_(E, name, reads, Formula) \
  case GT_ACTIVATION_##E: return Formula::forward(v);
    GT_ACTIVATION_LIST(GT_ACTIVATION_CASE_)
#undef GT_ACTIVATION_CASE_
    default: return v;
  }
}

// ---- host side: names and dispatch over the list ----

struct ActivationInfo {
  GtActivation kind;
  const char* name;          // as Python spells it: gputrain.ops.<name>
  const char* grad_name;     // its backward op: <name>_grad
  GtActivationReads reads;   // what the backward's second argument is
};

#define GT_ACTIVATION_INFO_(E, name, reads, Formula) \
  {GT_ACTIVATION_##E, #name, #name "_grad", GT_ACTIVATION_READS_##reads},
inline constexpr ActivationInfo kActivations[] = {GT_ACTIVATION_LIST(GT_ACTIVATION_INFO_)};
#undef GT_ACTIVATION_INFO_
inline constexpr int kActivationCount = static_cast<int>(sizeof kActivations / sizeof kActivations[0]);

// The listed activation of that kind or name; null for NONE and anything not listed.
inline const ActivationInfo* find_activation(int kind) {
  for (const ActivationInfo& a : kActivations)
    if (a.kind == kind) return &a;
  return nullptr;
}
inline const ActivationInfo* find_activation(const char* name) {
  for (const ActivationInfo& a : kActivations)
    if (strcmp(a.name, name) == 0) return &a;
  return nullptr;
}

// The name of the backward's second argument: "y" when it must be the output, else "x".
inline const char* activation_grad_arg(const ActivationInfo& a) {
  return a.reads == GT_ACTIVATION_READS_OUTPUT ? "y" : "x";
}

// Calls f(Formula{}) for a listed kind and returns true; false for anything else. Kernels use it to pick
// the instantiation of a loop or kernel templated on the formula, so the loop body has no switch.
template <class F>
bool with_activation(int kind, F&& f) {
  switch (kind) {
#define GT_ACTIVATION_VISIT_(E, name, reads, Formula) \
  case GT_ACTIVATION_##E: f(Formula{}); return true;
    GT_ACTIVATION_LIST(GT_ACTIVATION_VISIT_)
#undef GT_ACTIVATION_VISIT_
    default: return false;
  }
}

}  // namespace gt
