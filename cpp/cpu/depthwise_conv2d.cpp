// Depthwise convolution as direct loops over NHWC rows. Output channel q = ch·M + m reads input channel
// ch, and the kernel's (c, M) block of one tap is laid out as the output's channels, so with M = 1 every
// inner loop is q-aligned over x, w, y and dy at once. With M > 1 an input row is first expanded to
// M copies of each channel (xe[iw][ch·M + m] = x[iw][ch]), which keeps the inner loops contiguous and
// vectorised for the price of one copy per input row used. Taps over padding read a row of zeros and
// are multiplied like any other (as conv2d's im2col does and the float64 reference): a NaN or Inf in
// the kernel or in dy reaches every output it meets, 0·Inf included.
#include "cpu/depthwise_conv2d.h"

#include <algorithm>
#include <vector>

#include "core/activations.h"
#include "cpu/parallel.h"

namespace gt::cpu {
namespace {

struct Range {
  int64_t lo, hi;
};

// The outputs o in [0, out) whose tap o·stride + shift lands in [0, size): a window column's taps that
// read the image, found once per tap instead of tested per pixel.
Range inside(int64_t out, int64_t stride, int64_t shift, int64_t size) {
  const int64_t lo = shift >= 0 ? 0 : (-shift + stride - 1) / stride;
  const int64_t last = size - 1 - shift;  // the largest o·stride whose tap is inside
  const int64_t hi = last < 0 ? 0 : std::min(out, last / stride + 1);
  return {lo, std::max(lo, hi)};
}

// The calling thread's buffer for an expanded row, grown on demand and kept: a fresh vector per row
// would cost a page fault and a zero fill per row.
float* row_buffer(int64_t floats) {
  thread_local std::vector<float> buffer;
  if (static_cast<int64_t>(buffer.size()) < floats) buffer.resize(static_cast<size_t>(floats));
  return buffer.data();
}

// The calling thread's row of zeros, read by taps over padding.
const float* zeros(int64_t floats) {
  thread_local std::vector<float> buffer;
  if (static_cast<int64_t>(buffer.size()) < floats) buffer.resize(static_cast<size_t>(floats), 0.0f);
  return buffer.data();
}

// Input row `row` (w pixels of c channels) with each channel repeated M times, or the row itself for M = 1.
const float* expanded(const float* row, int64_t w, int64_t c, int64_t m) {
  if (m == 1) return row;
  float* out = row_buffer(w * c * m);
  for (int64_t p = 0; p < w * c; ++p) std::fill_n(out + p * m, m, row[p]);
  return out;
}

}  // namespace

void depthwise_conv2d_forward(const GtDepthwise2d& d, const float* x, const float* w, const float* bias,
                              GtActivation activation, float* y) {
  const GtWindow2d& g = d.g;
  const int64_t cm = g.c * d.multiplier;
  parallel_for(g.n * g.oh, 0, [&](int64_t row) {
    const int64_t n = row / g.oh, oh = row % g.oh;
    float* out = y + row * g.ow * cm;  // the sums build up in y's own row, then the epilogue
    std::fill(out, out + g.ow * cm, 0.0f);
    const float* zero = zeros(cm);
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t ih = oh * g.stride_h - g.pad_top + i * d.dilation_h;
      const bool row_inside = ih >= 0 && ih < g.h;
      const float* src = row_inside ? expanded(x + (n * g.h + ih) * g.w * g.c, g.w, g.c, d.multiplier) : zero;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t shift = j * d.dilation_w - g.pad_left;
        const Range r = row_inside ? inside(g.ow, g.stride_w, shift, g.w) : Range{0, 0};
        const float* tap = w + (i * g.kw + j) * cm;
        for (int64_t ow = 0; ow < g.ow; ++ow) {
          const float* in = ow >= r.lo && ow < r.hi ? src + (ow * g.stride_w + shift) * cm : zero;
          float* acc = out + ow * cm;
#pragma omp simd
          for (int64_t q = 0; q < cm; ++q) acc[q] += in[q] * tap[q];
        }
      }
    }
    const int64_t count = g.ow * cm;
    if (bias)
      for (int64_t ow = 0; ow < g.ow; ++ow) {
        float* acc = out + ow * cm;
#pragma omp simd
        for (int64_t q = 0; q < cm; ++q) acc[q] += bias[q];
      }
    // One loop per formula (no switch in the body); NONE is no listed kind and leaves the sums.
    with_activation(activation, [&](auto formula) {
      using Formula = decltype(formula);
#pragma omp simd
      for (int64_t q = 0; q < count; ++q) out[q] = Formula::forward(out[q]);
    });
  });
}

