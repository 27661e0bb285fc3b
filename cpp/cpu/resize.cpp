// One (image, row, column) per iteration, its taps computed once and the channels, contiguous in NHWC,
// streamed in the inner loop. The backward gathers (each input cell sums the output cells that read it,
// in the GPU kernel's order), so cells split across OpenMP threads never write the same float.
#include "cpu/resize.h"

#include "core/bilinear.h"

namespace gt::cpu {

void resize_bilinear2d_forward(const GtResize2d& r, const float* x, float* y) {
  const int64_t cells = r.n * r.oh * r.ow, c = r.c;
#pragma omp parallel for schedule(static) if (cells * c > (1 << 16))
  for (int64_t cell = 0; cell < cells; ++cell) {
    const int64_t n = cell / (r.oh * r.ow), o = cell / r.ow % r.oh, p = cell % r.ow;
    const BilinearTap row = bilinear_tap(o, r.h, r.oh), col = bilinear_tap(p, r.w, r.ow);
    const float* image = x + n * r.h * r.w * c;
    const float *a = image + (row.lower * r.w + col.lower) * c, *b = image + (row.lower * r.w + col.upper) * c;
    const float *d = image + (row.upper * r.w + col.lower) * c, *e = image + (row.upper * r.w + col.upper) * c;
    float* out = y + cell * c;
    for (int64_t ch = 0; ch < c; ++ch)
      out[ch] = bilinear_mix(bilinear_mix(a[ch], b[ch], col.lerp), bilinear_mix(d[ch], e[ch], col.lerp), row.lerp);
  }
}

void resize_bilinear2d_backward(const GtResize2d& r, const float* dy, float* dx) {
  const int64_t cells = r.n * r.h * r.w, c = r.c;
#pragma omp parallel for schedule(static) if (cells * c > (1 << 14))
  for (int64_t cell = 0; cell < cells; ++cell) {
    const int64_t n = cell / (r.h * r.w), i = cell / r.w % r.h, j = cell % r.w;
    float* out = dx + cell * c;
    for (int64_t ch = 0; ch < c; ++ch) out[ch] = 0.0f;
    int64_t o0, o1, p0, p1;
    bilinear_readers(i, r.h, r.oh, &o0, &o1);
    bilinear_readers(j, r.w, r.ow, &p0, &p1);
    for (int64_t o = o0; o <= o1; ++o) {
      const float wr = bilinear_weight(o, i, r.h, r.oh);
      if (wr == 0.0f) continue;
      for (int64_t p = p0; p <= p1; ++p) {
        const float wc = bilinear_weight(p, j, r.w, r.ow);
        if (wc == 0.0f) continue;
        const float w = wr * wc;
        const float* g = dy + ((n * r.oh + o) * r.ow + p) * c;
        for (int64_t ch = 0; ch < c; ++ch) out[ch] += w * g[ch];
      }
    }
  }
}

}  // namespace gt::cpu
