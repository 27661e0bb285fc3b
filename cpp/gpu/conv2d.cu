// 2-D convolution on the GPU as implicit GEMM: the three passes are GEMMs whose operands are read
// straight from the NHWC images by index arithmetic (no im2col buffer), on the shared tile kernel.
//   forward:         y[(n,oh,ow), k]   = Σ_(r,s,c) x[n, oh·sh−pt+r·dh, ow·sw−pl+s·dw, c] · w[(r,s,c), k]
//   backward data:   dx[(n,ih,iw), c]  = Σ_(r,s,k) dy[n, (ih+pt−r·dh)/sh, (iw+pl−s·dw)/sw, k] · w[r,s,c,k]
//   backward filter: dw[(r,s,c), k]    = Σ_(n,oh,ow) x[n, oh·sh−pt+r·dh, ow·sw−pl+s·dw, c] · dy[(n,oh,ow), k]
// (dh, dw: the dilation, 1 but for atrous convolutions.)
// Out-of-image taps (padding) and, for backward data, taps that fall between strided outputs read
// as zeros. Backward filter sums over every output pixel, so it splits that depth across blocks
// (split-K) into a workspace and reduces the slices in a fixed order. Each view exists twice: with
// 64-bit indices (the simple version, any size) and 32-bit with FastDivmod (used when indices fit);
// strided backward data is further split by pixel position mod stride (backward_data_strided) so
// that no multiply-add is spent on taps that meet no output. The 32-bit loaders take the dilation as a
// template flag: undilated convolutions run exactly the index arithmetic they ran before dilation existed.
// Groups: each group's convolution is launched in turn on strided views (the loaders' geometry holds a
// group's channels c; x and dx pixels are ldx floats apart, dy, y and kernel rows ldk floats long, and
// the pointers start at the group's first channel), so one group costs exactly what it did before.
#include <algorithm>

#include "core/fast_divmod.h"
#include "gpu/check.h"
#include "gpu/gemm_tile.h"
#include "gpu/kernels.h"
#include "gpu/launch.h"

