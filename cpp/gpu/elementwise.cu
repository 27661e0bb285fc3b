// Element-wise GPU kernels on contiguous buffers; a grid-stride loop so any n fits one launch.
#include "core/fast_divmod.h"
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

__global__ void binary_f32_kernel(int op, const float* a, const float* b, float* out, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    out[i] = op == GT_BINARY_MUL ? a[i] * b[i] : op == GT_BINARY_MAX ? max_value(a[i], b[i]) : min_value(a[i], b[i]);
}

// The column of element i: 32-bit fast division where the view has fewer than 2^31 elements.
__global__ void bias_activation_f32_kernel(int64_t rows, int64_t cols, FastDivmod cols32, const float* x,
                                           const float* __restrict__ bias, int activation, float* y) {
  const int64_t n = rows * cols, stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const bool small = n < (int64_t{1} << 31);
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    float b = 0.0f;
    if (bias != nullptr) {
      uint32_t j = 0;
      if (small)
        cols32.divmod(static_cast<uint32_t>(i), &j);
      else
        j = static_cast<uint32_t>(i % cols);
      b = bias[j];
    }
    y[i] = activate(activation, x[i] + b);
  }
}

__global__ void select_grad_f32_kernel(const float* __restrict__ dy, const float* __restrict__ x,
                                       const float* __restrict__ y, uint8_t* __restrict__ taken, float* dx, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const bool take = !taken[i] && selects(x[i], y[i]);
    if (dx != nullptr) dx[i] = take ? dy[i] : 0.0f;
    taken[i] = static_cast<uint8_t>(taken[i] | take);
  }
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

int binary_f32(int device, int op, int64_t n, const float* a, const float* b, float* out, void* stream) {
  if (n <= 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_LAUNCH(binary_f32_kernel, grid_for(n), kThreads, static_cast<cudaStream_t>(stream))(op, a, b, out, n);
  GT_GPU_CHECK_LAUNCH(binary_f32_kernel);
  return GT_OK;
}

int bias_activation_f32(int device, int64_t rows, int64_t cols, const float* x, const float* bias, int activation,
                        float* y, void* stream) {
  if (rows <= 0 || cols <= 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_LAUNCH(bias_activation_f32_kernel, grid_for(rows * cols), kThreads, static_cast<cudaStream_t>(stream))(
      rows, cols, FastDivmod(static_cast<uint32_t>(cols < (int64_t{1} << 31) ? cols : 1)), x, bias, activation, y);
  GT_GPU_CHECK_LAUNCH(bias_activation_f32_kernel);
  return GT_OK;
}

int select_grad_f32(int device, int64_t n, const float* dy, const float* x, const float* y, uint8_t* taken,
                    float* dx, void* stream) {
  if (n <= 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_LAUNCH(select_grad_f32_kernel, grid_for(n), kThreads, static_cast<cudaStream_t>(stream))(dy, x, y, taken, dx, n);
  GT_GPU_CHECK_LAUNCH(select_grad_f32_kernel);
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
