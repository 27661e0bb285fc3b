// Pooling on the GPU, NHWC. The fast kernels give each thread one output (or input) pixel and a group of
// V channels: V = 4 when the channels come in 16-byte-aligned fours, so each window cell is one 16-byte
// load, with 32-bit indices split by FastDivmod (a 64-bit division costs ~70 instructions; with it these
// memory-bound kernels would be bound by their index arithmetic). A max forward can also record each
// window's first maximum (argmax: window-local i·kw + j), all its backward needs. Max backward gathers:
// one thread per input element (group) sums dy over the windows whose argmax chose it, so no two threads
// write one cell and no atomics are needed; without a saved argmax, dispatch runs the forward for it
// first. Average backward gathers too. The simple kernels (64-bit indices, one channel per thread) serve
// tensors of 2^31 elements or more, and GPUTRAIN_POOL_KERNEL=simple (the reference).
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#include "core/fast_divmod.h"
#include "core/nan_rules.h"
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
  *begin = t - size + 1 <= 0 ? 0 : (t - size) / stride + 1;  // ceil((t − size + 1)/stride)
  const int64_t last = t / stride + 1;
  *end = last < outputs ? last : outputs;
}

// ---- the simple kernels: 64-bit indices, one channel per thread ----

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
        acc = kind == GT_POOL_MAX ? (max_takes(v, acc) ? v : acc) : acc + v;
      }
    if (kind == GT_POOL_AVG) {
      const float count = g.count_include_pad ? static_cast<float>(g.kh) * static_cast<float>(g.kw)
                                              : static_cast<float>((h1 - h0) * (w1 - w0));
      acc = count > 0 ? acc / count : 0.0f;
    }
    y[o] = acc;
  }
}

