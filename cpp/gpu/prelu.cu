// PReLU on the GPU (see prelu_forward_f32 in core/op_list.h): one thread per element of the walk, which
// visits the batch and alpha's shared axes first, so alpha's index is the position modulo alpha's size
// and the backward's alpha shares land in walk order for a column sum (no atomics). The walk is the
// input's own order for per-element alpha and for alpha shared over leading axes (per-channel on NHWC):
// loads and stores coalesce there.
#include "core/nan_rules.h"
#include "core/strided_view.h"
#include "gpu/check.h"
#include "gpu/kernels.h"
#include "gpu/launch.h"

namespace gt::gpu {
namespace {

__global__ void prelu_forward_kernel(GtStridedView v, int64_t alpha_size, const float* __restrict__ x,
                                     const float* __restrict__ alpha, float* __restrict__ y, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < n; t += stride) {
    const int64_t o = view_offset(v, t);
    y[o] = prelu_value(x[o], alpha[t % alpha_size]);
  }
}

__global__ void prelu_backward_kernel(GtStridedView v, int64_t alpha_size, const float* __restrict__ dy,
                                      const float* __restrict__ x, const float* __restrict__ alpha,
                                      float* __restrict__ dx, float* __restrict__ terms, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < n; t += stride) {
    const int64_t o = view_offset(v, t);
    const float g = dy[o], xv = x[o];
    if (dx != nullptr) dx[o] = prelu_grad_value(g, xv, alpha[t % alpha_size]);
    terms[t] = prelu_alpha_term(g, xv);
  }
}

}  // namespace

int prelu_forward_f32(int device, const GtStridedView* v, int64_t alpha_size, const float* x, const float* alpha,
                      float* y, void* stream) {
  const int64_t n = view_size(*v);
  if (n <= 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_LAUNCH(prelu_forward_kernel, grid_for(n), kThreads, static_cast<cudaStream_t>(stream))(*v, alpha_size, x,
                                                                                             alpha, y, n);
  GT_GPU_CHECK_LAUNCH(prelu_forward_kernel);
  return GT_OK;
}

int prelu_backward_f32(int device, const GtStridedView* v, int64_t alpha_size, const float* dy, const float* x,
                       const float* alpha, float* dx, float* terms, void* stream) {
  const int64_t n = view_size(*v);
  if (n <= 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_LAUNCH(prelu_backward_kernel, grid_for(n), kThreads, static_cast<cudaStream_t>(stream))(
      *v, alpha_size, dy, x, alpha, dx, terms, n);
  GT_GPU_CHECK_LAUNCH(prelu_backward_kernel);
  return GT_OK;
}

}  // namespace gt::gpu
