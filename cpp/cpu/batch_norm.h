// Batch normalisation on the CPU over the last axis: x is viewed as (m, c), statistics are per channel
// over the m rows. Training normalises with the batch's mean and (biased) variance; backward needs x,
// gamma and those statistics.
#pragma once
#include <cstdint>

namespace gt::cpu {

// Batch mean and biased variance of each channel.
void batch_norm_statistics(int64_t m, int64_t c, const float* x, float* mean, float* var);
// y = (x − mean)/√(var + ε)·gamma + beta; gamma/beta null mean 1/0.
void batch_norm_forward(int64_t m, int64_t c, const float* x, const float* mean, const float* var,
                        const float* gamma, const float* beta, float epsilon, float* y);
// moving = moving·momentum + batch·(1 − momentum) (Keras).
void batch_norm_update_moving(int64_t c, const float* mean, const float* var, float* moving_mean,
                              float* moving_var, float momentum);
// Gradients of the training-mode forward: dbeta = Σ dy, dgamma = Σ dy·x̂,
// dx = gamma/√(var+ε)·(dy − dbeta/m − x̂·dgamma/m).
void batch_norm_backward(int64_t m, int64_t c, const float* dy, const float* x, const float* mean,
                         const float* var, const float* gamma, float epsilon, float* dx, float* dgamma,
                         float* dbeta);

}  // namespace gt::cpu