// Row-major scan by max_takes: the first maximum keeps its place (TensorFlow's rule), the first NaN
// takes it (NumPy's).
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
        if (where < 0 || max_takes(v, best)) {
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
        const float count = g.count_include_pad ? static_cast<float>(g.kh) * static_cast<float>(g.kw)
                                                : static_cast<float>((h1 - h0) * (w1 - w0));
        sum += dy[((n * g.oh + oh) * g.ow + ow) * g.c + c] / count;
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


// ---- the fast kernels: 32-bit indices, V channels per thread ----

// V consecutive channels in registers.
template <int V>
struct Lanes;
template <>
struct Lanes<1> {
  __device__ static void load(const float* p, float* v) { v[0] = *p; }
  __device__ static void load(const int32_t* p, int32_t* v) { v[0] = *p; }
  __device__ static void store(float* p, const float* v) { *p = v[0]; }
  __device__ static void store(int32_t* p, const int32_t* v) { *p = v[0]; }
};
template <>
struct Lanes<4> {
  __device__ static void load(const float* p, float* v) {
    const float4 q = load16<float4>(p);
    v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
  }
  __device__ static void load(const int32_t* p, int32_t* v) {
    const int4 q = load16<int4>(p);
    v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
  }
  __device__ static void store(float* p, const float* v) { store16(p, float4{v[0], v[1], v[2], v[3]}); }
  __device__ static void store(int32_t* p, const int32_t* v) { store16(p, int4{v[0], v[1], v[2], v[3]}); }
};

// The geometry with divisions by invariant integers. An output group index o enumerates (n, oh, ow,
// channel group) with the group fastest, so its first element is at o·V; likewise an input group index.
struct Pool32 {
  FastDivmod groups, out_w, out_h, in_w, in_h, stride_h, stride_w;
  int32_t h, w, c, kh, kw, pad_top, pad_left, oh, ow;
  int32_t count_include_pad;  // average: divide by kh·kw (below 2^31 here) instead of the real cells
};

// The outputs [begin, end) whose windows cover input index i along one axis (32-bit covering_outputs).
__device__ inline void covering_outputs32(int32_t i, const FastDivmod& stride, int32_t pad, int32_t size,
                                          int32_t outputs, int32_t* begin, int32_t* end) {
  const int32_t t = i + pad;
  *begin = t - size + 1 <= 0 ? 0 : static_cast<int32_t>(stride.div(static_cast<uint32_t>(t - size + stride.divisor)));
  const int32_t last = static_cast<int32_t>(stride.div(static_cast<uint32_t>(t))) + 1;
  *end = last < outputs ? last : outputs;
}

// y and argmax (each unless null) for every output group. Max scans by max_takes, as the simple kernels
// do: the value from −∞ and the argmax from the first cell agree on the value (NaNs included), so one
// running maximum serves both, and both match the simple kernels to the bit.
template <int V>
__global__ void pool2d_forward_fast_kernel(Pool32 p, uint32_t total, int kind, const float* __restrict__ x,
                                           float* __restrict__ y, int32_t* __restrict__ argmax) {
  const bool with_argmax = argmax != nullptr;
  const uint32_t step = gridDim.x * blockDim.x;
  for (uint32_t o = blockIdx.x * blockDim.x + threadIdx.x; o < total; o += step) {
    uint32_t group, ow, oh;
    const uint32_t n = p.out_h.divmod(p.out_w.divmod(p.groups.divmod(o, &group), &ow), &oh);
    const int32_t top = static_cast<int32_t>(oh * p.stride_h.divisor) - p.pad_top;
    const int32_t left = static_cast<int32_t>(ow * p.stride_w.divisor) - p.pad_left;
    const int32_t h0 = top > 0 ? top : 0, h1 = top + p.kh < p.h ? top + p.kh : p.h;
    const int32_t w0 = left > 0 ? left : 0, w1 = left + p.kw < p.w ? left + p.kw : p.w;
    float acc[V];
    int32_t where[V];
#pragma unroll
    for (int l = 0; l < V; ++l) {
      acc[l] = kind == GT_POOL_MAX ? -INFINITY : 0.0f;
      where[l] = -1;
    }
    for (int32_t ih = h0; ih < h1; ++ih)
      for (int32_t iw = w0; iw < w1; ++iw) {
        float v[V];
        Lanes<V>::load(x + ((n * p.h + ih) * p.w + iw) * p.c + group * V, v);
        const int32_t local = (ih - top) * p.kw + (iw - left);
#pragma unroll
        for (int l = 0; l < V; ++l) {
          if (kind != GT_POOL_MAX) {
            acc[l] += v[l];
          } else if (where[l] < 0 || max_takes(v[l], acc[l])) {
            acc[l] = v[l];
            where[l] = local;
          }
        }
      }
    if (kind == GT_POOL_AVG) {
      const int32_t count = p.count_include_pad ? p.kh * p.kw : (h1 - h0) * (w1 - w0);
#pragma unroll
      for (int l = 0; l < V; ++l) acc[l] = count > 0 ? acc[l] / static_cast<float>(count) : 0.0f;
    }
    if (y != nullptr) Lanes<V>::store(y + o * V, acc);
    if (with_argmax) Lanes<V>::store(argmax + o * V, where);
  }
}

// Input group i: (n, ih, iw, group), and the outputs [oh0, oh1) × [ow0, ow1) whose windows cover it.
struct InputCell {
  uint32_t n, group;
  int32_t ih, iw, oh0, oh1, ow0, ow1;
};
__device__ inline InputCell input_cell(const Pool32& p, uint32_t i) {
  uint32_t group, iw, ih;
  const uint32_t n = p.in_h.divmod(p.in_w.divmod(p.groups.divmod(i, &group), &iw), &ih);
  InputCell cell{n, group, static_cast<int32_t>(ih), static_cast<int32_t>(iw), 0, 0, 0, 0};
  covering_outputs32(cell.ih, p.stride_h, p.pad_top, p.kh, p.oh, &cell.oh0, &cell.oh1);
  covering_outputs32(cell.iw, p.stride_w, p.pad_left, p.kw, p.ow, &cell.ow0, &cell.ow1);
  return cell;
}

template <int V>
__global__ void max_pool2d_backward_fast_kernel(Pool32 p, uint32_t total, const float* __restrict__ dy,
                                                const int32_t* __restrict__ argmax, float* __restrict__ dx) {
  const uint32_t step = gridDim.x * blockDim.x;
  const auto sh = static_cast<int32_t>(p.stride_h.divisor), sw = static_cast<int32_t>(p.stride_w.divisor);
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += step) {
    const InputCell q = input_cell(p, i);
    float sum[V] = {};
    for (int32_t oh = q.oh0; oh < q.oh1; ++oh)
      for (int32_t ow = q.ow0; ow < q.ow1; ++ow) {
        // This cell's place inside window (oh, ow): it receives dy where it was the window's maximum.
        const int32_t local = (q.ih + p.pad_top - oh * sh) * p.kw + (q.iw + p.pad_left - ow * sw);
        const uint32_t o = ((q.n * p.oh + oh) * p.ow + ow) * p.c + q.group * V;
        float d[V];
        int32_t chosen[V];
        Lanes<V>::load(dy + o, d);
        Lanes<V>::load(argmax + o, chosen);
#pragma unroll
        for (int l = 0; l < V; ++l)
          if (chosen[l] == local) sum[l] += d[l];
      }
    Lanes<V>::store(dx + i * V, sum);
  }
}

