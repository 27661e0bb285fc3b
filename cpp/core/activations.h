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
  X(SWISH, swish, INPUT, ::gt::SwishFormula)

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
