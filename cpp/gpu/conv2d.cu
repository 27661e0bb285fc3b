// 2-D convolution on the GPU as implicit GEMM: the three passes are GEMMs whose operands are read
// straight from the NHWC images through index arithmetic (no im2col buffer), on the shared tile kernel.
//   forward:         y[(n,oh,ow), k]   = Σ_(r,s,c) x[n, oh·sh−pt+r, ow·sw−pl+s, c] · w[(r,s,c), k]
//   backward data:   dx[(n,ih,iw), c]  = Σ_(r,s,k) dy[n, (ih+pt−r)/sh, (iw+pl−s)/sw, k] · w[r,s,c,k]
//   backward filter: dw[(r,s,c), k]    = Σ_(n,oh,ow) x[n, oh·sh−pt+r, ow·sw−pl+s, c] · dy[(n,oh,ow), k]
// Out-of-image taps (padding) and, for backward data, taps that fall between strided outputs read
// as zeros. Backward filter sums over every output pixel, so it splits that depth across blocks
// (split-K) into a workspace and reduces the slices in a fixed order.
#include <algorithm>

#include "gpu/check.h"
#include "gpu/gemm_tile.h"
#include "gpu/kernels.h"
#include "gpu/launch.h"

namespace gt::gpu {
namespace {

// x viewed as the im2col matrix: row = output pixel (n, oh, ow), depth = tap (r, s, c); c is the
// fastest index of both the depth and NHWC memory, so depth neighbours are memory neighbours.
struct ForwardA {
  const float* x;
  GtWindow2d g;
  static constexpr bool kDepthContiguous = true;
  __device__ float operator()(int64_t row, int64_t d) const {
    const int64_t c = d % g.c, tap = d / g.c, s = tap % g.kw, r = tap / g.kw;
    const int64_t ow = row % g.ow, t = row / g.ow, oh = t % g.oh, n = t / g.oh;
    const int64_t ih = oh * g.stride_h - g.pad_top + r, iw = ow * g.stride_w - g.pad_left + s;
    return (ih >= 0 && ih < g.h && iw >= 0 && iw < g.w) ? x[((n * g.h + ih) * g.w + iw) * g.c + c] : 0.0f;
  }
};

// The HWIO kernel as a (kh·kw·c, k) row-major matrix: exactly its memory.
struct KernelB {
  const float* w;
  int64_t k;
  static constexpr bool kColumnsContiguous = true;
  __device__ float operator()(int64_t d, int64_t col) const { return w[d * k + col]; }
};

// Bias and activation fused into the store: y is written once, finished.
struct StoreBias {
  float* y;
  int64_t k;
  const float* bias;
  int activation;
  __device__ void operator()(int64_t row, int64_t col, int64_t, float v) const {
    y[row * k + col] = activate(activation, v + (bias ? bias[col] : 0.0f));
  }
};

// dy seen from an input pixel: row = input pixel (n, ih, iw), depth = (r, s, k). Tap (r, s) of the
// window at output (oh, ow) covers ih = oh·sh − pt + r, so oh = (ih + pt − r)/sh when that divides.
// With stride s, only 1 in sh·sw taps is real: those MACs are wasted on zeros (fine for ResNet's
// few strided layers; a stride-decomposed kernel would avoid them).
struct BackwardDataA {
  const float* dy;
  GtWindow2d g;
  int64_t k;
  static constexpr bool kDepthContiguous = true;
  __device__ float operator()(int64_t row, int64_t d) const {
    const int64_t kk = d % k, tap = d / k, s = tap % g.kw, r = tap / g.kw;
    const int64_t iw = row % g.w, t = row / g.w, ih = t % g.h, n = t / g.h;
    const int64_t th = ih + g.pad_top - r, tw = iw + g.pad_left - s;
    if (th < 0 || tw < 0 || th % g.stride_h != 0 || tw % g.stride_w != 0) return 0.0f;
    const int64_t oh = th / g.stride_h, ow = tw / g.stride_w;
    if (oh >= g.oh || ow >= g.ow) return 0.0f;
    return dy[((n * g.oh + oh) * g.ow + ow) * k + kk];
  }
};

// w[r, s, c, kk] at depth (r, s, kk) and column c: neighbours along depth (kk) are adjacent.
struct BackwardDataB {
  const float* w;
  GtWindow2d g;
  int64_t k;
  static constexpr bool kColumnsContiguous = false;
  __device__ float operator()(int64_t d, int64_t c) const {
    const int64_t kk = d % k, tap = d / k;
    return w[(tap * g.c + c) * k + kk];
  }
};

struct StorePlain {
  float* out;
  int64_t cols;
  __device__ void operator()(int64_t row, int64_t col, int64_t, float v) const { out[row * cols + col] = v; }
};

// The transposed im2col matrix: row = tap (r, s, c), depth = output pixel (n, oh, ow). Rows (c
// fastest) are memory neighbours, depth steps are not.
struct BackwardFilterA {
  const float* x;
  GtWindow2d g;
  static constexpr bool kDepthContiguous = false;
  __device__ float operator()(int64_t row, int64_t p) const {
    const int64_t c = row % g.c, tap = row / g.c, s = tap % g.kw, r = tap / g.kw;
    const int64_t ow = p % g.ow, t = p / g.ow, oh = t % g.oh, n = t / g.oh;
    const int64_t ih = oh * g.stride_h - g.pad_top + r, iw = ow * g.stride_w - g.pad_left + s;
    return (ih >= 0 && ih < g.h && iw >= 0 && iw < g.w) ? x[((n * g.h + ih) * g.w + iw) * g.c + c] : 0.0f;
  }
};

struct StoreSlice {
  float* ws;
  int64_t m, n;
  __device__ void operator()(int64_t i, int64_t j, int64_t z, float v) const { ws[(z * m + i) * n + j] = v; }
};

int plan_for(int device, int64_t m, int64_t n, int64_t k, bool allow_split, GemmPlan* plan) {
  DeviceLimits limits;
  const int status = device_limits(device, &limits);
  if (status != GT_OK) return status;
  *plan = plan_gemm(limits.sm_count, m, n, k, allow_split);
  return GT_OK;
}

}  // namespace

int conv2d_forward_f32(int device, const GtWindow2d* g, int64_t k, const float* x, const float* w,
                       const float* bias, int activation, float* y, void* stream) {
  const int64_t rows = g->n * g->oh * g->ow, depth = g->kh * g->kw * g->c;
  if (rows == 0 || k == 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  GemmPlan plan;
  if (const int status = plan_for(device, rows, k, depth, false, &plan); status != GT_OK) return status;
  return launch_gemm(plan, rows, k, depth, ForwardA{x, *g}, KernelB{w, k}, StoreBias{y, k, bias, activation},
                     static_cast<cudaStream_t>(stream));
}

int conv2d_backward_data_f32(int device, const GtWindow2d* g, int64_t k, const float* dy, const float* w,
                             float* dx, void* stream) {
  const int64_t rows = g->n * g->h * g->w, depth = g->kh * g->kw * k;
  if (rows == 0 || g->c == 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  GemmPlan plan;
  if (const int status = plan_for(device, rows, g->c, depth, false, &plan); status != GT_OK) return status;
  return launch_gemm(plan, rows, g->c, depth, BackwardDataA{dy, *g, k}, BackwardDataB{w, *g, k},
                     StorePlain{dx, g->c}, static_cast<cudaStream_t>(stream));
}

int conv2d_backward_filter_workspace(int device, const GtWindow2d* g, int64_t k, size_t* floats) {
  GemmPlan plan;
  if (const int status = plan_for(device, g->kh * g->kw * g->c, k, g->n * g->oh * g->ow, true, &plan);
      status != GT_OK)
    return status;
  *floats = plan.workspace_floats;
  return GT_OK;
}

int conv2d_backward_filter_f32(int device, const GtWindow2d* g, int64_t k, const float* x,
                               const float* dy, float* dw, float* workspace, void* stream) {
  const int64_t rows = g->kh * g->kw * g->c, depth = g->n * g->oh * g->ow;
  if (rows == 0 || k == 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  GemmPlan plan;
  if (const int status = plan_for(device, rows, k, depth, true, &plan); status != GT_OK) return status;
  auto s = static_cast<cudaStream_t>(stream);
  const BackwardFilterA la{x, *g};
  const KernelB lb{dy, k};  // dy as a (pixels, k) row-major matrix
  if (plan.splits == 1) return launch_gemm(plan, rows, k, depth, la, lb, StorePlain{dw, k}, s);
  const int status = launch_gemm(plan, rows, k, depth, la, lb, StoreSlice{workspace, rows, k}, s);
  if (status != GT_OK) return status;
  const int64_t blocks = std::min<int64_t>((rows * k + 255) / 256, 4096);
  split_k_reduce_kernel<<<static_cast<unsigned>(blocks), 256, 0, s>>>(workspace, rows, k, plan.splits,
                                                                      StorePlain{dw, k});
  GT_GPU_CHECK_LAUNCH(split_k_reduce_kernel);
  return GT_OK;
}

}  // namespace gt::gpu
