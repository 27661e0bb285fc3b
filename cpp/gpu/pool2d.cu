// Pooling on the GPU, NHWC. Forward: one thread per output element, channel fastest, so a warp reads and
// writes consecutive channels (coalesced). Max backward gathers: a first kernel records each window's
// first maximum (window-local index), then one thread per INPUT element sums dy over the windows that
// chose it, so no two threads write one cell and no atomics are needed. Average backward gathers too.
#include "gpu/check.h"
#include "gpu/kernels.h"
#include "gpu/launch.h"

namespace gt::gpu {
namespace {

// The real cells [begin, end) of window o along one axis (padding cells excluded).
__device__ inline void window_span(int64_t o, int64_t stride, int64_t pad, int64_t size, int64_t extent,
                                   int64_t* begin, int64_t* end) {
  const int64_t start = o * stride - pad;
  *begin = start > 0 ? start : 0;
  *end = start + size < extent ? start + size : extent;
}

// Outputs [begin, end) whose windows cover input index i along one axis.
__device__ inline void covering_outputs(int64_t i, int64_t stride, int64_t pad, int64_t size, int64_t outputs,
                                        int64_t* begin, int64_t* end) {
  const int64_t t = i + pad;
  *begin = t - size + 1 <= 0 ? 0 : (t - size + 1 + stride - 1) / stride;
  const int64_t last = t / stride + 1;
  *end = last < outputs ? last : outputs;
}

__global__ void pool2d_forward_kernel(GtWindow2d g, int kind, const float* __restrict__ x,
                                      float* __restrict__ y) {
  const int64_t total = g.n * g.oh * g.ow * g.c;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; o < total; o += step) {
    const int64_t c = o % g.c, t = o / g.c, ow = t % g.ow, t2 = t / g.ow, oh = t2 % g.oh, n = t2 / g.oh;
    int64_t h0, h1, w0, w1;
    window_span(oh, g.stride_h, g.pad_top, g.kh, g.h, &h0, &h1);
    window_span(ow, g.stride_w, g.pad_left, g.kw, g.w, &w0, &w1);
    float acc = kind == GT_POOL_MAX ? -INFINITY : 0.0f;
    for (int64_t ih = h0; ih < h1; ++ih)
      for (int64_t iw = w0; iw < w1; ++iw) {
        const float v = x[((n * g.h + ih) * g.w + iw) * g.c + c];
        acc = kind == GT_POOL_MAX ? (v > acc ? v : acc) : acc + v;
      }
    if (kind == GT_POOL_AVG) {
      const int64_t count = (h1 - h0) * (w1 - w0);
      acc = count > 0 ? acc / static_cast<float>(count) : 0.0f;
    }
    y[o] = acc;
  }
}

// Row-major scan with a strict '>': the first maximum keeps its place (TensorFlow's rule).
__global__ void max_pool2d_argmax_kernel(GtWindow2d g, const float* __restrict__ x,
                                         int32_t* __restrict__ argmax) {
  const int64_t total = g.n * g.oh * g.ow * g.c;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; o < total; o += step) {
    const int64_t c = o % g.c, t = o / g.c, ow = t % g.ow, t2 = t / g.ow, oh = t2 % g.oh, n = t2 / g.oh;
    int64_t h0, h1, w0, w1;
    window_span(oh, g.stride_h, g.pad_top, g.kh, g.h, &h0, &h1);
    window_span(ow, g.stride_w, g.pad_left, g.kw, g.w, &w0, &w1);
    const int64_t top = oh * g.stride_h - g.pad_top, left = ow * g.stride_w - g.pad_left;
    float best = -INFINITY;
    int32_t where = -1;
    for (int64_t ih = h0; ih < h1; ++ih)
      for (int64_t iw = w0; iw < w1; ++iw) {
        const float v = x[((n * g.h + ih) * g.w + iw) * g.c + c];
        if (where < 0 || v > best) {
          best = v;
          where = static_cast<int32_t>((ih - top) * g.kw + (iw - left));
        }
      }
    argmax[o] = where;
  }
}

__global__ void max_pool2d_backward_kernel(GtWindow2d g, const float* __restrict__ dy,
                                           const int32_t* __restrict__ argmax, float* __restrict__ dx) {
  const int64_t total = g.n * g.h * g.w * g.c;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int64_t c = i % g.c, t = i / g.c, iw = t % g.w, t2 = t / g.w, ih = t2 % g.h, n = t2 / g.h;
    int64_t oh0, oh1, ow0, ow1;
    covering_outputs(ih, g.stride_h, g.pad_top, g.kh, g.oh, &oh0, &oh1);
    covering_outputs(iw, g.stride_w, g.pad_left, g.kw, g.ow, &ow0, &ow1);
    float sum = 0.0f;
    for (int64_t oh = oh0; oh < oh1; ++oh)
      for (int64_t ow = ow0; ow < ow1; ++ow) {
        const int32_t local = static_cast<int32_t>((ih - (oh * g.stride_h - g.pad_top)) * g.kw +
                                                   (iw - (ow * g.stride_w - g.pad_left)));
        const int64_t o = ((n * g.oh + oh) * g.ow + ow) * g.c + c;
        if (argmax[o] == local) sum += dy[o];
      }
    dx[i] = sum;
  }
}

