// Activations on the GPU. The element-wise ones (every activation of core/activations.h) are grid-stride
// loops, one kernel per formula (coalesced, any n in one launch); softmax gives each row one block whose
// width is a multiple of the device's warp size (queried at run time), with block reductions for the
// row maximum, the sum of exponentials and, backward, Σ dy·y. log_softmax does the same along the last
// axis, and along an inner axis gives each line a thread (neighbouring threads, neighbouring elements).
#include "gpu/check.h"
#include "gpu/kernels.h"
#include "gpu/launch.h"

namespace gt::gpu {
namespace {

// One kernel per formula of core/activations.h: no per-element switch on the kind.
template <class Formula>
__global__ void activation_forward_kernel(int64_t n, const float* __restrict__ x, float* __restrict__ y) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    y[i] = Formula::forward(x[i]);
}

// t: what the formula's derivative reads, the forward's input or output (see GT_ACTIVATION_LIST).
template <class Formula>
__global__ void activation_backward_kernel(int64_t n, const float* __restrict__ dy, const float* __restrict__ t,
                                           float* __restrict__ dx) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    dx[i] = Formula::backward(dy[i], t[i]);
}

__global__ void softmax_forward_kernel(int64_t cols, const float* __restrict__ x, float* __restrict__ y) {
  const float* in = x + static_cast<int64_t>(blockIdx.x) * cols;
  float* out = y + static_cast<int64_t>(blockIdx.x) * cols;
  float m = -INFINITY;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) m = fmaxf(m, in[j]);
  m = block_reduce(m, MaxOp{}, -INFINITY);
  float sum = 0.0f;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    const float e = expf(in[j] - m);
    out[j] = e;
    sum += e;
  }
  const float inv = 1.0f / block_reduce(sum, SumOp{}, 0.0f);
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) out[j] *= inv;  // each thread its own cells
}

__global__ void softmax_backward_kernel(int64_t cols, const float* __restrict__ dy,
                                        const float* __restrict__ y, float* __restrict__ dx) {
  const int64_t base = static_cast<int64_t>(blockIdx.x) * cols;
  float dot = 0.0f;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) dot += dy[base + j] * y[base + j];
  dot = block_reduce(dot, SumOp{}, 0.0f);
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) dx[base + j] = y[base + j] * (dy[base + j] - dot);
}

// log_softmax along the last axis (inner 1): one block per row, as softmax. (x − m) − log Σ: the
// shifted values are exact. A NaN is skipped by the maximum but reaches the sum, so the row becomes NaN.
__global__ void log_softmax_rows_kernel(int64_t cols, const float* __restrict__ x, float* __restrict__ y) {
  const int64_t base = static_cast<int64_t>(blockIdx.x) * cols;
  float m = -INFINITY;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) m = fmaxf(m, x[base + j]);
  m = block_reduce(m, MaxOp{}, -INFINITY);
  float sum = 0.0f;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) sum += expf(x[base + j] - m);
  const float log_sum = logf(block_reduce(sum, SumOp{}, 0.0f));
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) y[base + j] = (x[base + j] - m) - log_sum;
}

__global__ void log_softmax_backward_rows_kernel(int64_t cols, const float* __restrict__ dy,
                                                 const float* __restrict__ y, float* __restrict__ dx) {
  const int64_t base = static_cast<int64_t>(blockIdx.x) * cols;
  float total = 0.0f;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) total += dy[base + j];
  total = block_reduce(total, SumOp{}, 0.0f);
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) dx[base + j] = dy[base + j] - expf(y[base + j]) * total;
}

// log_softmax along an inner axis (inner > 1): one thread per line (o, i); neighbouring threads take
// neighbouring i, so each step along the axis reads a contiguous run.
__global__ void log_softmax_lines_kernel(int64_t outer, int64_t cols, int64_t inner, const float* __restrict__ x,
                                         float* __restrict__ y) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t line = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; line < outer * inner;
       line += step) {
    const int64_t base = (line / inner) * cols * inner + line % inner;
    float m = -INFINITY;
    for (int64_t j = 0; j < cols; ++j) m = fmaxf(m, x[base + j * inner]);
    float sum = 0.0f;
    for (int64_t j = 0; j < cols; ++j) sum += expf(x[base + j * inner] - m);
    const float log_sum = logf(sum);
    for (int64_t j = 0; j < cols; ++j) y[base + j * inner] = (x[base + j * inner] - m) - log_sum;
  }
}

__global__ void log_softmax_backward_lines_kernel(int64_t outer, int64_t cols, int64_t inner,
                                                  const float* __restrict__ dy, const float* __restrict__ y,
                                                  float* __restrict__ dx) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t line = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; line < outer * inner;
       line += step) {
    const int64_t base = (line / inner) * cols * inner + line % inner;
    float total = 0.0f;
    for (int64_t j = 0; j < cols; ++j) total += dy[base + j * inner];
    for (int64_t j = 0; j < cols; ++j) {
      const int64_t at = base + j * inner;
      dx[at] = dy[at] - expf(y[at]) * total;
    }
  }
}

