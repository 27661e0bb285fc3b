// Dispatch of batch normalisation and the optimizer updates (the ops that modify their arguments).
#include <cmath>

#include "core/kernel_calls.h"
#include "core/nn_checks.h"
#include "core/ops.h"

namespace gt::ops {
namespace {

// Optional per-channel vector (gamma, beta, statistics) of shape (c,) on the device.
void check_channel_vector(const char* name, const Tensor& t, const Tensor& x, int64_t c) {
  if (!t.defined()) return;
  check_float_on(name, t, x.device());
  check_vector(name, t, c, "to match the channels of x " + shape_str(x.shape()));
}

const float* ptr_or_null(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

// State of an optimizer: same shape as param, on its device.
void check_state(const char* name, const Tensor& state, const Tensor& param) {
  check_float_on(name, state, param.device());
  check_same_shape("param", param, name, state);
}

}  // namespace

GtAdamParams adam_params(int64_t step, double lr, double beta_1, double beta_2, double epsilon) {
  const double t = static_cast<double>(step);
  return GtAdamParams{static_cast<float>(lr * std::sqrt(1.0 - std::pow(beta_2, t)) / (1.0 - std::pow(beta_1, t))),
                      static_cast<float>(beta_1), static_cast<float>(beta_2), static_cast<float>(epsilon)};
}

BatchNormResult batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                           const Tensor& moving_mean, const Tensor& moving_var, bool training,
                           double momentum, double epsilon) {
  const Device& device = x.device();
  check_float_on("x", x, device);
  if (x.ndim() < 1 || x.dim(x.ndim() - 1) < 1)
    throw ValueError("x: expected at least rank 1 with channels >= 1, got shape " + shape_str(x.shape()));
  const int64_t c = x.dim(x.ndim() - 1), m = x.numel() / c;
  check_channel_vector("gamma", gamma, x, c);
  check_channel_vector("beta", beta, x, c);
  check_channel_vector("moving_mean", moving_mean, x, c);
  check_channel_vector("moving_var", moving_var, x, c);
  if (moving_mean.defined() != moving_var.defined())
    throw ValueError("moving_mean and moving_var: give both or neither");
  check_range("momentum", momentum, 0.0, 1.0, false);
  check_positive("epsilon", epsilon);
  const auto eps = static_cast<float>(epsilon);
  BatchNormResult r;
  r.y = Tensor::empty(x.shape(), DType::Float32, device);
  if (!training) {
    if (!moving_mean.defined())
      throw ValueError("moving_mean and moving_var: required when training is False");
    r.mean = moving_mean.to(device, true);
    r.var = moving_var.to(device, true);
  } else {
    if (m == 0) throw ValueError("x: training batch normalisation needs at least one row, got shape " +
                                 shape_str(x.shape()));
    r.mean = Tensor::empty({c}, DType::Float32, device);
    r.var = Tensor::empty({c}, DType::Float32, device);
  }
  if (training) {
    Tensor ws = workspace(static_cast<int64_t>(kernels::batch_norm_statistics_workspace(device, c)), device);
    kernels::batch_norm_statistics(device, m, c, x.data<float>(), r.mean.data<float>(), r.var.data<float>(),
                                   ws.data<float>());
  }
  kernels::batch_norm_forward(device, m, c, x.data<float>(), r.mean.data<float>(), r.var.data<float>(),
                              ptr_or_null(gamma), ptr_or_null(beta), eps, r.y.data<float>());
  if (training && moving_mean.defined())
    kernels::batch_norm_update_moving(device, c, r.mean.data<float>(), r.var.data<float>(),
                                      moving_mean.data<float>(), moving_var.data<float>(),
                                      static_cast<float>(momentum));
  return r;
}

BatchNormGrads batch_norm_grad(const Tensor& dy, const Tensor& x, const Tensor& gamma,
                               const Tensor& mean, const Tensor& var, double epsilon) {
  const Device& device = x.device();
  check_float_on("x", x, device);
  check_float_on("dy", dy, device);
  check_same_shape("dy", dy, "x", x);
  if (x.ndim() < 1 || x.dim(x.ndim() - 1) < 1)
    throw ValueError("x: expected at least rank 1 with channels >= 1, got shape " + shape_str(x.shape()));
  const int64_t c = x.dim(x.ndim() - 1), m = x.numel() / c;
  check_channel_vector("gamma", gamma, x, c);
  if (!mean.defined() || !var.defined()) throw ValueError("mean and var: required");
  check_channel_vector("mean", mean, x, c);
  check_channel_vector("var", var, x, c);
  check_positive("epsilon", epsilon);
  const auto eps = static_cast<float>(epsilon);
  BatchNormGrads g{Tensor::empty(x.shape(), DType::Float32, device),
                   Tensor::empty({c}, DType::Float32, device), Tensor::empty({c}, DType::Float32, device)};
  Tensor ws = workspace(static_cast<int64_t>(kernels::batch_norm_backward_workspace(device, c)), device);
  kernels::batch_norm_backward(device, m, c, dy.data<float>(), x.data<float>(), mean.data<float>(),
                               var.data<float>(), ptr_or_null(gamma), eps, g.dx.data<float>(),
                               g.dgamma.data<float>(), g.dbeta.data<float>(), ws.data<float>());
  return g;
}

void sgd_update(const Tensor& param, const Tensor& grad, const Tensor& velocity, double lr,
                double momentum, bool nesterov) {
  const Device& device = param.device();
  check_float_on("param", param, device);
  check_state("grad", grad, param);
  check_float32("learning_rate", lr);
  check_range("momentum", momentum, 0.0, 1.0, false);
  if (momentum > 0.0) {
    if (!velocity.defined()) throw ValueError("velocity: required when momentum > 0");
    check_state("velocity", velocity, param);
  }
  const GtSgdParams p{static_cast<float>(lr), static_cast<float>(momentum), nesterov ? 1 : 0};
  kernels::sgd_update(device, param.numel(), param.data<float>(), grad.data<float>(),
                      momentum > 0.0 ? velocity.data<float>() : nullptr, p);
}

void adam_update(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v, int64_t step,
                 double lr, double beta_1, double beta_2, double epsilon) {
  const Device& device = param.device();
  check_float_on("param", param, device);
  check_state("grad", grad, param);
  check_state("m", m, param);
  check_state("v", v, param);
  check_float32("learning_rate", lr);
  check_range("beta_1", beta_1, 0.0, 1.0, true);
  check_range("beta_2", beta_2, 0.0, 1.0, true);
  check_range("epsilon", epsilon, 0.0, INFINITY, true);
  if (step < 1) throw ValueError("step: expected the 1-based number of this update, got " + std::to_string(step));
  kernels::adam_update(device, param.numel(), param.data<float>(), grad.data<float>(), m.data<float>(),
                       v.data<float>(), adam_params(step, lr, beta_1, beta_2, epsilon));
}

void rmsprop_update(const Tensor& param, const Tensor& grad, const Tensor& velocity,
                    const Tensor& momentum_buffer, const Tensor& average_grad, double lr, double rho,
                    double momentum, double epsilon, bool centered) {
  const Device& device = param.device();
  check_float_on("param", param, device);
  check_state("grad", grad, param);
  check_state("velocity", velocity, param);
  check_float32("learning_rate", lr);
  check_range("rho", rho, 0.0, 1.0, false);
  check_range("momentum", momentum, 0.0, 1.0, false);
  check_range("epsilon", epsilon, 0.0, INFINITY, true);
  if (momentum > 0.0) {
    if (!momentum_buffer.defined()) throw ValueError("momentum_buffer: required when momentum > 0");
    check_state("momentum_buffer", momentum_buffer, param);
  }
  if (centered) {
    if (!average_grad.defined()) throw ValueError("average_grad: required when centered is True");
    check_state("average_grad", average_grad, param);
  }
  const GtRmspropParams p{static_cast<float>(lr), static_cast<float>(rho), static_cast<float>(momentum),
                          static_cast<float>(epsilon), centered ? 1 : 0};
  kernels::rmsprop_update(device, param.numel(), param.data<float>(), grad.data<float>(), velocity.data<float>(),
                          momentum > 0.0 ? momentum_buffer.data<float>() : nullptr,
                          centered ? average_grad.data<float>() : nullptr, p);
}

}  // namespace gt::ops
