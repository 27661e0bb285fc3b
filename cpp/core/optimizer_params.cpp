// The optimizers of optimizer_update: their hyper-parameters checked and packed (GtOptimizerParams), the
// slots each keeps, and the per-step factors computed on the host in double from the step number.
#include "core/optimizer_params.h"

#include <algorithm>
#include <cmath>

#include "core/errors.h"
#include "core/nn_checks.h"

namespace gt::ops {
namespace {

struct KindInfo {
  const char* name;
  GtOptimizerKind kind;
};
constexpr KindInfo kKinds[] = {{"sgd", GT_OPTIMIZER_SGD},           {"adam", GT_OPTIMIZER_ADAM},
                               {"rmsprop", GT_OPTIMIZER_RMSPROP},   {"adamax", GT_OPTIMIZER_ADAMAX},
                               {"adagrad", GT_OPTIMIZER_ADAGRAD},   {"adadelta", GT_OPTIMIZER_ADADELTA},
                               {"lion", GT_OPTIMIZER_LION},         {"nadam", GT_OPTIMIZER_NADAM}};

double take(std::map<std::string, double>& hyper, const char* key, double fallback) {
  const auto it = hyper.find(key);
  if (it == hyper.end()) return fallback;
  const double value = it->second;
  hyper.erase(it);
  return value;
}

// Nadam's momentum schedule: u_t = β₁·(1 − ½·0.96ᵗ).
double nadam_u(double beta_1, double t) { return beta_1 * (1.0 - 0.5 * std::pow(0.96, t)); }

}  // namespace

GtOptimizerParams optimizer_params(const std::string& name, std::map<std::string, double> hyper) {
  GtOptimizerParams o{};
  bool found = false;
  std::string names;
  for (const KindInfo& k : kKinds) {
    names += (names.empty() ? "" : ", ") + std::string(k.name);
    if (name == k.name) {
      o.kind = k.kind;
      found = true;
    }
  }
  if (!found) throw ValueError("optimizer: " + name + " is not one of " + names);
  const bool lion = o.kind == GT_OPTIMIZER_LION;  // its betas may be 1 (Keras allows it)
  auto number = [&hyper](const char* key, double fallback, double hi, bool hi_open) {
    const double value = take(hyper, key, fallback);
    check_range(key, value, 0.0, hi, hi_open);  // (and a finite float32)
    return static_cast<float>(value);
  };
  o.beta_1 = number("beta_1", 0.9, 1.0, !lion);
  o.beta_2 = number("beta_2", lion ? 0.99 : 0.999, 1.0, !lion);
  o.epsilon = number("epsilon", 1e-7, INFINITY, true);
  o.rho = number("rho", o.kind == GT_OPTIMIZER_ADADELTA ? 0.95 : 0.9, 1.0, false);
  o.momentum = number("momentum", 0.0, 1.0, false);
  o.weight_decay = number("weight_decay", 0.0, INFINITY, true);
  o.clipvalue = number("clipvalue", 0.0, INFINITY, true);
  o.clipnorm = number("clipnorm", 0.0, INFINITY, true);
  if (take(hyper, "nesterov", 0.0) != 0.0) o.flags |= GT_OPTIMIZER_NESTEROV;
  if (take(hyper, "centered", 0.0) != 0.0) o.flags |= GT_OPTIMIZER_CENTERED;
  if (take(hyper, "amsgrad", 0.0) != 0.0) o.flags |= GT_OPTIMIZER_AMSGRAD;
  if (!hyper.empty()) throw ValueError("optimizer: unknown hyper-parameter " + hyper.begin()->first);
  return o;
}

std::array<bool, 3> optimizer_slots(const GtOptimizerParams& o) {
  switch (o.kind) {
    case GT_OPTIMIZER_SGD: return {o.momentum > 0.0f, false, false};
    case GT_OPTIMIZER_ADAM: return {true, true, (o.flags & GT_OPTIMIZER_AMSGRAD) != 0};
    case GT_OPTIMIZER_RMSPROP: return {true, o.momentum > 0.0f, (o.flags & GT_OPTIMIZER_CENTERED) != 0};
    case GT_OPTIMIZER_ADAMAX: case GT_OPTIMIZER_ADADELTA: case GT_OPTIMIZER_NADAM: return {true, true, false};
    default: return {true, false, false};  // Adagrad, Lion
  }
}

double nadam_momentum_product(double beta_1, int64_t step) {
  // Past k ≈ 1000, 0.96ᵏ is below double's resolution beside 1, so u_k is β₁ exactly.
  const int64_t exact = std::min<int64_t>(step, 1000);
  double product = 1.0;
  for (int64_t k = 1; k <= exact; ++k) product *= nadam_u(beta_1, static_cast<double>(k));
  return product * std::pow(beta_1, static_cast<double>(std::max<int64_t>(step - exact, 0)));
}

void optimizer_step_factors(const GtOptimizerParams& o, int64_t step, double lr, float factors[3]) {
  const double t = static_cast<double>(step), b1 = o.beta_1, b2 = o.beta_2;
  factors[0] = factors[1] = factors[2] = 0.0f;
  if (o.kind == GT_OPTIMIZER_ADAM) {
    factors[0] = static_cast<float>(lr * std::sqrt(1.0 - std::pow(b2, t)) / (1.0 - std::pow(b1, t)));
  } else if (o.kind == GT_OPTIMIZER_ADAMAX) {
    factors[0] = static_cast<float>(lr / (1.0 - std::pow(b1, t)));
  } else if (o.kind == GT_OPTIMIZER_NADAM) {
    const double product = nadam_momentum_product(b1, step);
    const double u_t = nadam_u(b1, t), u_next = nadam_u(b1, t + 1.0);
    factors[0] = static_cast<float>(lr * u_next / (1.0 - product * u_next));
    factors[1] = static_cast<float>(lr * (1.0 - u_t) / (1.0 - product));
    factors[2] = static_cast<float>(1.0 / (1.0 - std::pow(b2, t)));
  }
}

}  // namespace gt::ops