// Threads per row: the row's width rounded up to whole warps, at most kThreads.
int row_threads(int device, int64_t cols, int* threads) {
  DeviceLimits limits;
  const int status = device_limits(device, &limits);
  if (status != GT_OK) return status;
  const int64_t warps = (cols + limits.warp_size - 1) / limits.warp_size;
  const int64_t wanted = warps * limits.warp_size;
  *threads = static_cast<int>(wanted < kThreads ? wanted : (kThreads / limits.warp_size) * limits.warp_size);
  return GT_OK;
}

}  // namespace

int activation_forward_f32(int device, int kind, int64_t n, const float* x, float* y, void* stream) {
  GT_GPU_REQUIRE(find_activation(kind) != nullptr, "activation: unknown activation kind");
  if (n <= 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  const auto s = static_cast<cudaStream_t>(stream);
  with_activation(kind, [&](auto formula) {
    using Formula = decltype(formula);
    GT_LAUNCH(activation_forward_kernel<Formula>, grid_for(n), kThreads, s)(n, x, y);
  });
  GT_GPU_CHECK_LAUNCH(activation_forward_kernel);
  return GT_OK;
}

int activation_backward_f32(int device, int kind, int64_t n, const float* dy, const float* xy, float* dx,
                            void* stream) {
  GT_GPU_REQUIRE(find_activation(kind) != nullptr, "activation_grad: unknown activation kind");
  if (n <= 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  const auto s = static_cast<cudaStream_t>(stream);
  with_activation(kind, [&](auto formula) {
    using Formula = decltype(formula);
    GT_LAUNCH(activation_backward_kernel<Formula>, grid_for(n), kThreads, s)(n, dy, xy, dx);
  });
  GT_GPU_CHECK_LAUNCH(activation_backward_kernel);
  return GT_OK;
}

int softmax_forward_f32(int device, int64_t rows, int64_t cols, const float* x, float* y, void* stream) {
  if (rows <= 0 || cols <= 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_GPU_REQUIRE(rows < (int64_t(1) << 31), "softmax: too many rows for one launch");
  int threads = 0;
  if (const int status = row_threads(device, cols, &threads); status != GT_OK) return status;
  GT_LAUNCH(softmax_forward_kernel, static_cast<unsigned>(rows), threads, static_cast<cudaStream_t>(stream))
  (cols, x, y);
  GT_GPU_CHECK_LAUNCH(softmax_forward_kernel);
  return GT_OK;
}

int softmax_backward_f32(int device, int64_t rows, int64_t cols, const float* dy, const float* y, float* dx,
                         void* stream) {
  if (rows <= 0 || cols <= 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_GPU_REQUIRE(rows < (int64_t(1) << 31), "softmax_grad: too many rows for one launch");
  int threads = 0;
  if (const int status = row_threads(device, cols, &threads); status != GT_OK) return status;
  GT_LAUNCH(softmax_backward_kernel, static_cast<unsigned>(rows), threads, static_cast<cudaStream_t>(stream))
  (cols, dy, y, dx);
  GT_GPU_CHECK_LAUNCH(softmax_backward_kernel);
  return GT_OK;
}

int log_softmax_forward_f32(int device, int64_t outer, int64_t cols, int64_t inner, const float* x, float* y,
                            void* stream) {
  if (outer <= 0 || cols <= 0 || inner <= 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  const auto s = static_cast<cudaStream_t>(stream);
  if (inner > 1) {
    GT_LAUNCH(log_softmax_lines_kernel, grid_for(outer * inner), kThreads, s)(outer, cols, inner, x, y);
    GT_GPU_CHECK_LAUNCH(log_softmax_lines_kernel);
    return GT_OK;
  }
  GT_GPU_REQUIRE(outer < (int64_t(1) << 31), "log_softmax: too many rows for one launch");
  int threads = 0;
  if (const int status = row_threads(device, cols, &threads); status != GT_OK) return status;
  GT_LAUNCH(log_softmax_rows_kernel, static_cast<unsigned>(outer), threads, s)(cols, x, y);
  GT_GPU_CHECK_LAUNCH(log_softmax_rows_kernel);
  return GT_OK;
}

int log_softmax_backward_f32(int device, int64_t outer, int64_t cols, int64_t inner, const float* dy,
                             const float* y, float* dx, void* stream) {
  if (outer <= 0 || cols <= 0 || inner <= 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  const auto s = static_cast<cudaStream_t>(stream);
  if (inner > 1) {
    GT_LAUNCH(log_softmax_backward_lines_kernel, grid_for(outer * inner), kThreads, s)(outer, cols, inner, dy, y, dx);
    GT_GPU_CHECK_LAUNCH(log_softmax_backward_lines_kernel);
    return GT_OK;
  }
  GT_GPU_REQUIRE(outer < (int64_t(1) << 31), "log_softmax_grad: too many rows for one launch");
  int threads = 0;
  if (const int status = row_threads(device, cols, &threads); status != GT_OK) return status;
  GT_LAUNCH(log_softmax_backward_rows_kernel, static_cast<unsigned>(outer), threads, s)(cols, dy, y, dx);
  GT_GPU_CHECK_LAUNCH(log_softmax_backward_rows_kernel);
  return GT_OK;
}

}  // namespace gt::gpu