void depthwise_conv2d_backward_data(const GtDepthwise2d& d, const float* dy, const float* w, float* dx) {
  const GtWindow2d& g = d.g;
  const int64_t m = d.multiplier, cm = g.c * m;
  // Each thread gathers whole rows of dx from the outputs whose windows cover them: no two threads
  // write one pixel, so no atomics, and the sums run in the same order every time.
  parallel_for(g.n * g.h, 0, [&](int64_t row) {
    const int64_t n = row / g.h, ih = row % g.h;
    float* out = dx + row * g.w * g.c;
    // With M = 1 the sums go straight into dx; otherwise into a row of expanded channels, folded over
    // the multiplier at the end.
    float* acc = m == 1 ? out : row_buffer(g.w * cm);
    std::fill(acc, acc + g.w * cm, 0.0f);
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t t = ih + g.pad_top - i * d.dilation_h;  // = oh·stride_h for the output that tap i meets
      if (t < 0 || t % g.stride_h != 0 || t / g.stride_h >= g.oh) continue;
      const float* grad = dy + (n * g.oh + t / g.stride_h) * g.ow * cm;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t shift = j * d.dilation_w - g.pad_left;
        const Range r = inside(g.ow, g.stride_w, shift, g.w);
        const float* tap = w + (i * g.kw + j) * cm;
        for (int64_t ow = r.lo; ow < r.hi; ++ow) {
          const float* in = grad + ow * cm;
          float* a = acc + (ow * g.stride_w + shift) * cm;
#pragma omp simd
          for (int64_t q = 0; q < cm; ++q) a[q] += in[q] * tap[q];
        }
      }
    }
    if (m == 1) return;
    for (int64_t p = 0; p < g.w * g.c; ++p) {
      float sum = 0.0f;
      for (int64_t k = 0; k < m; ++k) sum += acc[p * m + k];
      out[p] = sum;
    }
  });
}

void depthwise_conv2d_backward_filter(const GtDepthwise2d& d, const float* x, const float* dy, float* dw) {
  const GtWindow2d& g = d.g;
  const int64_t cm = g.c * d.multiplier, size = g.kh * g.kw * cm, rows = g.n * g.oh;
  // The output rows are split into a number of chunks that depends on the geometry only (not on the
  // threads), each summed into its own copy of dw, and the copies added in chunk order: the result is
  // the same bits whatever the thread count. The copies are bounded to 8 Mi floats in all.
  constexpr int64_t kMaxChunks = 64, kBudget = int64_t(8) << 20;
  const int64_t chunks = std::max<int64_t>(1, std::min({kMaxChunks, rows, kBudget / std::max<int64_t>(size, 1)}));
  std::vector<float> partial(static_cast<size_t>(chunks > 1 ? chunks * size : 0));
  parallel_for(chunks, 0, [&](int64_t chunk) {
    float* part = chunks > 1 ? partial.data() + chunk * size : dw;
    const float* zero = zeros(cm);
    std::fill(part, part + size, 0.0f);
    for (int64_t row = chunk * rows / chunks; row < (chunk + 1) * rows / chunks; ++row) {
      const int64_t n = row / g.oh, oh = row % g.oh;
      const float* grad = dy + row * g.ow * cm;
      for (int64_t i = 0; i < g.kh; ++i) {
        const int64_t ih = oh * g.stride_h - g.pad_top + i * d.dilation_h;
        const bool row_inside = ih >= 0 && ih < g.h;
        const float* src = row_inside ? expanded(x + (n * g.h + ih) * g.w * g.c, g.w, g.c, d.multiplier) : zero;
        for (int64_t j = 0; j < g.kw; ++j) {
          const int64_t shift = j * d.dilation_w - g.pad_left;
          const Range r = row_inside ? inside(g.ow, g.stride_w, shift, g.w) : Range{0, 0};
          float* tap = part + (i * g.kw + j) * cm;
          for (int64_t ow = 0; ow < g.ow; ++ow) {
            const float* in = ow >= r.lo && ow < r.hi ? src + (ow * g.stride_w + shift) * cm : zero;
            const float* gr = grad + ow * cm;
#pragma omp simd
            for (int64_t q = 0; q < cm; ++q) tap[q] += in[q] * gr[q];
          }
        }
      }
    }
  });
  if (chunks == 1) return;
  constexpr int64_t kBlock = 1024;  // dw in blocks, each added over the chunks in order
  parallel_for((size + kBlock - 1) / kBlock, 0, [&](int64_t b) {
    const int64_t lo = b * kBlock, hi = std::min(size, lo + kBlock);
    std::copy(partial.data() + lo, partial.data() + hi, dw + lo);
    for (int64_t k = 1; k < chunks; ++k) {
      const float* part = partial.data() + k * size;
#pragma omp simd
      for (int64_t t = lo; t < hi; ++t) dw[t] += part[t];
    }
  });
}

}  // namespace gt::cpu