template <int V>
__global__ void avg_pool2d_backward_fast_kernel(Pool32 p, uint32_t total, const float* __restrict__ dy,
                                                float* __restrict__ dx) {
  const uint32_t step = gridDim.x * blockDim.x;
  const auto sh = static_cast<int32_t>(p.stride_h.divisor), sw = static_cast<int32_t>(p.stride_w.divisor);
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += step) {
    const InputCell q = input_cell(p, i);
    float sum[V] = {};
    for (int32_t oh = q.oh0; oh < q.oh1; ++oh) {
      const int32_t top = oh * sh - p.pad_top;
      const int32_t rows = (top + p.kh < p.h ? top + p.kh : p.h) - (top > 0 ? top : 0);
      for (int32_t ow = q.ow0; ow < q.ow1; ++ow) {
        const int32_t left = ow * sw - p.pad_left;
        const int32_t cols = (left + p.kw < p.w ? left + p.kw : p.w) - (left > 0 ? left : 0);
        float d[V];
        Lanes<V>::load(dy + ((q.n * p.oh + oh) * p.ow + ow) * p.c + q.group * V, d);
        const int32_t count = p.count_include_pad ? p.kh * p.kw : rows * cols;
#pragma unroll
        for (int l = 0; l < V; ++l) sum[l] += d[l] / static_cast<float>(count);
      }
    }
    Lanes<V>::store(dx + i * V, sum);
  }
}

// Whether the fast kernels serve this geometry: every input and output index below 2^31, and every
// window coordinate too (a window's end top + kh and a padded row i + pad_top are below h + kh; its
// local index i·kw + j below kh·kw). A "same" window can be far larger than x: such windows, and
// strides of 2^31 or more, go to the 64-bit simple kernels.
bool fast_kernels_fit(const GtWindow2d& g) {
  // Read once per process, at the first pooling launch, as python/gputrain/settings.py declares it (not
  // per launch: getenv is not free, nor safe beside a thread that sets the environment).
  static const bool simple = [] {
    const char* v = std::getenv("GPUTRAIN_POOL_KERNEL");
    return v != nullptr && std::strcmp(v, "simple") == 0;
  }();
  if (simple) return false;
  const int64_t limit = int64_t(1) << 31;
  if (g.kh >= limit || g.kw >= limit || g.stride_h >= limit || g.stride_w >= limit) return false;
  return g.n * g.h * g.w * g.c < limit && g.n * g.oh * g.ow * g.c < limit && g.h + g.kh < limit &&
         g.w + g.kw < limit && g.kh * g.kw < limit;
}

// 4 channels per thread when they come in fours and every buffer (null ones aside) is 16-byte aligned.
int lanes_for(const GtWindow2d& g, std::initializer_list<const void*> buffers) {
  if (g.c % 4 != 0) return 1;
  for (const void* b : buffers)
    if (b != nullptr && !aligned_16(b)) return 1;
  return 4;
}

Pool32 pool32(const GtWindow2d& g, int lanes) {
  auto u = [](int64_t v) { return static_cast<uint32_t>(v); };
  auto i = [](int64_t v) { return static_cast<int32_t>(v); };
  return Pool32{FastDivmod(u(g.c / lanes)), FastDivmod(u(g.ow)), FastDivmod(u(g.oh)), FastDivmod(u(g.w)),
                FastDivmod(u(g.h)), FastDivmod(u(g.stride_h)), FastDivmod(u(g.stride_w)),
                i(g.h), i(g.w), i(g.c), i(g.kh), i(g.kw), i(g.pad_top), i(g.pad_left), i(g.oh), i(g.ow),
                g.count_include_pad ? 1 : 0};
}

}  // namespace

