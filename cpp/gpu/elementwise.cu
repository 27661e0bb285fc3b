// Element-wise GPU kernels on contiguous buffers; a grid-stride loop so any n fits one launch.
#include "gpu/check.h"
#include "gpu/kernels.h"
#include "gpu/launch.h"

namespace gt::gpu {
namespace {

__global__ void add_f32_kernel(const float* __restrict__ a, const float* __restrict__ b,
                               float* __restrict__ out, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    out[i] = a[i] + b[i];
}

__global__ void cast_u8_f32_kernel(const uint8_t* __restrict__ src, float* __restrict__ out, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    out[i] = static_cast<float>(src[i]);
}

}  // namespace

int add_f32(int device, const float* a, const float* b, float* out, int64_t n, void* stream) {
  if (n <= 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  constexpr int threads = 256;
  const int64_t wanted = (n + threads - 1) / threads;
  const unsigned blocks = static_cast<unsigned>(wanted < 65535 ? wanted : 65535);
  GT_LAUNCH(add_f32_kernel, blocks, threads, static_cast<cudaStream_t>(stream))(a, b, out, n);
  GT_GPU_CHECK_LAUNCH(add_f32_kernel);
  return GT_OK;
}

int cast_u8_f32(int device, int64_t n, const uint8_t* src, float* out, void* stream) {
  if (n <= 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_LAUNCH(cast_u8_f32_kernel, grid_for(n), kThreads, static_cast<cudaStream_t>(stream))(src, out, n);
  GT_GPU_CHECK_LAUNCH(cast_u8_f32_kernel);
  return GT_OK;
}

}  // namespace gt::gpu
