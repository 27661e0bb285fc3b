// Bilinear resizing of NHWC images on the GPU (GtResize2d; the formulas in core/bilinear.h, shared with
// the CPU): one thread per float, channels fastest, so neighbouring threads read and write neighbouring
// floats. The backward gathers: each input float sums the output floats that read it (the few output
// rows and columns bilinear_readers bounds, weighted as the forward read them), so no two threads write
// one float, no atomics are needed and the sums come out the same every run.
#include "core/bilinear.h"
#include "gpu/check.h"
#include "gpu/kernels.h"
#include "gpu/launch.h"

namespace gt::gpu {
namespace {

__global__ void resize_bilinear2d_forward_kernel(GtResize2d r, const float* __restrict__ x,
                                                 float* __restrict__ y, int64_t total) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += stride) {
    const int64_t ch = e % r.c, cell = e / r.c;
    const int64_t n = cell / (r.oh * r.ow), o = cell / r.ow % r.oh, p = cell % r.ow;
    const BilinearTap row = bilinear_tap(o, r.h, r.oh), col = bilinear_tap(p, r.w, r.ow);
    const float* image = x + n * r.h * r.w * r.c + ch;
    const float *row_a = image + row.lower * r.w * r.c, *row_b = image + row.upper * r.w * r.c;  // above, below
    const int64_t left = col.lower * r.c, right = col.upper * r.c;
    const float top = bilinear_mix(row_a[left], row_a[right], col.lerp);
    const float bottom = bilinear_mix(row_b[left], row_b[right], col.lerp);
    y[e] = bilinear_mix(top, bottom, row.lerp);
  }
}

__global__ void resize_bilinear2d_backward_kernel(GtResize2d r, const float* __restrict__ dy,
                                                  float* __restrict__ dx, int64_t total) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += stride) {
    const int64_t ch = e % r.c, cell = e / r.c;
    const int64_t n = cell / (r.h * r.w), i = cell / r.w % r.h, j = cell % r.w;
    int64_t o0, o1, p0, p1;
    bilinear_readers(i, r.h, r.oh, &o0, &o1);
    bilinear_readers(j, r.w, r.ow, &p0, &p1);
    float sum = 0.0f;
    for (int64_t o = o0; o <= o1; ++o) {
      const float wr = bilinear_weight(o, i, r.h, r.oh);
      if (wr == 0.0f) continue;
      for (int64_t p = p0; p <= p1; ++p) {
        const float wc = bilinear_weight(p, j, r.w, r.ow);
        if (wc != 0.0f) sum += wr * wc * dy[((n * r.oh + o) * r.ow + p) * r.c + ch];
      }
    }
    dx[e] = sum;
  }
}

}  // namespace

int resize_bilinear2d_forward_f32(int device, const GtResize2d* r, const float* x, float* y, void* stream) {
  const int64_t total = r->n * r->oh * r->ow * r->c;
  if (total <= 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_LAUNCH(resize_bilinear2d_forward_kernel, grid_for(total), kThreads, static_cast<cudaStream_t>(stream))(
      *r, x, y, total);
  GT_GPU_CHECK_LAUNCH(resize_bilinear2d_forward_kernel);
  return GT_OK;
}

int resize_bilinear2d_backward_f32(int device, const GtResize2d* r, const float* dy, float* dx, void* stream) {
  const int64_t total = r->n * r->h * r->w * r->c;
  if (total <= 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_LAUNCH(resize_bilinear2d_backward_kernel, grid_for(total), kThreads, static_cast<cudaStream_t>(stream))(
      *r, dy, dx, total);
  GT_GPU_CHECK_LAUNCH(resize_bilinear2d_backward_kernel);
  return GT_OK;
}

}  // namespace gt::gpu
