// Depthwise convolution on the GPU, as direct kernels (each output mixes only kh·kw values of one
// channel: nothing for a GEMM tile to reuse).
//   forward:         one thread per output (n, oh, ow, q), q = ch·M + m fastest: a warp reads
//                    consecutive kernel and x channels and writes consecutive y, all coalesced.
//   backward data:   one thread per input (n, ih, iw, ch), ch fastest, gathering from the outputs whose
//                    windows cover it (no atomics): dy[.., ch·M + m] · w[i, j, ch·M + m] over taps and m.
//   backward filter: dw[i, j, q] = Σ over every output pixel of x · dy, a column reduction (rows: output
//                    pixels, columns: (i, j, q) in dw's own order) through column_reduce.h: per-band
//                    partial sums in the workspace, then the bands added in a fixed order. Deterministic.
// Taps over padding read zeros and are multiplied like any other, as on the CPU (0·Inf is NaN). Indices are divided by FastDivmod
// when every index of the launch is below 2^31, by 64-bit division otherwise (tensors past 8 GiB).
#include <algorithm>
#include <initializer_list>

#include "core/fast_divmod.h"
#include "gpu/check.h"
#include "gpu/column_reduce.h"
#include "gpu/kernels.h"
#include "gpu/launch.h"

namespace gt::gpu {
namespace {

// Division by one of the geometry's extents: 64-bit (any size) or FastDivmod (numerators below 2^31).
struct Div64 {
  int64_t divisor;
  explicit Div64(int64_t d) : divisor(d) {}
  __device__ int64_t divmod(int64_t n, int64_t* remainder) const {
    const int64_t q = n / divisor;
    *remainder = n - q * divisor;
    return q;
  }
};

struct Div32 {
  FastDivmod f;
  explicit Div32(int64_t d) : f(static_cast<uint32_t>(d)) {}
  __device__ int64_t divmod(int64_t n, int64_t* remainder) const {
    uint32_t r;
    const uint32_t q = f.divmod(static_cast<uint32_t>(n), &r);
    *remainder = r;
    return q;
  }
};

// The divisors every kernel here needs, made once on the host.
template <class Div>
struct Divisors {
  Div c, cm, m, w, h, ow, oh, kw, sh, sw;
  explicit Divisors(const GtDepthwise2d& d)
      : c(d.g.c),
        cm(d.g.c * d.multiplier),
        m(d.multiplier),
        w(d.g.w),
        h(d.g.h),
        ow(d.g.ow),
        oh(d.g.oh),
        kw(d.g.kw),
        sh(d.g.stride_h),
        sw(d.g.stride_w) {}
};

// Whether every index and coordinate of the three passes is below 2^31, so that FastDivmod serves.
bool fits_32_bits(const GtDepthwise2d& d) {
  const GtWindow2d& g = d.g;
  const int64_t limit = int64_t(1) << 31;
  // Each factor first, so that the products below cannot overflow 64 bits.
  for (int64_t v : {g.c, d.multiplier, g.kh, g.kw, g.stride_h, g.stride_w, d.dilation_h, d.dilation_w})
    if (v >= limit) return false;
  const int64_t cm = g.c * d.multiplier;
  if (cm >= limit || g.kh * g.kw >= limit || g.kh * g.kw * cm >= limit) return false;
  const int64_t x = g.n * g.h * g.w * g.c, y = g.n * g.oh * g.ow * cm, pixels = g.n * g.oh * g.ow;
  // Padded coordinates (ih + pad_top, a tap's offset (k − 1)·dilation) stay below these.
  const int64_t rows = g.h + g.pad_top + (g.kh - 1) * d.dilation_h + g.oh * g.stride_h;
  const int64_t cols = g.w + g.pad_left + (g.kw - 1) * d.dilation_w + g.ow * g.stride_w;
  return x < limit && y < limit && pixels < limit && rows < limit && cols < limit;
}

template <class Div>
__global__ void depthwise_forward_kernel(GtDepthwise2d d, Divisors<Div> div, int64_t total,
                                         const float* __restrict__ x, const float* __restrict__ w,
                                         const float* __restrict__ bias, int activation, float* __restrict__ y) {
  const GtWindow2d& g = d.g;
  const int64_t cm = g.c * d.multiplier, step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += step) {
    int64_t q, ow, oh, m;
    const int64_t n = div.oh.divmod(div.ow.divmod(div.cm.divmod(e, &q), &ow), &oh);
    const int64_t ch = div.m.divmod(q, &m);
    const int64_t ih0 = oh * g.stride_h - g.pad_top, iw0 = ow * g.stride_w - g.pad_left;
    float sum = 0.0f;
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t ih = ih0 + i * d.dilation_h;
      const bool row_inside = ih >= 0 && ih < g.h;
      const float* row = x + (n * g.h + ih) * g.w * g.c + ch;
      const float* taps = w + i * g.kw * cm + q;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t iw = iw0 + j * d.dilation_w;
        const float v = row_inside && iw >= 0 && iw < g.w ? row[iw * g.c] : 0.0f;
        sum += v * taps[j * cm];  // padding too: 0·Inf is NaN, as in the reference
      }
    }
    y[e] = activate(activation, sum + (bias ? bias[q] : 0.0f));
  }
}

