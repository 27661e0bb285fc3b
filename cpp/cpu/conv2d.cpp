// Convolution as im2col + SGEMM, a block of whole images at a time so the column buffer stays bounded
// (a few tens of MiB) while each GEMM still has thousands of rows. A 1×1, stride-1, unpadded
// convolution is a plain GEMM on x itself and skips the copy.
#include "cpu/conv2d.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>

#include "cpu/dense.h"
#include "cpu/gemm.h"

namespace gt::cpu {
namespace {

// Floats in one im2col block (32 MiB by default); tests lower it to exercise the multi-block path.
std::atomic<int64_t> column_budget{int64_t(8) << 20};

int64_t columns(const GtWindow2d& g) { return g.kh * g.kw * g.c; }

// The calling thread's im2col buffer, grown on demand and kept: a fresh zero-filled vector per call
// (4.7 MB for the first layer of the Colab CNN at batch 2) cost more in page faults and zeroing than
// the GEMM. Bounded by the column budget (one image at least).
float* column_buffer(int64_t floats) {
  thread_local std::unique_ptr<float[]> buffer;
  thread_local int64_t capacity = 0;
  if (floats > capacity) {
    buffer.reset(new float[static_cast<size_t>(floats)]);
    capacity = floats;
  }
  return buffer.get();
}

bool is_pointwise(const GtWindow2d& g) {
  return g.kh == 1 && g.kw == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_top == 0 &&
         g.pad_left == 0 && g.oh == g.h && g.ow == g.w;
}

// Images per block: as many as the budget allows, at least one.
int64_t images_per_block(const GtWindow2d& g) {
  const int64_t per_image = std::max<int64_t>(1, g.oh * g.ow * columns(g));
  return std::max<int64_t>(1, std::min(g.n, column_budget.load() / per_image));
}

// Rows (n, oh, ow) of images [n0, n0 + nb) as im2col rows; padding cells are zeros.
void im2col(const GtWindow2d& g, const float* x, int64_t n0, int64_t nb, float* cols) {
  const int64_t kk = columns(g);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < nb * g.oh; ++r) {
    const int64_t n = n0 + r / g.oh, oh = r % g.oh;
    for (int64_t ow = 0; ow < g.ow; ++ow) {
      float* row = cols + (r * g.ow + ow) * kk;
      const int64_t iw0 = ow * g.stride_w - g.pad_left;
      const bool columns_inside = iw0 >= 0 && iw0 + g.kw <= g.w;
      for (int64_t i = 0; i < g.kh; ++i) {
        const int64_t ih = oh * g.stride_h - g.pad_top + i;
        float* dst = row + i * g.kw * g.c;
        if (ih < 0 || ih >= g.h) {
          std::fill(dst, dst + g.kw * g.c, 0.0f);
        } else if (columns_inside) {
          // The kw taps of one kernel row are kw·c consecutive floats of x (NHWC): one copy, as a
          // plain loop because for the few channels of a first layer (c = 3: 36 bytes) a memcpy call
          // per tap cost more than the GEMM.
          const float* src = x + ((n * g.h + ih) * g.w + iw0) * g.c;
          for (int64_t q = 0; q < g.kw * g.c; ++q) dst[q] = src[q];
        } else {
          for (int64_t j = 0; j < g.kw; ++j) {
            const int64_t iw = iw0 + j;
            float* tap = dst + j * g.c;
            if (iw < 0 || iw >= g.w)
              std::fill(tap, tap + g.c, 0.0f);
            else
              std::copy(x + ((n * g.h + ih) * g.w + iw) * g.c, x + ((n * g.h + ih) * g.w + iw + 1) * g.c, tap);
          }
        }
      }
    }
  }
}

// dx for images [n0, n0 + nb) from their column gradient: each input pixel gathers the column entries
// of every window that covers it, so threads never write the same pixel (no atomics, deterministic).
void col2im_gather(const GtWindow2d& g, const float* dcols, int64_t n0, int64_t nb, float* dx) {
  const int64_t kk = columns(g);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < nb * g.h; ++r) {
    const int64_t nl = r / g.h, ih = r % g.h;
    for (int64_t iw = 0; iw < g.w; ++iw) {
      float* out = dx + (((n0 + nl) * g.h + ih) * g.w + iw) * g.c;
      std::fill(out, out + g.c, 0.0f);
      for (int64_t i = 0; i < g.kh; ++i) {
        const int64_t th = ih + g.pad_top - i;  // = oh·stride_h for the window that puts tap i here
        if (th < 0 || th % g.stride_h != 0 || th / g.stride_h >= g.oh) continue;
        const int64_t oh = th / g.stride_h;
        for (int64_t j = 0; j < g.kw; ++j) {
          const int64_t tw = iw + g.pad_left - j;
          if (tw < 0 || tw % g.stride_w != 0 || tw / g.stride_w >= g.ow) continue;
          const int64_t ow = tw / g.stride_w;
          const float* src = dcols + ((nl * g.oh + oh) * g.ow + ow) * kk + (i * g.kw + j) * g.c;
#pragma omp simd
          for (int64_t c = 0; c < g.c; ++c) out[c] += src[c];
        }
      }
    }
  }
}

}  // namespace

