// The optimizers of optimizer_update (core/optimizer_rules.h): hyper-parameters by Keras's names,
// checked and packed; which slots an optimizer keeps; its per-step factors.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "core/op_params.h"

namespace gt::ops {

// name: sgd, adam, rmsprop, adamax, adagrad, adadelta, lion or nadam; hyper: beta_1, beta_2, epsilon,
// rho, momentum, weight_decay, clipvalue, clipnorm and the flags nesterov, centered, amsgrad (1 or 0),
// each defaulting to Keras's value where it has one. Unknown names and values out of range raise.
GtOptimizerParams optimizer_params(const std::string& name, std::map<std::string, double> hyper);
// Which of the slots s0, s1, s2 the configuration keeps.
std::array<bool, 3> optimizer_slots(const GtOptimizerParams& o);
// Nadam's momentum product Π_{k ≤ step} β₁·(1 − ½·0.96ᵏ) after `step` updates (Keras keeps it as a variable).
double nadam_momentum_product(double beta_1, int64_t step);
// The factors of the 1-based step `step` at learning rate lr (GtOptimizerKind says which kinds use them).
void optimizer_step_factors(const GtOptimizerParams& o, int64_t step, double lr, float factors[3]);

}  // namespace gt::ops
