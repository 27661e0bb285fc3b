// Optimizer updates on the GPU, in place, one grid-stride pass over parameter, gradient and state; the
// formulas are Keras 3's, shared with the CPU (core/optimizer_rules.h). A training plan's learning rate
// and per-step factors are read from device memory (GtStepScalars), so a replayed graph uses this step's.
#include "core/optimizer_rules.h"
#include "gpu/check.h"
#include "gpu/kernels.h"
#include "gpu/launch.h"

namespace gt::gpu {
namespace {

// The element's slot, or null for a slot the configuration does not keep.
__device__ inline float* at(float* slot, int64_t i) { return slot != nullptr ? slot + i : nullptr; }

__global__ void sgd_update_kernel(int64_t n, float* __restrict__ param, const float* __restrict__ grad,
                                  float* __restrict__ velocity, GtSgdParams p) {
  if (p.step != nullptr) p.lr = p.step->learning_rate;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    rules::sgd(param[i], grad[i], at(velocity, i), p.lr, p.momentum, p.nesterov != 0);
}

__global__ void adam_update_kernel(int64_t n, float* __restrict__ param, const float* __restrict__ grad,
                                   float* __restrict__ m, float* __restrict__ v, GtAdamParams p) {
  if (p.step != nullptr) p.alpha = p.step->adam_alpha;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    rules::adam(param[i], grad[i], m + i, v + i, nullptr, p.alpha, p.beta_1, p.beta_2, p.epsilon);
}

__global__ void rmsprop_update_kernel(int64_t n, float* __restrict__ param, const float* __restrict__ grad,
                                      float* __restrict__ velocity, float* __restrict__ momentum_buffer,
                                      float* __restrict__ average_grad, GtRmspropParams p) {
  if (p.step != nullptr) p.lr = p.step->learning_rate;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    rules::rmsprop(param[i], grad[i], velocity + i, at(momentum_buffer, i),
                   p.centered ? at(average_grad, i) : nullptr, p.lr, p.rho, p.momentum, p.epsilon);
}

__global__ void optimizer_update_kernel(int64_t n, float* __restrict__ param, const float* __restrict__ grad,
                                        float* __restrict__ s0, float* __restrict__ s1, float* __restrict__ s2,
                                        GtOptimizerParams p) {
  const float lr = p.step != nullptr ? p.step->learning_rate : p.lr;
  float factors[3];
  for (int k = 0; k < 3; ++k) factors[k] = p.step != nullptr ? p.step->factors[k] : p.factors[k];
  const float scale = rules::clip_scale(p);
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    rules::optimizer_element(p, lr, factors, scale, param[i], grad[i], at(s0, i), at(s1, i), at(s2, i));
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

int optimizer_update_f32(int device, int64_t n, float* param, const float* grad, float* s0, float* s1, float* s2,
                         GtOptimizerParams params, void* stream) {
  if (n <= 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_LAUNCH(optimizer_update_kernel, grid_for(n), kThreads, static_cast<cudaStream_t>(stream))
  (n, param, grad, s0, s1, s2, params);
  GT_GPU_CHECK_LAUNCH(optimizer_update_kernel);
  return GT_OK;
}

}  // namespace gt::gpu
