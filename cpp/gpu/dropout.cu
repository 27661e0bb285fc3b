// Dropout on the GPU: each element's fate is core/dropout_hash.h's function of (seed, index), the same
// one the CPU uses, so both backends drop the same elements for a seed whatever the launch shape. A
// training plan's per-step seed is derived on the device from its step counter (GtStepScalars).
#include "core/dropout_hash.h"
#include "gpu/check.h"
#include "gpu/kernels.h"
#include "gpu/launch.h"

namespace gt::gpu {
namespace {

__global__ void dropout_forward_kernel(int64_t n, const float* __restrict__ x, uint64_t seed,
                                       const GtStepScalars* step_scalars, uint32_t threshold, float scale,
                                       float* __restrict__ y, uint8_t* __restrict__ mask) {
  if (step_scalars != nullptr) seed = splitmix64(seed + step_scalars->step);
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const bool keep = dropout_keep(seed, static_cast<uint64_t>(i), threshold);
    mask[i] = keep ? 1 : 0;
    y[i] = x[i] * (keep ? scale : 0.0f);  // x·mask·scale: a dropped NaN or Inf gives NaN, as in NumPy
  }
}

__global__ void dropout_backward_kernel(int64_t n, const float* __restrict__ dy,
                                        const uint8_t* __restrict__ mask, float scale,
                                        float* __restrict__ dx) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    dx[i] = dy[i] * (mask[i] ? scale : 0.0f);
}

}  // namespace

int dropout_forward_f32(int device, int64_t n, const float* x, uint64_t seed, const GtStepScalars* step,
                        uint32_t threshold, float scale, float* y, uint8_t* mask, void* stream) {
  if (n <= 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_LAUNCH(dropout_forward_kernel, grid_for(n), kThreads, static_cast<cudaStream_t>(stream))
  (n, x, seed, step, threshold, scale, y, mask);
  GT_GPU_CHECK_LAUNCH(dropout_forward_kernel);
  return GT_OK;
}

int dropout_backward_f32(int device, int64_t n, const float* dy, const uint8_t* mask, float scale, float* dx,
                         void* stream) {
  if (n <= 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_LAUNCH(dropout_backward_kernel, grid_for(n), kThreads, static_cast<cudaStream_t>(stream))
  (n, dy, mask, scale, dx);
  GT_GPU_CHECK_LAUNCH(dropout_backward_kernel);
  return GT_OK;
}

}  // namespace gt::gpu