namespace gt::gpu {
namespace {

// x viewed as the im2col matrix: row = output pixel (n, oh, ow), depth = tap (r, s, c); c is the
// fastest index of both the depth and NHWC memory, so depth neighbours are memory neighbours.
struct ForwardA {
  static constexpr bool kIndex64 = true;  // tensors past 2^31 elements only: big and small tiles
  const float* x;
  GtWindow2d g;
  int64_t ldx;
  static constexpr bool kDepthContiguous = true;
  static constexpr bool kVector = false;
  __device__ float operator()(int64_t row, int64_t d) const {
    const int64_t c = d % g.c, tap = d / g.c, s = tap % g.kw, r = tap / g.kw;
    const int64_t ow = row % g.ow, t = row / g.ow, oh = t % g.oh, n = t / g.oh;
    const int64_t ih = oh * g.stride_h - g.pad_top + r * g.dilation_h;
    const int64_t iw = ow * g.stride_w - g.pad_left + s * g.dilation_w;
    return (ih >= 0 && ih < g.h && iw >= 0 && iw < g.w) ? x[((n * g.h + ih) * g.w + iw) * ldx + c] : 0.0f;
  }
};

// The HWIO kernel as a (kh·kw·c, k) row-major matrix with rows k floats apart: exactly its memory (a
// group's columns of it start at its first output).
struct KernelB {
  const float* w;
  int64_t k;
  bool vector_ok;  // k is a multiple of 4 and w 16-byte aligned
  static constexpr bool kColumnsContiguous = true;
  static constexpr bool kVector = true;
  __device__ float operator()(int64_t d, int64_t col) const { return w[d * k + col]; }
  __device__ float4 load4(int64_t d, int64_t col) const { return load_float4(w + d * k + col); }
};

KernelB kernel_b(const float* w, int64_t k) { return KernelB{w, k, k % 4 == 0 && aligned_16(w)}; }

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
// window at output (oh, ow) covers ih = oh·sh − pt + r·dh, so oh = (ih + pt − r·dh)/sh when that divides.
// With stride s, only 1 in sh·sw taps is real: those MACs are wasted on zeros (fine for ResNet's
// few strided layers; a stride-decomposed kernel would avoid them).
struct BackwardDataA {
  static constexpr bool kIndex64 = true;  // tensors past 2^31 elements only: big and small tiles
  const float* dy;
  GtWindow2d g;
  int64_t k, ldk;
  static constexpr bool kDepthContiguous = true;
  static constexpr bool kVector = false;
  __device__ float operator()(int64_t row, int64_t d) const {
    const int64_t kk = d % k, tap = d / k, s = tap % g.kw, r = tap / g.kw;
    const int64_t iw = row % g.w, t = row / g.w, ih = t % g.h, n = t / g.h;
    const int64_t th = ih + g.pad_top - r * g.dilation_h, tw = iw + g.pad_left - s * g.dilation_w;
    if (th < 0 || tw < 0 || th % g.stride_h != 0 || tw % g.stride_w != 0) return 0.0f;
    const int64_t oh = th / g.stride_h, ow = tw / g.stride_w;
    if (oh >= g.oh || ow >= g.ow) return 0.0f;
    return dy[((n * g.oh + oh) * g.ow + ow) * ldk + kk];
  }
};

// w[r, s, c, kk] at depth (r, s, kk) and column c: neighbours along depth (kk) are adjacent.
struct BackwardDataB {
  const float* w;
  GtWindow2d g;
  int64_t k, ldk;
  static constexpr bool kColumnsContiguous = false;
  static constexpr bool kVector = false;
  __device__ float operator()(int64_t d, int64_t c) const {
    const int64_t kk = d % k, tap = d / k;
    return w[(tap * g.c + c) * ldk + kk];
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
  static constexpr bool kIndex64 = true;  // tensors past 2^31 elements only: big and small tiles
  const float* x;
  GtWindow2d g;
  int64_t ldx;
  static constexpr bool kDepthContiguous = false;
  static constexpr bool kVector = false;
  __device__ float operator()(int64_t row, int64_t p) const {
    const int64_t c = row % g.c, tap = row / g.c, s = tap % g.kw, r = tap / g.kw;
    const int64_t ow = p % g.ow, t = p / g.ow, oh = t % g.oh, n = t / g.oh;
    const int64_t ih = oh * g.stride_h - g.pad_top + r * g.dilation_h;
    const int64_t iw = ow * g.stride_w - g.pad_left + s * g.dilation_w;
    return (ih >= 0 && ih < g.h && iw >= 0 && iw < g.w) ? x[((n * g.h + ih) * g.w + iw) * ldx + c] : 0.0f;
  }
};

struct StoreSlice {
  float* ws;
  int64_t m, n;
  __device__ void operator()(int64_t i, int64_t j, int64_t z, float v) const { ws[(z * m + i) * n + j] = v; }
};

// ---- 32-bit loaders ---------------------------------------------------------------------------
// The same three views with 32-bit indices and divisions by FastDivmod (multiply-high + shift): the
// loaders above spend several 64-bit divisions per element, each ~70 instructions, more than the
// 64-FMA-per-element work they feed. Used whenever every index of the launch is below 2^31
// (fits_32_bits), i.e. all tensors under 8 GiB; the 64-bit loaders stay for larger ones.

struct Geometry32 {
  int h, w, c, ldx, kh, kw, sh, sw, pt, pl, oh, ow, dh, dw;  // ldx: floats between x's pixels
  FastDivmod div_c, div_kw, div_ow, div_oh, div_w, div_h, div_sh, div_sw;
  Geometry32(const GtWindow2d& g, int64_t ld)
      : h(int(g.h)),
        w(int(g.w)),
        c(int(g.c)),
        ldx(int(ld)),
        kh(int(g.kh)),
        kw(int(g.kw)),
        sh(int(g.stride_h)),
        sw(int(g.stride_w)),
        pt(int(g.pad_top)),
        pl(int(g.pad_left)),
        oh(int(g.oh)),
        ow(int(g.ow)),
        dh(int(g.dilation_h)),
        dw(int(g.dilation_w)),
        div_c(uint32_t(g.c)),
        div_kw(uint32_t(g.kw)),
        div_ow(uint32_t(g.ow)),
        div_oh(uint32_t(g.oh)),
        div_w(uint32_t(g.w)),
        div_h(uint32_t(g.h)),
        div_sh(uint32_t(g.stride_h)),
        div_sw(uint32_t(g.stride_w)) {}
};

bool dilated(const GtWindow2d& g) { return g.dilation_h != 1 || g.dilation_w != 1; }

bool fits_32_bits(const GtWindow2d& g, int64_t k) {
  const int64_t limit = int64_t(1) << 31;
  // Each factor first, so that the products below cannot overflow 64 bits either.
  if (g.kh >= limit || g.kw >= limit || g.stride_h >= limit || g.stride_w >= limit || k >= limit ||
      g.dilation_h >= limit || g.dilation_w >= limit || g.oh >= limit || g.ow >= limit)
    return false;
  const int64_t x = g.n * g.h * g.w * g.c, y = g.n * g.oh * g.ow * k, w = g.kh * g.kw * g.c * k;
  const int64_t pixels_in = g.n * g.h * g.w, pixels_out = g.n * g.oh * g.ow;
  const int64_t taps = g.kh * g.kw * std::max(g.c, k);
  // The dilated window's extent, (kh − 1)·dh + 1 (kh itself when undilated), below 2^62.
  const int64_t extent_h = (g.kh - 1) * g.dilation_h + 1, extent_w = (g.kw - 1) * g.dilation_w + 1;
  if (extent_h >= limit || extent_w >= limit) return false;
  // Padded coordinates (oh·sh + r·dh, ih + pt) stay below h + extent·sh + pt, and below oh·sh + extent
  // (explicit padding may put many cells after the image); bound them too.
  const int64_t coordinate =
      std::max({g.h + extent_h * g.stride_h + g.pad_top, g.w + extent_w * g.stride_w + g.pad_left,
                g.oh * g.stride_h + extent_h, g.ow * g.stride_w + extent_w});
  return x < limit && y < limit && w < limit && pixels_in < limit && pixels_out < limit && taps < limit &&
         coordinate < limit;
}

// Pixel (n, a, b) of a row index over an (n, a_extent, b_extent) grid.
__device__ inline void split_pixel(uint32_t row, const FastDivmod& div_b, const FastDivmod& div_a,
                                   uint32_t* n, uint32_t* a, uint32_t* b) {
  const uint32_t t = div_b.divmod(row, b);
  *n = div_a.divmod(t, a);
}

// Tap offset r·d along an axis: with kDilated false the plain r, no multiply.
template <bool kDilated>
__device__ inline int tap_offset(uint32_t r, int dilation) {
  if constexpr (kDilated) return int(r) * dilation;
  return int(r);
}

// Index of x at the im2col matrix's (output pixel, tap (r, s, c)), or -1 where the tap reads padding:
// the forward pass's A(row, d) and the kernel gradient's A(row, p), with the roles of row and depth swapped.
template <bool kDilated>
__device__ inline int64_t im2col_index(const Geometry32& g, uint32_t pixel, uint32_t tap) {
  uint32_t c, s, n, oh, ow;
  const uint32_t r = g.div_kw.divmod(g.div_c.divmod(tap, &c), &s);
  split_pixel(pixel, g.div_ow, g.div_oh, &n, &oh, &ow);
  const int ih = int(oh) * g.sh - g.pt + tap_offset<kDilated>(r, g.dh);
  const int iw = int(ow) * g.sw - g.pl + tap_offset<kDilated>(s, g.dw);
  if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) return -1;
  return ((n * uint32_t(g.h) + uint32_t(ih)) * uint32_t(g.w) + uint32_t(iw)) * uint32_t(g.ldx) + c;
}

// p[i], or zeros for the index -1 the loaders give to taps that read padding or meet no output.
__device__ inline float read_or_zero(const float* p, int64_t i) { return i < 0 ? 0.0f : p[i]; }
__device__ inline float4 read4_or_zero(const float* p, int64_t i) {
  return i < 0 ? make_float4(0.0f, 0.0f, 0.0f, 0.0f) : load_float4(p + i);
}

template <bool kDilated>
struct ForwardA32 {
  const float* x;
  Geometry32 g;
  bool vector_ok;  // c is a multiple of 4 and x 16-byte aligned: 4 depth steps from a multiple of 4
                   // are 4 channels of one tap, adjacent and aligned in memory
  static constexpr bool kDepthContiguous = true;
  static constexpr bool kVector = true;
  __device__ float operator()(int64_t row, int64_t d) const {
    return read_or_zero(x, im2col_index<kDilated>(g, uint32_t(row), uint32_t(d)));
  }
  __device__ float4 load4(int64_t row, int64_t d) const {
    return read4_or_zero(x, im2col_index<kDilated>(g, uint32_t(row), uint32_t(d)));
  }
};

template <bool kDilated>
struct BackwardDataA32 {
  const float* dy;
  Geometry32 g;
  FastDivmod div_k;
  uint32_t ldk;
  bool vector_ok;  // k is a multiple of 4 and dy 16-byte aligned (4 output channels of one tap)
  static constexpr bool kDepthContiguous = true;
  static constexpr bool kVector = true;
  // Index of dy for (row, d), or -1 where the tap falls on no output.
  __device__ int64_t index(int64_t row, int64_t d) const {
    uint32_t kk, s, n, ih, iw;
    const uint32_t r = g.div_kw.divmod(div_k.divmod(uint32_t(d), &kk), &s);
    split_pixel(uint32_t(row), g.div_w, g.div_h, &n, &ih, &iw);
    const int th = int(ih) + g.pt - tap_offset<kDilated>(r, g.dh), tw = int(iw) + g.pl - tap_offset<kDilated>(s, g.dw);
    if (th < 0 || tw < 0) return -1;
    uint32_t rh, rw;
    const uint32_t oh = g.div_sh.divmod(uint32_t(th), &rh), ow = g.div_sw.divmod(uint32_t(tw), &rw);
    if (rh != 0 || rw != 0 || oh >= uint32_t(g.oh) || ow >= uint32_t(g.ow)) return -1;
    return ((n * uint32_t(g.oh) + oh) * uint32_t(g.ow) + ow) * ldk + kk;
  }
  __device__ float operator()(int64_t row, int64_t d) const { return read_or_zero(dy, index(row, d)); }
  __device__ float4 load4(int64_t row, int64_t d) const { return read4_or_zero(dy, index(row, d)); }
};

struct BackwardDataB32 {
  const float* w;
  uint32_t c;
  FastDivmod div_k;
  uint32_t ldk;
  bool vector_ok;  // k is a multiple of 4 and w 16-byte aligned: depths d..d+3 (d a multiple of 4) are
                   // output channels kk..kk+3 of one tap, adjacent and aligned in memory
  static constexpr bool kColumnsContiguous = false;
  static constexpr bool kVector = true;
  __device__ uint32_t index(int64_t d, int64_t col) const {
    uint32_t kk;
    const uint32_t tap = div_k.divmod(uint32_t(d), &kk);
    return (tap * c + uint32_t(col)) * ldk + kk;
  }
  __device__ float operator()(int64_t d, int64_t col) const { return w[index(d, col)]; }
  __device__ float4 load4(int64_t d, int64_t col) const { return load_float4(w + index(d, col)); }
};

template <bool kDilated>
struct BackwardFilterA32 {
  const float* x;
  Geometry32 g;
  bool vector_ok;  // c is a multiple of 4 and x 16-byte aligned: rows row..row+3 (row a multiple of 4)
                   // are channels c..c+3 of one tap, adjacent and aligned in memory
  static constexpr bool kDepthContiguous = false;
  static constexpr bool kVector = true;
  __device__ float operator()(int64_t row, int64_t p) const {
    return read_or_zero(x, im2col_index<kDilated>(g, uint32_t(p), uint32_t(row)));
  }
  __device__ float4 load4(int64_t row, int64_t p) const {
    return read4_or_zero(x, im2col_index<kDilated>(g, uint32_t(p), uint32_t(row)));
  }
};

// ---- strided backward data ---------------------------------------------------------------------
// With stride s > 1 only one tap in s² of the plain backward-data GEMM meets an output: the rest are
// multiplies by zero. Split the input pixels into the s_h·s_w classes of (ih + pt) mod s_h and
// (iw + pl) mod s_w: within class (ph, pw) the taps that meet an output are exactly r ≡ ph, s ≡ pw,
// and tap (ph + s_h·tr, pw + s_w·ts) of pixel (ih0 + s_h·u, iw0 + s_w·v) reads output
// (u + base_h − tr, v + base_w − ts). One dense GEMM per class, no wasted depth.
struct StrideClass {
  int ph, pw;                  // residues of (ih + pt) and (iw + pl)
  int ih0, iw0;                // first input row / column of the class
  int base_h, base_w;          // (ih0 + pt − ph)/s_h and (iw0 + pl − pw)/s_w, exact and >= 0
  int hc, wc, taps_h, taps_w;  // pixels and taps of the class along each axis
};

StrideClass stride_class(const GtWindow2d& g, int ph, int pw) {
  StrideClass k{};
  k.ph = ph;
  k.pw = pw;
  const auto first = [](int64_t residue, int64_t pad, int64_t stride) {
    return static_cast<int>(((residue - pad) % stride + stride) % stride);
  };
  k.ih0 = first(ph, g.pad_top, g.stride_h);
  k.iw0 = first(pw, g.pad_left, g.stride_w);
  k.base_h = static_cast<int>((k.ih0 + g.pad_top - ph) / g.stride_h);
  k.base_w = static_cast<int>((k.iw0 + g.pad_left - pw) / g.stride_w);
  k.hc = k.ih0 < g.h ? static_cast<int>((g.h - k.ih0 + g.stride_h - 1) / g.stride_h) : 0;
  k.wc = k.iw0 < g.w ? static_cast<int>((g.w - k.iw0 + g.stride_w - 1) / g.stride_w) : 0;
  k.taps_h = ph < g.kh ? static_cast<int>((g.kh - ph + g.stride_h - 1) / g.stride_h) : 0;
  k.taps_w = pw < g.kw ? static_cast<int>((g.kw - pw + g.stride_w - 1) / g.stride_w) : 0;
  return k;
}

// Row = pixel (n, u, v) of the class, depth = (tr, ts, kk) with kk fastest.
struct StridedDataA {
  const float* dy;
  StrideClass k;
  int oh, ow;
  FastDivmod div_wc, div_hc, div_taps_w, div_k;
  uint32_t ldk;
  bool vector_ok;  // k % 4 == 0 and dy 16-byte aligned: 4 output channels of one tap
  static constexpr bool kDepthContiguous = true;
  static constexpr bool kVector = true;
  __device__ int64_t index(int64_t row, int64_t d) const {
    uint32_t kk, ts, n, u, v;
    const uint32_t tr = div_taps_w.divmod(div_k.divmod(uint32_t(d), &kk), &ts);
    split_pixel(uint32_t(row), div_wc, div_hc, &n, &u, &v);
    const int y = int(u) + k.base_h - int(tr), x = int(v) + k.base_w - int(ts);
    if (y < 0 || y >= oh || x < 0 || x >= ow) return -1;
    return ((n * uint32_t(oh) + uint32_t(y)) * uint32_t(ow) + uint32_t(x)) * ldk + kk;
  }
  __device__ float operator()(int64_t row, int64_t d) const { return read_or_zero(dy, index(row, d)); }
  __device__ float4 load4(int64_t row, int64_t d) const { return read4_or_zero(dy, index(row, d)); }
};

// w[ph + s_h·tr, pw + s_w·ts, c, kk] at depth (tr, ts, kk) and column c.
struct StridedDataB {
  const float* w;
  StrideClass k;
  int kw, c, sh, sw;
  FastDivmod div_taps_w, div_k;
  uint32_t ldk;
  bool vector_ok;  // k % 4 == 0 and w 16-byte aligned: 4 depths from a multiple of 4 are 4 output
                   // channels of one tap
  static constexpr bool kColumnsContiguous = false;
  static constexpr bool kVector = true;
  __device__ uint32_t index(int64_t d, int64_t col) const {
    uint32_t kk, ts;
    const uint32_t tr = div_taps_w.divmod(div_k.divmod(uint32_t(d), &kk), &ts);
    const uint32_t r = uint32_t(k.ph + sh * int(tr)), s = uint32_t(k.pw + sw * int(ts));
    return ((r * uint32_t(kw) + s) * uint32_t(c) + uint32_t(col)) * ldk + kk;
  }
  __device__ float operator()(int64_t d, int64_t col) const { return w[index(d, col)]; }
  __device__ float4 load4(int64_t d, int64_t col) const { return load_float4(w + index(d, col)); }
};

// dx of the class's pixel (n, u, v), channel col.
struct StoreStridedDx {
  float* dx;
  StrideClass k;
  int h, w, ldx, sh, sw;
  FastDivmod div_wc, div_hc;
  __device__ void operator()(int64_t row, int64_t col, int64_t, float value) const {
    uint32_t n, u, v;
    split_pixel(uint32_t(row), div_wc, div_hc, &n, &u, &v);
    const uint32_t ih = uint32_t(k.ih0 + sh * int(u)), iw = uint32_t(k.iw0 + sw * int(v));
    dx[((n * uint32_t(h) + ih) * uint32_t(w) + iw) * uint32_t(ldx) + uint32_t(col)] = value;
  }
};

// dw (rows ldk floats long) = A · dy (rows ldk floats long), k of their columns.
template <class ALoad>
int backward_filter(const GemmPlan& plan, int64_t rows, int64_t k, int64_t depth, ALoad la, const float* dy,
                    int64_t ldk, float* dw, float* workspace, cudaStream_t s) {
  const KernelB lb = kernel_b(dy, ldk);  // dy as a (pixels, k) row-major matrix
  if (plan.splits == 1) return launch_gemm(plan, rows, k, depth, la, lb, StorePlain{dw, ldk}, s);
  const int status = launch_gemm(plan, rows, k, depth, la, lb, StoreSlice{workspace, rows, k}, s);
  if (status != GT_OK) return status;
  const int64_t blocks = std::min<int64_t>((rows * k + 255) / 256, 4096);
  GT_LAUNCH(split_k_reduce_kernel, static_cast<unsigned>(blocks), 256, s)
  (workspace, rows, k, plan.splits, StorePlain{dw, ldk});
  GT_GPU_CHECK_LAUNCH(split_k_reduce_kernel);
  return GT_OK;
}

int plan_for(int device, int64_t m, int64_t n, int64_t k, bool allow_split, GemmPlan* plan) {
  DeviceLimits limits;
  const int status = device_limits(device, &limits);
  if (status != GT_OK) return status;
  *plan = plan_gemm(limits.sm_count, m, n, k, allow_split);
  return GT_OK;
}

// One group's view g (k its outputs), dy and kernel rows ldk floats long, dx pixels ldx floats apart.
int backward_data_strided(int device, const GtWindow2d& g, int64_t k, const float* dy, int64_t ldk,
                          const float* w, float* dx, int64_t ldx, cudaStream_t s) {
  const FastDivmod div_k(static_cast<uint32_t>(k));
  for (int ph = 0; ph < g.stride_h; ++ph)
    for (int pw = 0; pw < g.stride_w; ++pw) {
      const StrideClass cls = stride_class(g, ph, pw);
      const int64_t rows = g.n * cls.hc * cls.wc;
      if (rows == 0) continue;  // no input pixel in this class
      // A class whose taps all fall outside the kernel (stride > kernel) gets depth 0: zeros.
      const int64_t depth = int64_t(cls.taps_h) * cls.taps_w * k;
      GemmPlan plan;
      if (const int status = plan_for(device, rows, g.c, depth, false, &plan); status != GT_OK) return status;
      const FastDivmod div_wc(uint32_t(cls.wc)), div_hc(uint32_t(cls.hc));
      const FastDivmod div_taps_w(uint32_t(cls.taps_w > 0 ? cls.taps_w : 1));
      const StridedDataA la{dy,    cls,    int(g.oh),  int(g.ow),    div_wc, div_hc, div_taps_w,
                            div_k, uint32_t(ldk), k % 4 == 0 && aligned_16(dy)};
      const StridedDataB lb{w,     cls,   int(g.kw), int(g.c), int(g.stride_h), int(g.stride_w), div_taps_w,
                            div_k, uint32_t(ldk), k % 4 == 0 && aligned_16(w)};
      const StoreStridedDx store{
          dx, cls, int(g.h), int(g.w), int(ldx), int(g.stride_h), int(g.stride_w), div_wc, div_hc};
      if (const int status = launch_gemm(plan, rows, g.c, depth, la, lb, store, s); status != GT_OK)
        return status;
    }
  return GT_OK;
}

// One group's convolution: its channels in c (x's pixels, and dx's, stay the whole tensor's c apart).
GtWindow2d group_view(const GtWindow2d& g) {
  GtWindow2d v = g;
  v.c = g.c / g.groups;
  v.groups = 1;
  return v;
}

// The three passes for one group's view g (k its outputs) over x and dx with pixels ldx floats apart,
// and y, dy and the kernel with rows ldk floats long; `index32` says whether the whole tensors' indices
// fit 32 bits (fits_32_bits of the whole convolution).
int forward_view(const GemmPlan& plan, const GtWindow2d& g, int64_t k, bool index32, const float* x, int64_t ldx,
                 const float* w, int64_t ldk, const float* bias, int activation, float* y, cudaStream_t s) {
  const int64_t rows = g.n * g.oh * g.ow, depth = g.kh * g.kw * g.c;
  const StoreBias store{y, ldk, bias, activation};
  if (index32) {
    const Geometry32 g32(g, ldx);
    const bool vector_ok = g.c % 4 == 0 && ldx % 4 == 0 && aligned_16(x);
    if (dilated(g))
      return launch_gemm(plan, rows, k, depth, ForwardA32<true>{x, g32, vector_ok}, kernel_b(w, ldk), store, s);
    return launch_gemm(plan, rows, k, depth, ForwardA32<false>{x, g32, vector_ok}, kernel_b(w, ldk), store, s);
  }
  return launch_gemm(plan, rows, k, depth, ForwardA{x, g, ldx}, kernel_b(w, ldk), store, s);
}

int backward_data_view(int device, const GemmPlan& plan, const GtWindow2d& g, int64_t k, bool index32,
                       const float* dy, int64_t ldk, const float* w, float* dx, int64_t ldx, cudaStream_t s) {
  const int64_t rows = g.n * g.h * g.w, depth = g.kh * g.kw * k;
  // Stride classes assume consecutive taps; geometry never pairs stride > 1 with dilation (the general
  // loader below would still be right if it did).
  if ((g.stride_h > 1 || g.stride_w > 1) && !dilated(g) && index32)
    return backward_data_strided(device, g, k, dy, ldk, w, dx, ldx, s);
  if (index32) {
    const FastDivmod div_k(static_cast<uint32_t>(k));
    const Geometry32 g32(g, ldx);
    const bool vector_ok_k = k % 4 == 0 && ldk % 4 == 0;
    const BackwardDataB32 lb{w, static_cast<uint32_t>(g.c), div_k, uint32_t(ldk), vector_ok_k && aligned_16(w)};
    const bool vector_ok = vector_ok_k && aligned_16(dy);
    if (dilated(g))
      return launch_gemm(plan, rows, g.c, depth, BackwardDataA32<true>{dy, g32, div_k, uint32_t(ldk), vector_ok}, lb,
                         StorePlain{dx, ldx}, s);
    return launch_gemm(plan, rows, g.c, depth, BackwardDataA32<false>{dy, g32, div_k, uint32_t(ldk), vector_ok}, lb,
                       StorePlain{dx, ldx}, s);
  }
  return launch_gemm(plan, rows, g.c, depth, BackwardDataA{dy, g, k, ldk}, BackwardDataB{w, g, k, ldk},
                     StorePlain{dx, ldx}, s);
}

int backward_filter_view(const GemmPlan& plan, const GtWindow2d& g, int64_t k, bool index32, const float* x,
                         int64_t ldx, const float* dy, int64_t ldk, float* dw, float* workspace, cudaStream_t s) {
  const int64_t rows = g.kh * g.kw * g.c, depth = g.n * g.oh * g.ow;
  if (index32) {
    const Geometry32 g32(g, ldx);
    const bool vector_ok = g.c % 4 == 0 && ldx % 4 == 0 && aligned_16(x);
    if (dilated(g))
      return backward_filter(plan, rows, k, depth, BackwardFilterA32<true>{x, g32, vector_ok}, dy, ldk, dw,
                             workspace, s);
    return backward_filter(plan, rows, k, depth, BackwardFilterA32<false>{x, g32, vector_ok}, dy, ldk, dw,
                           workspace, s);
  }
  return backward_filter(plan, rows, k, depth, BackwardFilterA{x, g, ldx}, dy, ldk, dw, workspace, s);
}

}  // namespace

int conv2d_forward_f32(int device, const GtWindow2d* g, int64_t k, const float* x, const float* w,
                       const float* bias, int activation, float* y, void* stream) {
  const GtWindow2d v = group_view(*g);
  const int64_t kg = k / g->groups, rows = g->n * g->oh * g->ow, depth = v.kh * v.kw * v.c;
  if (rows == 0 || k == 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  GemmPlan plan;
  if (const int status = plan_for(device, rows, kg, depth, false, &plan); status != GT_OK) return status;
  const bool index32 = fits_32_bits(*g, k);
  for (int64_t q = 0; q < g->groups; ++q)
    if (const int status = forward_view(plan, v, kg, index32, x + q * v.c, g->c, w + q * kg, k,
                                        bias ? bias + q * kg : nullptr, activation, y + q * kg,
                                        static_cast<cudaStream_t>(stream));
        status != GT_OK)
      return status;
  return GT_OK;
}

int conv2d_backward_data_f32(int device, const GtWindow2d* g, int64_t k, const float* dy, const float* w,
                             float* dx, void* stream) {
  const GtWindow2d v = group_view(*g);
  const int64_t kg = k / g->groups, rows = g->n * g->h * g->w, depth = v.kh * v.kw * kg;
  if (rows == 0 || g->c == 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  GemmPlan plan;
  if (const int status = plan_for(device, rows, v.c, depth, false, &plan); status != GT_OK) return status;
  const bool index32 = fits_32_bits(*g, k);
  for (int64_t q = 0; q < g->groups; ++q)
    if (const int status = backward_data_view(device, plan, v, kg, index32, dy + q * kg, k, w + q * kg,
                                              dx + q * v.c, g->c, static_cast<cudaStream_t>(stream));
        status != GT_OK)
      return status;
  return GT_OK;
}

int conv2d_backward_filter_workspace(int device, const GtWindow2d* g, int64_t k, size_t* floats) {
  const GtWindow2d v = group_view(*g);
  GemmPlan plan;
  if (const int status = plan_for(device, v.kh * v.kw * v.c, k / g->groups, g->n * g->oh * g->ow, true, &plan);
      status != GT_OK)
    return status;
  *floats = plan.workspace_floats;
  return GT_OK;
}

int conv2d_backward_filter_f32(int device, const GtWindow2d* g, int64_t k, const float* x, const float* dy,
                               float* dw, float* workspace, void* stream) {
  const GtWindow2d v = group_view(*g);
  const int64_t kg = k / g->groups, rows = v.kh * v.kw * v.c, depth = g->n * g->oh * g->ow;
  if (rows == 0 || k == 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  GemmPlan plan;
  if (const int status = plan_for(device, rows, kg, depth, true, &plan); status != GT_OK) return status;
  const bool index32 = fits_32_bits(*g, k);
  // The groups share the workspace: each one's split-K slices are reduced before the next is launched
  // on the same stream.
  for (int64_t q = 0; q < g->groups; ++q)
    if (const int status = backward_filter_view(plan, v, kg, index32, x + q * v.c, g->c, dy + q * kg, k,
                                                dw + q * kg, workspace, static_cast<cudaStream_t>(stream));
        status != GT_OK)
      return status;
  return GT_OK;
}

}  // namespace gt::gpu
