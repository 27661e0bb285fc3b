// The permutation (Permute and its gradient) on the GPU: one thread per float of the contiguous
// output, consecutive threads on consecutive floats, so stores always coalesce and loads do where the
// permutation keeps the last axis (the view then reads whole lines). The source offset is the strided
// view's (core/strided_view.h), shared with the CPU.
#include "core/strided_view.h"
#include "gpu/check.h"
#include "gpu/kernels.h"
#include "gpu/launch.h"

namespace gt::gpu {
namespace {

__global__ void permute_kernel(GtStridedView v, const float* __restrict__ src, float* __restrict__ dst, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < n; t += stride)
    dst[t] = src[view_offset(v, t)];
}

}  // namespace

int permute_f32(int device, const GtStridedView* v, const float* src, float* dst, void* stream) {
  const int64_t n = view_size(*v);
  if (n <= 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_LAUNCH(permute_kernel, grid_for(n), kThreads, static_cast<cudaStream_t>(stream))(*v, src, dst, n);
  GT_GPU_CHECK_LAUNCH(permute_kernel);
  return GT_OK;
}

}  // namespace gt::gpu