__global__ void avg_pool2d_backward_kernel(GtWindow2d g, const float* __restrict__ dy,
                                           float* __restrict__ dx) {
  const int64_t total = g.n * g.h * g.w * g.c;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int64_t c = i % g.c, t = i / g.c, iw = t % g.w, t2 = t / g.w, ih = t2 % g.h, n = t2 / g.h;
    int64_t oh0, oh1, ow0, ow1;
    covering_outputs(ih, g.stride_h, g.pad_top, g.kh, g.oh, &oh0, &oh1);
    covering_outputs(iw, g.stride_w, g.pad_left, g.kw, g.ow, &ow0, &ow1);
    float sum = 0.0f;
    for (int64_t oh = oh0; oh < oh1; ++oh) {
      int64_t h0, h1;
      window_span(oh, g.stride_h, g.pad_top, g.kh, g.h, &h0, &h1);
      for (int64_t ow = ow0; ow < ow1; ++ow) {
        int64_t w0, w1;
        window_span(ow, g.stride_w, g.pad_left, g.kw, g.w, &w0, &w1);
        sum += dy[((n * g.oh + oh) * g.ow + ow) * g.c + c] / static_cast<float>((h1 - h0) * (w1 - w0));
      }
    }
    dx[i] = sum;
  }
}

// One thread per (n, c): threads of a warp take consecutive channels, so each of the hw steps reads
// a contiguous run.
__global__ void global_avg_pool2d_forward_kernel(int64_t n, int64_t hw, int64_t c,
                                                 const float* __restrict__ x, float* __restrict__ y) {
  const int64_t total = n * c;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; o < total; o += step) {
    const int64_t ch = o % c, b = o / c;
    float sum = 0.0f;
    for (int64_t p = 0; p < hw; ++p) sum += x[(b * hw + p) * c + ch];
    y[o] = sum / static_cast<float>(hw);
  }
}

__global__ void global_avg_pool2d_backward_kernel(int64_t n, int64_t hw, int64_t c,
                                                  const float* __restrict__ dy, float* __restrict__ dx) {
  const int64_t total = n * hw * c;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const float inv = 1.0f / static_cast<float>(hw);
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step)
    dx[i] = dy[(i / (hw * c)) * c + i % c] * inv;
}

}  // namespace

int pool2d_forward_f32(int device, const GtWindow2d* g, int kind, const float* x, float* y, void* stream) {
  const int64_t total = g->n * g->oh * g->ow * g->c;
  if (total == 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_LAUNCH(pool2d_forward_kernel, grid_for(total), kThreads, static_cast<cudaStream_t>(stream))
  (*g, kind, x, y);
  GT_GPU_CHECK_LAUNCH(pool2d_forward_kernel);
  return GT_OK;
}

int max_pool2d_backward_f32(int device, const GtWindow2d* g, const float* x, const float* dy,
                            int32_t* argmax_workspace, float* dx, void* stream) {
  const int64_t outputs = g->n * g->oh * g->ow * g->c, inputs = g->n * g->h * g->w * g->c;
  if (inputs == 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  auto s = static_cast<cudaStream_t>(stream);
  if (outputs > 0) {
    GT_LAUNCH(max_pool2d_argmax_kernel, grid_for(outputs), kThreads, s)(*g, x, argmax_workspace);
    GT_GPU_CHECK_LAUNCH(max_pool2d_argmax_kernel);
  }
  GT_LAUNCH(max_pool2d_backward_kernel, grid_for(inputs), kThreads, s)(*g, dy, argmax_workspace, dx);
  GT_GPU_CHECK_LAUNCH(max_pool2d_backward_kernel);
  return GT_OK;
}

int avg_pool2d_backward_f32(int device, const GtWindow2d* g, const float* dy, float* dx, void* stream) {
  const int64_t inputs = g->n * g->h * g->w * g->c;
  if (inputs == 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_LAUNCH(avg_pool2d_backward_kernel, grid_for(inputs), kThreads, static_cast<cudaStream_t>(stream))
  (*g, dy, dx);
  GT_GPU_CHECK_LAUNCH(avg_pool2d_backward_kernel);
  return GT_OK;
}

int global_avg_pool2d_forward_f32(int device, int64_t n, int64_t hw, int64_t c, const float* x, float* y,
                                  void* stream) {
  if (n * c == 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_LAUNCH(global_avg_pool2d_forward_kernel, grid_for(n * c), kThreads, static_cast<cudaStream_t>(stream))
  (n, hw, c, x, y);
  GT_GPU_CHECK_LAUNCH(global_avg_pool2d_forward_kernel);
  return GT_OK;
}

int global_avg_pool2d_backward_f32(int device, int64_t n, int64_t hw, int64_t c, const float* dy, float* dx,
                                   void* stream) {
  if (n * hw * c == 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_LAUNCH(global_avg_pool2d_backward_kernel, grid_for(n * hw * c), kThreads,
            static_cast<cudaStream_t>(stream))
  (n, hw, c, dy, dx);
  GT_GPU_CHECK_LAUNCH(global_avg_pool2d_backward_kernel);
  return GT_OK;
}

}  // namespace gt::gpu