int64_t set_conv2d_column_budget(int64_t floats) { return column_budget.exchange(floats); }

void conv2d_forward(const GtWindow2d& g, int64_t k, const float* x, const float* w, const float* bias,
                    GtActivation activation, float* y) {
  const int64_t kk = columns(g), pixels = g.oh * g.ow;
  if (is_pointwise(g)) {
    sgemm(false, false, g.n * pixels, k, kk, x, kk, w, k, y, k, false, bias, activation);
    return;
  }
  const int64_t block = images_per_block(g);
  float* cols = column_buffer(block * pixels * kk);
  for (int64_t n0 = 0; n0 < g.n; n0 += block) {
    const int64_t nb = std::min(block, g.n - n0);
    im2col(g, x, n0, nb, cols);
    sgemm(false, false, nb * pixels, k, kk, cols, kk, w, k, y + n0 * pixels * k, k, false, bias,
          activation);
  }
}

void conv2d_backward_data(const GtWindow2d& g, int64_t k, const float* dy, const float* w, float* dx) {
  const int64_t kk = columns(g), pixels = g.oh * g.ow;
  if (is_pointwise(g)) {  // dx = dy · wᵀ
    sgemm(false, true, g.n * pixels, kk, k, dy, k, w, k, dx, kk, false, nullptr);
    return;
  }
  const int64_t block = images_per_block(g);
  float* dcols = column_buffer(block * pixels * kk);
  for (int64_t n0 = 0; n0 < g.n; n0 += block) {
    const int64_t nb = std::min(block, g.n - n0);
    sgemm(false, true, nb * pixels, kk, k, dy + n0 * pixels * k, k, w, k, dcols, kk, false, nullptr);
    col2im_gather(g, dcols, n0, nb, dx);
  }
}

void conv2d_backward_filter(const GtWindow2d& g, int64_t k, const float* x, const float* dy, float* dw,
                            float* dbias) {
  const int64_t kk = columns(g), pixels = g.oh * g.ow;
  if (dbias) column_sums(dy, g.n * pixels, k, dbias);
  if (g.n * pixels == 0) {
    std::fill(dw, dw + kk * k, 0.0f);
    return;
  }
  if (is_pointwise(g)) {  // dw = xᵀ · dy
    sgemm(true, false, kk, k, g.n * pixels, x, kk, dy, k, dw, k, false, nullptr);
    return;
  }
  const int64_t block = images_per_block(g);
  float* cols = column_buffer(block * pixels * kk);
  for (int64_t n0 = 0; n0 < g.n; n0 += block) {
    const int64_t nb = std::min(block, g.n - n0);
    im2col(g, x, n0, nb, cols);
    sgemm(true, false, kk, k, nb * pixels, cols, kk, dy + n0 * pixels * k, k, dw, k, n0 > 0, nullptr);
  }
}

}  // namespace gt::cpu