template <class Div>
__global__ void depthwise_backward_data_kernel(GtDepthwise2d d, Divisors<Div> div, int64_t total,
                                               const float* __restrict__ dy, const float* __restrict__ w,
                                               float* __restrict__ dx) {
  const GtWindow2d& g = d.g;
  const int64_t mult = d.multiplier, cm = g.c * mult, step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += step) {
    int64_t ch, iw, ih;
    const int64_t n = div.h.divmod(div.w.divmod(div.c.divmod(e, &ch), &iw), &ih);
    float sum = 0.0f;
    for (int64_t i = 0; i < g.kh; ++i) {
      // Tap i of output row oh reads row oh·stride_h − pad_top + i·dilation_h: this row when it divides.
      const int64_t th = ih + g.pad_top - i * d.dilation_h;
      if (th < 0) break;  // th only falls as i grows
      int64_t rh;
      const int64_t oh = div.sh.divmod(th, &rh);
      if (rh != 0 || oh >= g.oh) continue;
      const float* grads = dy + (n * g.oh + oh) * g.ow * cm + ch * mult;
      const float* taps = w + i * g.kw * cm + ch * mult;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t tw = iw + g.pad_left - j * d.dilation_w;
        if (tw < 0) break;
        int64_t rw;
        const int64_t ow = div.sw.divmod(tw, &rw);
        if (rw != 0 || ow >= g.ow) continue;
        const float* gr = grads + ow * cm;
        const float* tp = taps + j * cm;
        for (int64_t m = 0; m < mult; ++m) sum += gr[m] * tp[m];
      }
    }
    dx[e] = sum;
  }
}

// One term of the filter gradient: row = output pixel (n, oh, ow), col = (i, j, q) in dw's order.
template <class Div>
struct FilterTerm {
  const float* x;
  const float* dy;
  GtDepthwise2d d;
  Divisors<Div> div;
  __device__ float operator()(int64_t row, int64_t col) const {
    const GtWindow2d& g = d.g;
    int64_t q, j, m, ow, oh;
    const int64_t i = div.kw.divmod(div.cm.divmod(col, &q), &j);
    const int64_t ch = div.m.divmod(q, &m);
    const int64_t n = div.oh.divmod(div.ow.divmod(row, &ow), &oh);
    const int64_t ih = oh * g.stride_h - g.pad_top + i * d.dilation_h;
    const int64_t iw = ow * g.stride_w - g.pad_left + j * d.dilation_w;
    const bool inside = ih >= 0 && ih < g.h && iw >= 0 && iw < g.w;
    return (inside ? x[((n * g.h + ih) * g.w + iw) * g.c + ch] : 0.0f) * dy[row * g.c * d.multiplier + q];
  }
};

template <class Div>
int forward(const GtDepthwise2d& d, const float* x, const float* w, const float* bias, int activation, float* y,
            cudaStream_t s) {
  const int64_t total = d.g.n * d.g.oh * d.g.ow * d.g.c * d.multiplier;
  GT_LAUNCH(depthwise_forward_kernel<Div>, grid_for(total), kThreads, s)
  (d, Divisors<Div>(d), total, x, w, bias, activation, y);
  GT_GPU_CHECK_LAUNCH(depthwise_forward_kernel);
  return GT_OK;
}

template <class Div>
int backward_data(const GtDepthwise2d& d, const float* dy, const float* w, float* dx, cudaStream_t s) {
  const int64_t total = d.g.n * d.g.h * d.g.w * d.g.c;
  GT_LAUNCH(depthwise_backward_data_kernel<Div>, grid_for(total), kThreads, s)
  (d, Divisors<Div>(d), total, dy, w, dx);
  GT_GPU_CHECK_LAUNCH(depthwise_backward_data_kernel);
  return GT_OK;
}

int64_t filter_columns(const GtDepthwise2d& d) { return d.g.kh * d.g.kw * d.g.c * d.multiplier; }

}  // namespace

int depthwise_conv2d_forward_f32(int device, const GtDepthwise2d* d, const float* x, const float* w,
                                 const float* bias, int activation, float* y, void* stream) {
  if (d->g.n * d->g.oh * d->g.ow * d->g.c * d->multiplier == 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  auto s = static_cast<cudaStream_t>(stream);
  return fits_32_bits(*d) ? forward<Div32>(*d, x, w, bias, activation, y, s)
                          : forward<Div64>(*d, x, w, bias, activation, y, s);
}

int depthwise_conv2d_backward_data_f32(int device, const GtDepthwise2d* d, const float* dy, const float* w,
                                       float* dx, void* stream) {
  if (d->g.n * d->g.h * d->g.w * d->g.c == 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  auto s = static_cast<cudaStream_t>(stream);
  return fits_32_bits(*d) ? backward_data<Div32>(*d, dy, w, dx, s) : backward_data<Div64>(*d, dy, w, dx, s);
}

int depthwise_conv2d_backward_filter_workspace(int, const GtDepthwise2d* d, size_t* floats) {
  *floats = static_cast<size_t>(GT_ROW_SPLITS) * static_cast<size_t>(filter_columns(*d));
  return GT_OK;
}

int depthwise_conv2d_backward_filter_f32(int device, const GtDepthwise2d* d, const float* x, const float* dy,
                                         float* dw, float* workspace, void* stream) {
  const int64_t cols = filter_columns(*d), rows = d->g.n * d->g.oh * d->g.ow;
  if (cols == 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  auto s = static_cast<cudaStream_t>(stream);
  // No rows (an empty batch) still writes dw: the reduction's bands of nothing are zeros.
  if (fits_32_bits(*d))
    return column_reduce(FilterTerm<Div32>{x, dy, *d, Divisors<Div32>(*d)}, rows, cols, 1.0f, dw, workspace, s);
  return column_reduce(FilterTerm<Div64>{x, dy, *d, Divisors<Div64>(*d)}, rows, cols, 1.0f, dw, workspace, s);
}

}  // namespace gt::gpu
