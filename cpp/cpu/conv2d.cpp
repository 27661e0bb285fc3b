// Convolution as implicit GEMM: the im2col matrix (one row per output pixel, kh·kw·c columns) is never
// written out; the shared SGEMM reads its rows from x through Im2colRows, in place where a kernel row's
// taps are consecutive floats of x. Forward: y = im2col(x) · w. Kernel gradient: dw = im2col(x)ᵀ · dy.
// Data gradient: with stride 1, a convolution of dy with the turned kernel; otherwise (and where that
// does not pay) dy · wᵀ into a bounded block of columns, gathered back into pixels. A 1×1, stride-1,
// unpadded convolution is a plain GEMM on x itself. Dilation (taps dilation_h, dilation_w apart, only
// with stride 1) changes where each tap reads and, along w, what is contiguous in x: one tap's c
// channels instead of a whole kernel row's kw·c floats. Groups: each group is a convolution of its own
// channels, run as the passes above on strided views (x's pixels ld = c floats apart, a group's c/groups
// of them read; y's and the kernel's rows k floats long, a group's k/groups columns used), so a plain
// convolution (one group, ld = its channels) runs exactly as it did.
#include "cpu/conv2d.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <utility>
#include <vector>

#include "cpu/dense.h"
#include "cpu/gemm.h"

namespace gt::cpu {
namespace {

// Floats in one block of the data gradient's columns (32 MiB by default); tests lower it to exercise
// the multi-block path.
std::atomic<int64_t> column_budget{int64_t(8) << 20};

int64_t columns(const GtWindow2d& g) { return g.kh * g.kw * g.c; }

// One group's convolution: its channels and outputs (the pixel strides stay the whole tensors').
GtWindow2d group_view(const GtWindow2d& g) {
  GtWindow2d v = g;
  v.c = g.c / g.groups;
  v.groups = 1;
  return v;
}

// The window's dilated extent along an axis: (taps − 1)·dilation + 1.
int64_t extent(int64_t taps, int64_t dilation) { return (taps - 1) * dilation + 1; }

// The calling thread's buffer for a block of data-gradient columns or the turned kernel, grown on demand
// and kept: a fresh zero-filled vector per call (4.7 MB of columns for the first layer of the Colab CNN
// at batch 2) cost more in page faults and zeroing than the GEMM.
float* column_buffer(int64_t floats) {
  thread_local std::unique_ptr<float[]> buffer;
  thread_local int64_t capacity = 0;
  if (floats > capacity) {
    buffer.reset(new float[static_cast<size_t>(floats)]);
    capacity = floats;
  }
  return buffer.get();
}

// When the stride-1 data gradient runs as a convolution (below). It produces c columns per pixel: with
// fewer, most of each GEMM tile would be padding. It also transposes the whole kernel first (≈ 4 ns a
// float on the 2-core test machine, against ≈ 0.012 ns a flop for the GEMM), which pays only when there
// are several times more pixels than output channels; the column-gradient path instead writes and
// gathers kh·kw·c floats a pixel, which costs most when k is small. Measured on that machine: through
// columns, 7×7×512 at batch 8 and 32 (392 and 1568 pixels) and 14×14×256 at batch 8 (1568) were faster,
// 28×28×128 and 56×56×64 at batch 8 slower (by 1.25× and 2×).
constexpr int64_t kMinImplicitDataChannels = 16;
constexpr int64_t kMinImplicitDataPixelsPerChannel = 8;

bool implicit_data_gradient(const GtWindow2d& g, int64_t k) {
  return g.stride_h == 1 && g.stride_w == 1 && g.c >= kMinImplicitDataChannels &&
         g.n * g.h * g.w >= kMinImplicitDataPixelsPerChannel * k;
}

bool is_pointwise(const GtWindow2d& g) {
  return g.kh == 1 && g.kw == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_top == 0 &&
         g.pad_left == 0 && g.oh == g.h && g.ow == g.w;
}

// The im2col rows of a whole batch, never materialised: row r = output pixel (n, oh, ow), depth p =
// (kernel row i, kernel column j, channel) in HWIO order, pixels of x `ld` floats apart (ld = g.c but
// for a group's view). The kw·c floats of one kernel row are consecutive in x (NHWC) when the window's
// columns are inside the image, undilated and ld = c (with dilation_w > 1 or a group's view, only each
// tap's c floats are), so each depth block within one such run is read in place; windows over padding,
// and runs too short to be worth a block of their own (one channel: 3 floats for a 3×3 kernel), are
// gathered into the GEMM's scratch.
class Im2colRows final : public RowSource {
 public:
  Im2colRows(const GtWindow2d& g, const float* x, int64_t ld)
      : RowSource(run(g, ld) >= kMinInPlaceRun ? run(g, ld) : columns(g)), g_(g), x_(x), ld_(ld) {}

