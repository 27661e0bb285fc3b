// Batch normalisation on the GPU over the last axis of an (m, c) view. Statistics and the backward sums
// are column reductions (column_reduce.h: deterministic, parallel over row bands even for few
// channels); mean first, then the squared deviations from it (no E[x²] − E[x]² cancellation).
#include "gpu/check.h"
#include "gpu/column_reduce.h"
#include "gpu/kernels.h"
#include "gpu/launch.h"

namespace gt::gpu {
namespace {

struct Value {
  const float* x;
  int64_t c;
  __device__ float operator()(int64_t i, int64_t j) const { return x[i * c + j]; }
};

struct SquaredDeviation {
  const float* x;
  const float* mean;
  int64_t c;
  __device__ float operator()(int64_t i, int64_t j) const {
    const float d = x[i * c + j] - mean[j];
    return d * d;
  }
};

// dy·x̂ with x̂ = (x − mean)/√(var + ε).
struct GradTimesNormalised {
  const float* dy;
  const float* x;
  const float* mean;
  const float* var;
  float epsilon;
  int64_t c;
  __device__ float operator()(int64_t i, int64_t j) const {
    return dy[i * c + j] * (x[i * c + j] - mean[j]) * rsqrtf(var[j] + epsilon);
  }
};

__global__ void batch_norm_forward_kernel(int64_t m, int64_t c, const float* __restrict__ x,
                                          const float* __restrict__ mean, const float* __restrict__ var,
                                          const float* __restrict__ gamma, const float* __restrict__ beta,
                                          float epsilon, float* __restrict__ y) {
  const int64_t total = m * c, step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int64_t j = i % c;
    const float scale = (gamma ? gamma[j] : 1.0f) * rsqrtf(var[j] + epsilon);
    y[i] = (x[i] - mean[j]) * scale + (beta ? beta[j] : 0.0f);  // subtract first: see cpu/batch_norm.cpp
  }
}

__global__ void batch_norm_update_moving_kernel(int64_t c, const float* __restrict__ mean,
                                                const float* __restrict__ var,
                                                float* __restrict__ moving_mean,
                                                float* __restrict__ moving_var, float momentum) {
  const int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j >= c) return;
  moving_mean[j] = moving_mean[j] * momentum + mean[j] * (1.0f - momentum);
  moving_var[j] = moving_var[j] * momentum + var[j] * (1.0f - momentum);
}

// dx = gamma/√(var+ε)·(dy − dbeta/m − x̂·dgamma/m).
__global__ void batch_norm_backward_kernel(int64_t m, int64_t c, const float* __restrict__ dy,
                                           const float* __restrict__ x, const float* __restrict__ mean,
                                           const float* __restrict__ var, const float* __restrict__ gamma,
                                           float epsilon, const float* __restrict__ dgamma,
                                           const float* __restrict__ dbeta, float* __restrict__ dx) {
  const int64_t total = m * c, step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const float inv_m = 1.0f / static_cast<float>(m);
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int64_t j = i % c;
    const float inv_std = rsqrtf(var[j] + epsilon);
    const float xhat = (x[i] - mean[j]) * inv_std;
    dx[i] = (gamma ? gamma[j] : 1.0f) * inv_std * (dy[i] - dbeta[j] * inv_m - xhat * dgamma[j] * inv_m);
  }
}

}  // namespace

// One column reduction's bands at a time (see GT_ROW_SPLITS).
int batch_norm_statistics_workspace(int, int64_t c, size_t* floats) {
  *floats = static_cast<size_t>(GT_ROW_SPLITS * c);
  return GT_OK;
}

int batch_norm_statistics_f32(int device, int64_t m, int64_t c, const float* x, float* mean, float* var,
                              float* workspace, void* stream) {
  if (c <= 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  auto s = static_cast<cudaStream_t>(stream);
  const float inv_m = m > 0 ? 1.0f / static_cast<float>(m) : 0.0f;
  int status = column_reduce(Value{x, c}, m, c, inv_m, mean, workspace, s);
  if (status != GT_OK) return status;
  return column_reduce(SquaredDeviation{x, mean, c}, m, c, inv_m, var, workspace, s);
}

int batch_norm_forward_f32(int device, int64_t m, int64_t c, const float* x, const float* mean,
                           const float* var, const float* gamma, const float* beta, float epsilon, float* y,
                           void* stream) {
  if (m * c <= 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_LAUNCH(batch_norm_forward_kernel, grid_for(m * c), kThreads, static_cast<cudaStream_t>(stream))
  (m, c, x, mean, var, gamma, beta, epsilon, y);
  GT_GPU_CHECK_LAUNCH(batch_norm_forward_kernel);
  return GT_OK;
}

int batch_norm_update_moving_f32(int device, int64_t c, const float* mean, const float* var,
                                 float* moving_mean, float* moving_var, float momentum, void* stream) {
  if (c <= 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_LAUNCH(batch_norm_update_moving_kernel, grid_for(c), kThreads, static_cast<cudaStream_t>(stream))
  (c, mean, var, moving_mean, moving_var, momentum);
  GT_GPU_CHECK_LAUNCH(batch_norm_update_moving_kernel);
  return GT_OK;
}

// Two column reductions' bands side by side.
int batch_norm_backward_workspace(int, int64_t c, size_t* floats) {
  *floats = static_cast<size_t>(2 * GT_ROW_SPLITS * c);
  return GT_OK;
}

int batch_norm_backward_f32(int device, int64_t m, int64_t c, const float* dy, const float* x,
                            const float* mean, const float* var, const float* gamma, float epsilon, float* dx,
                            float* dgamma, float* dbeta, float* workspace, void* stream) {
  if (c <= 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  auto s = static_cast<cudaStream_t>(stream);
  // The two reductions use separate halves of the workspace (GT_ROW_SPLITS·c floats each).
  int status = column_reduce(Value{dy, c}, m, c, 1.0f, dbeta, workspace, s);
  if (status != GT_OK) return status;
  status = column_reduce(GradTimesNormalised{dy, x, mean, var, epsilon, c}, m, c, 1.0f, dgamma,
                         workspace + GT_ROW_SPLITS * c, s);
  if (status != GT_OK) return status;
  if (m == 0) return GT_OK;
  GT_LAUNCH(batch_norm_backward_kernel, grid_for(m * c), kThreads, s)
  (m, c, dy, x, mean, var, gamma, epsilon, dgamma, dbeta, dx);
  GT_GPU_CHECK_LAUNCH(batch_norm_backward_kernel);
  return GT_OK;
}

}  // namespace gt::gpu
