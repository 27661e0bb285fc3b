// Pooling loops: one output (or input) row per OpenMP iteration, channels innermost so every load and
// store is contiguous and the channel loop vectorises. Loops that allocate per row go through
// parallel_for, so an allocation that fails there raises MemoryError instead of ending the process.
#include "cpu/pool2d.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "core/nan_rules.h"
#include "cpu/parallel.h"

namespace gt::cpu {
namespace {

// Below this much work (window reads, or floats written) a thread team costs more than it saves, and
// far more when the machine's cores are busy with other work (its threads wait for a core at every
// barrier).
constexpr int64_t kParallelFrom = 1 << 15;

int threads_for(int64_t reads) { return reads >= kParallelFrom ? 0 : 1; }

// The real rows [begin, end) of window `o` along one axis.
struct Span {
  int64_t begin, end;
};
Span window_span(int64_t o, int64_t stride, int64_t pad, int64_t size, int64_t extent) {
  const int64_t start = o * stride - pad;
  return {std::max<int64_t>(start, 0), std::min(start + size, extent)};
}

// The cells an average divides by: the window's real ones (TensorFlow), or all kh·kw of it, padding
// included (count_include_pad), counted in float so that no window size overflows.
float average_divisor(const GtWindow2d& g, const Span& rows, const Span& cols) {
  if (g.count_include_pad) return static_cast<float>(g.kh) * static_cast<float>(g.kw);
  return static_cast<float>((rows.end - rows.begin) * (cols.end - cols.begin));
}

// The outputs [begin, end) whose windows cover input index `i` along one axis.
Span covering_outputs(int64_t i, int64_t stride, int64_t pad, int64_t size, int64_t outputs) {
  const int64_t t = i + pad;  // o·stride <= t < o·stride + size
  const int64_t lo = t - size + 1 <= 0 ? 0 : (t - size) / stride + 1;  // ceil((t − size + 1)/stride)
  return {lo, std::min(t / stride + 1, outputs)};
}

}  // namespace

void pool2d_forward(const GtWindow2d& g, GtPoolKind kind, const float* x, float* y) {
  parallel_for(g.n * g.oh, threads_for(g.n * g.oh * g.ow * g.kh * g.kw * g.c), [&](int64_t r) {
    const int64_t n = r / g.oh, oh = r % g.oh;
    const Span rows = window_span(oh, g.stride_h, g.pad_top, g.kh, g.h);
    std::vector<float> acc(static_cast<size_t>(g.c));
    for (int64_t ow = 0; ow < g.ow; ++ow) {
      const Span cols = window_span(ow, g.stride_w, g.pad_left, g.kw, g.w);
      std::fill(acc.begin(), acc.end(),
                kind == GT_POOL_MAX ? -std::numeric_limits<float>::infinity() : 0.0f);
      for (int64_t ih = rows.begin; ih < rows.end; ++ih)
        for (int64_t iw = cols.begin; iw < cols.end; ++iw) {
          const float* in = x + ((n * g.h + ih) * g.w + iw) * g.c;
          if (kind == GT_POOL_MAX) {
            for (int64_t c = 0; c < g.c; ++c) acc[c] = max_takes(in[c], acc[c]) ? in[c] : acc[c];
          } else {
#pragma omp simd
            for (int64_t c = 0; c < g.c; ++c) acc[c] += in[c];
          }
        }
      float* out = y + ((n * g.oh + oh) * g.ow + ow) * g.c;
      if (kind == GT_POOL_MAX) {
        std::copy(acc.begin(), acc.end(), out);
      } else {
        const float count = average_divisor(g, rows, cols);
        const float inv = count > 0 ? 1.0f / count : 0.0f;
        for (int64_t c = 0; c < g.c; ++c) out[c] = acc[c] * inv;
      }
    }
  });
}

void max_pool2d_argmax(const GtWindow2d& g, const float* x, int32_t* argmax, float* y) {
  parallel_for(g.n * g.oh, threads_for(g.n * g.oh * g.ow * g.kh * g.kw * g.c), [&](int64_t r) {
    const int64_t n = r / g.oh, oh = r % g.oh;
    const Span rows = window_span(oh, g.stride_h, g.pad_top, g.kh, g.h);
    std::vector<float> best(static_cast<size_t>(g.c));
    for (int64_t ow = 0; ow < g.ow; ++ow) {
      const Span cols = window_span(ow, g.stride_w, g.pad_left, g.kw, g.w);
      int32_t* arg = argmax + ((n * g.oh + oh) * g.ow + ow) * g.c;
      std::fill(best.begin(), best.end(), -std::numeric_limits<float>::infinity());
      std::fill(arg, arg + g.c, -1);
      // Row-major scan from the window's first cell by max_takes: the first maximum keeps its place
      // (TensorFlow's rule), and the first NaN takes it and keeps it (NumPy's). The running value is
      // then pool2d_forward's maximum to the bit, NaNs included.
      for (int64_t ih = rows.begin; ih < rows.end; ++ih)
        for (int64_t iw = cols.begin; iw < cols.end; ++iw) {
          const float* in = x + ((n * g.h + ih) * g.w + iw) * g.c;
          const int32_t local = static_cast<int32_t>((ih - (oh * g.stride_h - g.pad_top)) * g.kw +
                                                     (iw - (ow * g.stride_w - g.pad_left)));
          float* best_value = best.data();
#pragma omp simd
          for (int64_t c = 0; c < g.c; ++c) {  // selects, not branches: the channel loop vectorises
            const bool take = arg[c] < 0 || max_takes(in[c], best_value[c]);
            best_value[c] = take ? in[c] : best_value[c];
            arg[c] = take ? local : arg[c];
          }
        }
      if (y != nullptr) std::copy(best.begin(), best.end(), y + ((n * g.oh + oh) * g.ow + ow) * g.c);
    }
  });
}

// The outputs covering each input column: the same for every row, so found once, not per cell.
std::vector<Span> covering_columns(const GtWindow2d& g) {
  std::vector<Span> spans(static_cast<size_t>(g.w));
  for (int64_t iw = 0; iw < g.w; ++iw) spans[iw] = covering_outputs(iw, g.stride_w, g.pad_left, g.kw, g.ow);
  return spans;
}

void max_pool2d_backward(const GtWindow2d& g, const float* dy, const int32_t* argmax, float* dx) {
  const std::vector<Span> columns = covering_columns(g);
#pragma omp parallel for schedule(static) if (g.n * g.h * g.w * g.c >= kParallelFrom)
  for (int64_t r = 0; r < g.n * g.h; ++r) {
    const int64_t n = r / g.h, ih = r % g.h;
    const Span ohs = covering_outputs(ih, g.stride_h, g.pad_top, g.kh, g.oh);
    for (int64_t iw = 0; iw < g.w; ++iw) {
      const Span ows = columns[iw];
      float* out = dx + ((n * g.h + ih) * g.w + iw) * g.c;
      std::fill(out, out + g.c, 0.0f);
      for (int64_t oh = ohs.begin; oh < ohs.end; ++oh)
        for (int64_t ow = ows.begin; ow < ows.end; ++ow) {
          // This cell's index inside window (oh, ow): it receives dy where it was the window's winner.
          const int32_t local = static_cast<int32_t>((ih - (oh * g.stride_h - g.pad_top)) * g.kw +
                                                     (iw - (ow * g.stride_w - g.pad_left)));
          const int64_t o = ((n * g.oh + oh) * g.ow + ow) * g.c;
          // A select instead of a branch, so the channel loop vectorises; adding +0 leaves out[c] as it
          // was (it is never −0: it starts at +0).
#pragma omp simd
          for (int64_t c = 0; c < g.c; ++c) out[c] += argmax[o + c] == local ? dy[o + c] : 0.0f;
        }
    }
  }
}

void avg_pool2d_backward(const GtWindow2d& g, const float* dy, float* dx) {
  const std::vector<Span> columns = covering_columns(g);
#pragma omp parallel for schedule(static) if (g.n * g.h * g.w * g.c >= kParallelFrom)
  for (int64_t r = 0; r < g.n * g.h; ++r) {
    const int64_t n = r / g.h, ih = r % g.h;
    const Span ohs = covering_outputs(ih, g.stride_h, g.pad_top, g.kh, g.oh);
    for (int64_t iw = 0; iw < g.w; ++iw) {
      const Span ows = columns[iw];
      float* out = dx + ((n * g.h + ih) * g.w + iw) * g.c;
      std::fill(out, out + g.c, 0.0f);
      for (int64_t oh = ohs.begin; oh < ohs.end; ++oh) {
        const Span rows = window_span(oh, g.stride_h, g.pad_top, g.kh, g.h);
        for (int64_t ow = ows.begin; ow < ows.end; ++ow) {
          const Span cols = window_span(ow, g.stride_w, g.pad_left, g.kw, g.w);
          const float inv = 1.0f / average_divisor(g, rows, cols);
          const float* grad = dy + ((n * g.oh + oh) * g.ow + ow) * g.c;
#pragma omp simd
          for (int64_t c = 0; c < g.c; ++c) out[c] += grad[c] * inv;
        }
      }
    }
  }
}

void global_avg_pool2d_forward(int64_t n, int64_t hw, int64_t c, const float* x, float* y) {
  const float inv = hw > 0 ? 1.0f / static_cast<float>(hw) : 0.0f;
#pragma omp parallel for schedule(static) if (n * hw * c >= kParallelFrom)
  for (int64_t i = 0; i < n; ++i) {
    float* out = y + i * c;
    std::fill(out, out + c, 0.0f);
    for (int64_t p = 0; p < hw; ++p) {
      const float* in = x + (i * hw + p) * c;
#pragma omp simd
      for (int64_t j = 0; j < c; ++j) out[j] += in[j];
    }
    for (int64_t j = 0; j < c; ++j) out[j] *= inv;
  }
}

void global_avg_pool2d_backward(int64_t n, int64_t hw, int64_t c, const float* dy, float* dx) {
  const float inv = hw > 0 ? 1.0f / static_cast<float>(hw) : 0.0f;
#pragma omp parallel for schedule(static) if (n * hw * c >= kParallelFrom)
  for (int64_t r = 0; r < n * hw; ++r) {
    const float* grad = dy + (r / hw) * c;
    float* out = dx + r * c;
#pragma omp simd
    for (int64_t j = 0; j < c; ++j) out[j] = grad[j] * inv;
  }
}

}  // namespace gt::cpu