  void rows(int64_t r0, int64_t count, int64_t p0, int64_t kc, float* scratch, const float** out) const override {
    const int64_t length = run(g_, ld_), runs_per_row = g_.kw * g_.c / length;  // 1 run a row, or kw
    const int64_t u0 = p0 / length, u1 = (p0 + kc - 1) / length;  // runs the block touches
    const int64_t i0 = u0 / runs_per_row, j0 = (u0 % runs_per_row) * (length / g_.c);  // u0's first tap
    // Output columns whose windows lie within the image's columns.
    const int64_t inside_lo = g_.pad_left > 0 ? (g_.pad_left + g_.stride_w - 1) / g_.stride_w : 0;
    const int64_t last = g_.w - extent(g_.kw, g_.dilation_w) + g_.pad_left;  // largest ow·stride_w that fits
    const int64_t inside_hi = last < 0 ? 0 : std::min(g_.ow, last / g_.stride_w + 1);
    int64_t ow = r0 % g_.ow, oh = r0 / g_.ow % g_.oh, n = r0 / (g_.ow * g_.oh);
    for (int64_t r = 0; r < count;) {  // one output row (n, oh) at a time: no division per pixel
      const int64_t span = std::min(count - r, g_.ow - ow);
      const int64_t ih0 = oh * g_.stride_h - g_.pad_top, ih = ih0 + i0 * g_.dilation_h;
      const bool row_inside = u0 == u1 && ih >= 0 && ih < g_.h;
      // x offset of the block's first float for window column 0, then stride_w·ld more per column.
      const int64_t origin =
          ((n * g_.h + ih) * g_.w - g_.pad_left + j0 * g_.dilation_w) * ld_ + p0 - u0 * length;
      for (int64_t e = 0; e < span; ++e, ++ow) {
        if (row_inside && ow >= inside_lo && ow < inside_hi)
          out[r + e] = x_ + (origin + ow * g_.stride_w * ld_);
        else
          out[r + e] = gather(n, ih0, ow * g_.stride_w - g_.pad_left, p0, kc, scratch + (r + e) * kc);
      }
      r += span;
      if (ow == g_.ow) {
        ow = 0;
        if (++oh == g_.oh) oh = 0, ++n;
      }
    }
  }

 private:
  // In-place runs: a kernel row's kw·c floats, or one tap's c when the taps are dilation_w apart or
  // the pixels hold other groups' channels between them.
  static int64_t run(const GtWindow2d& g, int64_t ld) { return g.dilation_w == 1 && ld == g.c ? g.kw * g.c : g.c; }

  // Depth [p0, p0 + kc) of the window at (ih0, iw0) of image n, copied into dst piece by piece.
  const float* gather(int64_t n, int64_t ih0, int64_t iw0, int64_t p0, int64_t kc, float* dst) const {
    const int64_t run = g_.kw * g_.c;
    const float* image = x_ + n * g_.h * g_.w * ld_;
    const bool contiguous = g_.dilation_w == 1 && ld_ == g_.c && iw0 >= 0 && iw0 + g_.kw <= g_.w;
    float* piece = dst;
    for (int64_t i = p0 / run; i <= (p0 + kc - 1) / run; ++i) {  // the block's part [q0, q1) of kernel row i
      const int64_t q0 = std::max(p0, i * run) - i * run, q1 = std::min(p0 + kc, (i + 1) * run) - i * run;
      const int64_t ih = ih0 + i * g_.dilation_h;
      if (ih < 0 || ih >= g_.h) {
        std::fill(piece, piece + (q1 - q0), 0.0f);
      } else if (contiguous) {
        // Plain loop: for the 3 channels of a first layer a memcpy call would cost more.
        const float* src = image + (ih * g_.w + iw0) * g_.c;
        for (int64_t q = q0; q < q1; ++q) piece[q - q0] = src[q];
      } else {
        for (int64_t q = q0; q < q1;) {  // tap by tap: a channel range of one pixel, or zeros
          const int64_t iw = iw0 + q / g_.c * g_.dilation_w, ch = q % g_.c, len = std::min(g_.c - ch, q1 - q);
          if (iw < 0 || iw >= g_.w)
            std::fill(piece + (q - q0), piece + (q - q0) + len, 0.0f);
          else
            std::copy_n(image + (ih * g_.w + iw) * ld_ + ch, len, piece + (q - q0));
          q += len;
        }
      }
      piece += q1 - q0;
    }
    return dst;
  }

