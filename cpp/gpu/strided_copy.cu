// The strided copy (GtStridedCopy, core/op_params.h) on the GPU: one thread per float, consecutive
// threads on consecutive floats of a line, so loads and stores coalesce whatever the line length (a
// concatenation of 16 channels has lines of 16). Index arithmetic uses 32-bit fast division when the
// copy has fewer than 2^31 floats, which every layer of a real network has.
#include "core/fast_divmod.h"
#include "gpu/check.h"
#include "gpu/kernels.h"
#include "gpu/launch.h"

namespace gt::gpu {
namespace {

struct Lines32 {
  FastDivmod cols, rows;
  __device__ void split(int64_t i, int64_t* o, int64_t* r, int64_t* j) const {
    uint32_t col = 0, row = 0;
    const uint32_t line = cols.divmod(static_cast<uint32_t>(i), &col);
    *o = rows.divmod(line, &row);
    *r = row;
    *j = col;
  }
};

struct Lines64 {
  int64_t cols, rows;
  __device__ void split(int64_t i, int64_t* o, int64_t* r, int64_t* j) const {
    const int64_t line = i / cols;
    *j = i - line * cols;
    *o = line / rows;
    *r = line - *o * rows;
  }
};

template <class Lines>
__global__ void strided_copy_kernel(GtStridedCopy c, Lines lines, const float* __restrict__ src,
                                    float* __restrict__ dst, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    int64_t o, r, j;
    lines.split(i, &o, &r, &j);
    const float v = c.scale * src[o * c.src_outer + r * c.src_row + j];
    float* d = dst + o * c.dst_outer + r * c.dst_row + j;
    *d = c.accumulate ? *d + v : v;
  }
}

}  // namespace

int strided_copy_f32(int device, const GtStridedCopy* c, const float* src, float* dst, void* stream) {
  const int64_t n = c->outer * c->rows * c->cols;
  if (n <= 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  auto s = static_cast<cudaStream_t>(stream);
  if (n < (int64_t{1} << 31)) {
    const Lines32 lines{FastDivmod(static_cast<uint32_t>(c->cols)), FastDivmod(static_cast<uint32_t>(c->rows))};
    GT_LAUNCH(strided_copy_kernel<Lines32>, grid_for(n), kThreads, s)(*c, lines, src, dst, n);
    GT_GPU_CHECK_LAUNCH(strided_copy_kernel<Lines32>);
  } else {
    GT_LAUNCH(strided_copy_kernel<Lines64>, grid_for(n), kThreads, s)(*c, Lines64{c->cols, c->rows}, src, dst, n);
    GT_GPU_CHECK_LAUNCH(strided_copy_kernel<Lines64>);
  }
  return GT_OK;
}

}  // namespace gt::gpu