int pool2d_forward_f32(int device, const GtWindow2d* g, int kind, const float* x, float* y, int32_t* argmax,
                       void* stream) {
  const int64_t total = g->n * g->oh * g->ow * g->c;
  if (total == 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  auto s = static_cast<cudaStream_t>(stream);
  if (fast_kernels_fit(*g)) {
    const int lanes = lanes_for(*g, {x, y, argmax});
    const Pool32 p = pool32(*g, lanes);
    const auto groups = static_cast<uint32_t>(total / lanes);
    if (lanes == 4) {
      GT_LAUNCH(pool2d_forward_fast_kernel<4>, grid_for(groups), kThreads, s)(p, groups, kind, x, y, argmax);
    } else {
      GT_LAUNCH(pool2d_forward_fast_kernel<1>, grid_for(groups), kThreads, s)(p, groups, kind, x, y, argmax);
    }
    GT_GPU_CHECK_LAUNCH(pool2d_forward_fast_kernel);
    return GT_OK;
  }
  if (y != nullptr) {
    GT_LAUNCH(pool2d_forward_kernel, grid_for(total), kThreads, s)(*g, kind, x, y);
    GT_GPU_CHECK_LAUNCH(pool2d_forward_kernel);
  }
  if (argmax != nullptr) {
    GT_LAUNCH(max_pool2d_argmax_kernel, grid_for(total), kThreads, s)(*g, x, argmax);
    GT_GPU_CHECK_LAUNCH(max_pool2d_argmax_kernel);
  }
  return GT_OK;
}

int max_pool2d_backward_f32(int device, const GtWindow2d* g, const float* dy, const int32_t* argmax, float* dx,
                            void* stream) {
  const int64_t inputs = g->n * g->h * g->w * g->c;
  if (inputs == 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  auto s = static_cast<cudaStream_t>(stream);
  if (fast_kernels_fit(*g)) {
    const int lanes = lanes_for(*g, {dy, argmax, dx});
    const Pool32 p = pool32(*g, lanes);
    const auto total = static_cast<uint32_t>(inputs / lanes);
    if (lanes == 4) {
      GT_LAUNCH(max_pool2d_backward_fast_kernel<4>, grid_for(total), kThreads, s)(p, total, dy, argmax, dx);
    } else {
      GT_LAUNCH(max_pool2d_backward_fast_kernel<1>, grid_for(total), kThreads, s)(p, total, dy, argmax, dx);
    }
    GT_GPU_CHECK_LAUNCH(max_pool2d_backward_fast_kernel);
    return GT_OK;
  }
  GT_LAUNCH(max_pool2d_backward_kernel, grid_for(inputs), kThreads, s)(*g, dy, argmax, dx);
  GT_GPU_CHECK_LAUNCH(max_pool2d_backward_kernel);
  return GT_OK;
}

int avg_pool2d_backward_f32(int device, const GtWindow2d* g, const float* dy, float* dx, void* stream) {
  const int64_t inputs = g->n * g->h * g->w * g->c;
  if (inputs == 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  auto s = static_cast<cudaStream_t>(stream);
  if (fast_kernels_fit(*g)) {
    const int lanes = lanes_for(*g, {dy, dx});
    const Pool32 p = pool32(*g, lanes);
    const auto total = static_cast<uint32_t>(inputs / lanes);
    if (lanes == 4) {
      GT_LAUNCH(avg_pool2d_backward_fast_kernel<4>, grid_for(total), kThreads, s)(p, total, dy, dx);
    } else {
      GT_LAUNCH(avg_pool2d_backward_fast_kernel<1>, grid_for(total), kThreads, s)(p, total, dy, dx);
    }
    GT_GPU_CHECK_LAUNCH(avg_pool2d_backward_fast_kernel);
    return GT_OK;
  }
  GT_LAUNCH(avg_pool2d_backward_kernel, grid_for(inputs), kThreads, s)(*g, dy, dx);
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