  // Kernel rows shorter than this are gathered whole: a depth block of a few floats would make the
  // GEMM read and write its C tile once per few multiply-adds. The 3-channel first layers (9 and 21
  // floats a kernel row) ran 1.2-1.4x faster in place than gathered whole.
  static constexpr int64_t kMinInPlaceRun = 8;
  GtWindow2d g_;
  const float* x_;
  int64_t ld_;
};

// Images per block: as many as the budget allows, at least one.
int64_t images_per_block(const GtWindow2d& g) {
  const int64_t per_image = std::max<int64_t>(1, g.oh * g.ow * columns(g));
  return std::max<int64_t>(1, std::min(g.n, column_budget.load() / per_image));
}

// dx for images [n0, n0 + nb) from their column gradient: each input pixel gathers the column entries
// of every window that covers it, so threads never write the same pixel (no atomics, deterministic).
// dx's pixels are ld floats apart (its g.c channels written).
void col2im_gather(const GtWindow2d& g, const float* dcols, int64_t n0, int64_t nb, float* dx, int64_t ld) {
  const int64_t kk = columns(g);
  // The (tap, output index) pairs that cover each input column, and each input row, found once: a
  // division per tap and pixel cost more than the additions for the 3 channels of a first layer.
  auto covering = [](int64_t size, int64_t taps, int64_t stride, int64_t dilation, int64_t pad, int64_t out) {
    std::vector<std::vector<std::pair<int64_t, int64_t>>> pairs(static_cast<size_t>(size));
    for (int64_t at = 0; at < size; ++at)
      for (int64_t t = 0; t < taps; ++t) {
        const int64_t start = at + pad - t * dilation;  // = output index · stride for the window with tap t here
        if (start >= 0 && start % stride == 0 && start / stride < out) pairs[at].emplace_back(t, start / stride);
      }
    return pairs;
  };
  const auto rows = covering(g.h, g.kh, g.stride_h, g.dilation_h, g.pad_top, g.oh);
  const auto cols = covering(g.w, g.kw, g.stride_w, g.dilation_w, g.pad_left, g.ow);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < nb * g.h; ++r) {
    const int64_t nl = r / g.h, ih = r % g.h;
    for (int64_t iw = 0; iw < g.w; ++iw) {
      float* out = dx + (((n0 + nl) * g.h + ih) * g.w + iw) * ld;
      std::fill(out, out + g.c, 0.0f);
      for (const auto& [i, oh] : rows[ih])
        for (const auto& [j, ow] : cols[iw]) {
          const float* src = dcols + ((nl * g.oh + oh) * g.ow + ow) * kk + (i * g.kw + j) * g.c;
#pragma omp simd
          for (int64_t c = 0; c < g.c; ++c) out[c] += src[c];
        }
    }
  }
}

}  // namespace

int64_t set_conv2d_column_budget(int64_t floats) { return column_budget.exchange(floats); }

