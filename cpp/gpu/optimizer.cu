// Optimizer updates on the GPU, in place, one grid-stride pass over parameter, gradient and state;
// the formulas are Keras 3's, as in cpp/cpu/optimizer.h. A training plan's learning rate (Adam: its
// step's alpha) is read from device memory (GtStepScalars), so a replayed graph uses this step's.
#include "gpu/check.h"
#include "gpu/kernels.h"
#include "gpu/launch.h"

namespace gt::gpu {
namespace {

__global__ void sgd_update_kernel(int64_t n, float* __restrict__ param, const float* __restrict__ grad,
                                  float* __restrict__ velocity, GtSgdParams p) {
  if (p.step != nullptr) p.lr = p.step->learning_rate;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    if (p.momentum == 0.0f) {
      param[i] -= p.lr * grad[i];
    } else {
      const float v = p.momentum * velocity[i] - p.lr * grad[i];
      velocity[i] = v;
      param[i] += p.nesterov ? p.momentum * v - p.lr * grad[i] : v;
    }
  }
}

__global__ void adam_update_kernel(int64_t n, float* __restrict__ param, const float* __restrict__ grad,
                                   float* __restrict__ m, float* __restrict__ v, GtAdamParams p) {
  if (p.step != nullptr) p.alpha = p.step->adam_alpha;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const float g = grad[i];
    const float mi = m[i] + (g - m[i]) * (1.0f - p.beta_1);
    const float vi = v[i] + (g * g - v[i]) * (1.0f - p.beta_2);
    m[i] = mi;
    v[i] = vi;
    param[i] -= p.alpha * mi / (sqrtf(vi) + p.epsilon);
  }
}

__global__ void rmsprop_update_kernel(int64_t n, float* __restrict__ param, const float* __restrict__ grad,
                                      float* __restrict__ velocity, float* __restrict__ momentum_buffer,
                                      float* __restrict__ average_grad, GtRmspropParams p) {
  if (p.step != nullptr) p.lr = p.step->learning_rate;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const float g = grad[i];
    const float v = p.rho * velocity[i] + (1.0f - p.rho) * g * g;
    velocity[i] = v;
    float denominator = v + p.epsilon;
    if (p.centered) {
      const float a = p.rho * average_grad[i] + (1.0f - p.rho) * g;
      average_grad[i] = a;
      denominator -= a * a;
    }
    const float increment = p.lr * g / sqrtf(denominator);
    if (p.momentum > 0.0f) {
      const float b = p.momentum * momentum_buffer[i] + increment;
      momentum_buffer[i] = b;
      param[i] -= b;
    } else {
      param[i] -= increment;
    }
  }
}

}  // namespace

int sgd_update_f32(int device, int64_t n, float* param, const float* grad, float* velocity,
                   GtSgdParams params, void* stream) {
  if (n <= 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_LAUNCH(sgd_update_kernel, grid_for(n), kThreads, static_cast<cudaStream_t>(stream))
  (n, param, grad, velocity, params);
  GT_GPU_CHECK_LAUNCH(sgd_update_kernel);
  return GT_OK;
}

int adam_update_f32(int device, int64_t n, float* param, const float* grad, float* m, float* v,
                    GtAdamParams params, void* stream) {
  if (n <= 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_LAUNCH(adam_update_kernel, grid_for(n), kThreads, static_cast<cudaStream_t>(stream))
  (n, param, grad, m, v, params);
  GT_GPU_CHECK_LAUNCH(adam_update_kernel);
  return GT_OK;
}

int rmsprop_update_f32(int device, int64_t n, float* param, const float* grad, float* velocity,
                       float* momentum_buffer, float* average_grad, GtRmspropParams params, void* stream) {
  if (n <= 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_LAUNCH(rmsprop_update_kernel, grid_for(n), kThreads, static_cast<cudaStream_t>(stream))
  (n, param, grad, velocity, momentum_buffer, average_grad, params);
  GT_GPU_CHECK_LAUNCH(rmsprop_update_kernel);
  return GT_OK;
}

}  // namespace gt::gpu