namespace {

// The three passes for one group's view g (k its outputs) over x with pixels ldx floats apart and
// rows of dy, y and the kernel ldk floats long; with one group, ldx = g.c and ldk = k.
void forward_view(const GtWindow2d& g, int64_t k, const float* x, int64_t ldx, const float* w, int64_t ldk,
                  const float* bias, GtActivation activation, float* y) {
  const int64_t kk = columns(g), pixels = g.oh * g.ow;
  if (is_pointwise(g)) {
    sgemm(false, false, g.n * pixels, k, kk, x, ldx, w, ldk, y, ldk, false, bias, activation);
    return;
  }
  sgemm_a_rows(Im2colRows(g, x, ldx), false, g.n * pixels, k, kk, w, ldk, y, ldk, false, bias, activation);
}

void backward_data_view(const GtWindow2d& g, int64_t k, const float* dy, int64_t ldk, const float* w,
                        float* dx, int64_t ldx) {
  const int64_t kk = columns(g), pixels = g.oh * g.ow;
  if (is_pointwise(g)) {  // dx = dy · wᵀ
    sgemm(false, true, g.n * pixels, kk, k, dy, ldk, w, ldk, dx, ldx, false, nullptr);
    return;
  }
  if (implicit_data_gradient(g, k)) {
    // With stride 1, dx is the convolution of dy (zero beyond its edges) with the kernel turned half
    // a turn and its channels swapped, w'[kh−1−i, kw−1−j, o, c] = w[i, j, c, o]: the forward's implicit
    // GEMM, with no column buffer and no gather. Its taps keep the dilation: dx[ih] = Σ_i dy[ih + pt −
    // i·d]·w[i] = Σ_i' dy[ih − (extent − 1 − pt) + i'·d]·w'[i'], padding extent − 1 − pt.
    float* turned = column_buffer(kk * k);  // kept between calls: no page faults for a fresh buffer
    constexpr int64_t kTile = 16;  // each tap's c×k matrix is transposed in tiles that stay in L1
#pragma omp parallel for schedule(static) if (kk * k > (1 << 16))
    for (int64_t tap = 0; tap < g.kh * g.kw; ++tap) {
      const float* from = w + tap * g.c * ldk;
      float* to = turned + (g.kh * g.kw - 1 - tap) * k * g.c;
      for (int64_t c0 = 0; c0 < g.c; c0 += kTile)
        for (int64_t o0 = 0; o0 < k; o0 += kTile)
          for (int64_t c = c0; c < std::min(c0 + kTile, g.c); ++c)
            for (int64_t o = o0; o < std::min(o0 + kTile, k); ++o) to[o * g.c + c] = from[c * ldk + o];
    }
    GtWindow2d over_dy = g;  // stride 1, the same taps and dilation; dy in, dx out
    over_dy.h = g.oh, over_dy.w = g.ow, over_dy.c = k;
    over_dy.pad_top = extent(g.kh, g.dilation_h) - 1 - g.pad_top;
    over_dy.pad_left = extent(g.kw, g.dilation_w) - 1 - g.pad_left;
    over_dy.oh = g.h, over_dy.ow = g.w;
    sgemm_a_rows(Im2colRows(over_dy, dy, ldk), false, g.n * g.h * g.w, g.c, g.kh * g.kw * k, turned, g.c, dx,
                 ldx, false, nullptr);
    return;
  }
  const int64_t block = images_per_block(g);
  float* dcols = column_buffer(block * pixels * kk);
  for (int64_t n0 = 0; n0 < g.n; n0 += block) {
    const int64_t nb = std::min(block, g.n - n0);
    sgemm(false, true, nb * pixels, kk, k, dy + n0 * pixels * ldk, ldk, w, ldk, dcols, kk, false, nullptr);
    col2im_gather(g, dcols, n0, nb, dx, ldx);
  }
}

void backward_filter_view(const GtWindow2d& g, int64_t k, const float* x, int64_t ldx, const float* dy,
                          int64_t ldk, float* dw) {
  const int64_t kk = columns(g), pixels = g.oh * g.ow;
  if (is_pointwise(g)) {  // dw = xᵀ · dy
    sgemm(true, false, kk, k, g.n * pixels, x, ldx, dy, ldk, dw, ldk, false, nullptr);
    return;
  }
  // dw = im2col(x)ᵀ · dy, the im2col rows (one per output pixel, the GEMM's depth) read from x.
  sgemm_source_t(Im2colRows(g, x, ldx), kk, k, g.n * pixels, dy, ldk, dw, ldk, false);
}

}  // namespace

void conv2d_forward(const GtWindow2d& g, int64_t k, const float* x, const float* w, const float* bias,
                    GtActivation activation, float* y) {
  const GtWindow2d v = group_view(g);
  const int64_t kg = k / g.groups;
  for (int64_t q = 0; q < g.groups; ++q)
    forward_view(v, kg, x + q * v.c, g.c, w + q * kg, k, bias ? bias + q * kg : nullptr, activation, y + q * kg);
}

void conv2d_backward_data(const GtWindow2d& g, int64_t k, const float* dy, const float* w, float* dx) {
  const GtWindow2d v = group_view(g);
  const int64_t kg = k / g.groups;
  for (int64_t q = 0; q < g.groups; ++q) backward_data_view(v, kg, dy + q * kg, k, w + q * kg, dx + q * v.c, g.c);
}

void conv2d_backward_filter(const GtWindow2d& g, int64_t k, const float* x, const float* dy, float* dw,
                            float* dbias) {
  if (dbias) column_sums(dy, g.n * g.oh * g.ow, k, dbias);
  const GtWindow2d v = group_view(g);
  if (g.n * g.oh * g.ow == 0) {
    std::fill(dw, dw + columns(v) * k, 0.0f);
    return;
  }
  const int64_t kg = k / g.groups;
  for (int64_t q = 0; q < g.groups; ++q) backward_filter_view(v, kg, x + q * v.c, g.c, dy + q * kg, k, dw + q * kg);
}

}  // namespace gt::cpu
