// Blocked SGEMM in the Goto/BLIS scheme: B is packed in KC×NC panels (NR-wide slivers, kept in L3/L2),
// A in MC×KC blocks (MR-tall slivers, kept in L2), and an MR×NR register-blocked micro-kernel streams
// one A sliver against one B sliver from L1. Packing absorbs the transposes and the ragged edges (zero
// padding), so the micro-kernel has no branches. Vectors are GCC/Clang vector extensions: the compiler
// emits AVX-512, AVX2 or SSE from one source according to -march.
#include "cpu/gemm.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace gt::cpu {
namespace {

#if defined(__AVX512F__)
constexpr int kVec = 16;  // floats per register
#else
constexpr int kVec = 8;
#endif
// aligned(4): loads and stores through this type may be unaligned (rows of C are not 64-byte aligned).
typedef float vfloat __attribute__((vector_size(kVec * sizeof(float)), aligned(4)));

// 6×(2 vectors): 12 accumulators + 2 B vectors + 1 broadcast fit the 16 AVX2 registers, and half of
// AVX-512's 32, which leaves room for the compiler to pipeline loads.
constexpr int kMR = 6;
constexpr int kNR = 2 * kVec;
// KC·NR·4 bytes of B sliver (≤ 32 KiB with AVX-512) stays in L1 across one A sliver; MC·KC·4 bytes of
// packed A (≈ 144 KiB) stays in L2; the KC×NC panel of B (≤ 4 MiB) lives in L3.
constexpr int64_t kKC = 256;
constexpr int64_t kMC = 144;
constexpr int64_t kNC = 4096;
constexpr int64_t kInPlaceBRows = 48;  // at most this many rows of C: B is read unpacked

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float, FreeDeleter>;

Buffer aligned_buffer(int64_t floats) {
  const size_t bytes = (static_cast<size_t>(floats) * sizeof(float) + 63) / 64 * 64;
  auto* p = static_cast<float*>(std::aligned_alloc(64, bytes > 0 ? bytes : 64));
  if (p == nullptr) throw std::bad_alloc();
  return Buffer(p);
}

int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }

// MR-tall slivers [s0, s1) of the MC×KC block of op(A) at rows ic.., depth pc..: each stored p-major
// (MR floats per depth step), the last one zero-padded to MR rows.
void pack_a_slivers(bool trans_a, const float* a, int64_t lda, int64_t ic, int64_t mc, int64_t pc,
                    int64_t kc, int64_t s0, int64_t s1, float* ap) {
  for (int64_t s = s0; s < s1; ++s)
    if ((s + 1) * kMR > mc) std::memset(ap + s * kMR * kc, 0, sizeof(float) * kMR * kc);
  if (trans_a) {
    // A stored K×M: walk depth outermost so each storage row is read once, contiguously, for all the
    // slivers of the range. Sliver by sliver would read 6 floats per row and, when lda is a multiple
    // of 1024, every row would fall in the same L1 set and be evicted before the next sliver.
    for (int64_t p = 0; p < kc; ++p) {
      const float* src = a + (pc + p) * lda + ic;
      for (int64_t s = s0; s < s1; ++s) {
        const int64_t rows = std::min<int64_t>(kMR, mc - s * kMR);
        float* dst = ap + s * kMR * kc + p * kMR;
        for (int64_t i = 0; i < rows; ++i) dst[i] = src[s * kMR + i];
      }
    }
    return;
  }
  for (int64_t s = s0; s < s1; ++s) {
    const int64_t rows = std::min<int64_t>(kMR, mc - s * kMR);
    float* out = ap + s * kMR * kc;
    for (int64_t i = 0; i < rows; ++i) {
      const float* src = a + (ic + s * kMR + i) * lda + pc;
      for (int64_t p = 0; p < kc; ++p) out[p * kMR + i] = src[p];
    }
  }
}

// One NR-wide sliver of op(B): depth [p0, p0+kc) and columns [j0, j0+cols), NR floats per depth step,
// zero-padded to NR columns.
void pack_b_sliver(bool trans_b, const float* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,
                   int64_t cols, float* out) {
  if (cols < kNR) std::memset(out, 0, sizeof(float) * kNR * kc);
  if (trans_b) {  // B stored N×K: a transpose, done 16 depth steps (one cache line per row) at a time
    // so the 16×NR destination block stays in L1 while each source line is read exactly once.
    for (int64_t pb = 0; pb < kc; pb += 16) {
      const int64_t pn = std::min<int64_t>(16, kc - pb);
      for (int64_t j = 0; j < cols; ++j) {
        const float* src = b + (j0 + j) * ldb + p0 + pb;
        for (int64_t q = 0; q < pn; ++q) out[(pb + q) * kNR + j] = src[q];
      }
    }
  } else {
    for (int64_t p = 0; p < kc; ++p)
      std::memcpy(out + p * kNR, b + (p0 + p) * ldb + j0, sizeof(float) * cols);
  }
}

inline float activate(GtActivation activation, float v) {
  switch (activation) {
    case GT_ACTIVATION_RELU: return v > 0.0f ? v : 0.0f;
    case GT_ACTIVATION_SIGMOID: {
      const float e = std::exp(-std::fabs(v));
      return v >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
    }
    default: return v;
  }
}

// acc = Σ_p a[p]·b[p] over one sliver pair, then C (rows × cols of it valid) is written:
// C = acc + base, where base is C itself unless `overwrite`, plus bias when given; after the last
// depth block the activation is applied while the tile is still in cache.
void micro_kernel(int64_t kc, const float* __restrict ap, const float* __restrict bp, int64_t b_stride,
                  float* c, int64_t ldc, int64_t rows, int64_t cols, bool overwrite, const float* bias,
                  GtActivation activation) {
  vfloat acc[kMR][2];
  for (int i = 0; i < kMR; ++i) acc[i][0] = acc[i][1] = vfloat{};
  for (int64_t p = 0; p < kc; ++p) {
    const vfloat b0 = *reinterpret_cast<const vfloat*>(bp + p * b_stride);
    const vfloat b1 = *reinterpret_cast<const vfloat*>(bp + p * b_stride + kVec);
    for (int i = 0; i < kMR; ++i) {
      const float a = ap[p * kMR + i];
      acc[i][0] += a * b0;
      acc[i][1] += a * b1;
    }
  }
  if (rows == kMR && cols == kNR && activation == GT_ACTIVATION_NONE) {  // whole vectors straight to C
    vfloat bias0{}, bias1{};
    if (bias) {
      bias0 = *reinterpret_cast<const vfloat*>(bias);
      bias1 = *reinterpret_cast<const vfloat*>(bias + kVec);
    }
    for (int i = 0; i < kMR; ++i) {
      vfloat* row = reinterpret_cast<vfloat*>(c + i * ldc);
      vfloat* row1 = reinterpret_cast<vfloat*>(c + i * ldc + kVec);
      *row = (overwrite ? vfloat{} : *row) + acc[i][0] + bias0;
      *row1 = (overwrite ? vfloat{} : *row1) + acc[i][1] + bias1;
    }
    return;
  }
  alignas(64) float tile[kMR][kNR];
  for (int i = 0; i < kMR; ++i) {
    std::memcpy(&tile[i][0], &acc[i][0], sizeof(vfloat));
    std::memcpy(&tile[i][kVec], &acc[i][1], sizeof(vfloat));
  }
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      float& out = c[i * ldc + j];
      out = activate(activation, (overwrite ? 0.0f : out) + tile[i][j] + (bias ? bias[j] : 0.0f));
    }
}

}  // namespace

namespace {

// One thread's GEMM: the three blocking loops around the micro-kernel, with its own packing buffers.
void sgemm_serial(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a,
                  int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate,
                  const float* bias, GtActivation activation) {
  const int64_t nc_max = std::min(n, kNC), kc_max = std::min(k, kKC), mc_max = std::min(m, kMC);
  Buffer packed_b = aligned_buffer(round_up(nc_max, kNR) * kc_max);
  Buffer packed_a = aligned_buffer(round_up(mc_max, kMR) * kc_max);
  float* bp = packed_b.get();
  float* ap = packed_a.get();
  // With few rows each element of B is used only m times, so packing it (a read and a write of all of
  // B) costs as much as the multiply: full-width slivers of a plain B are then read in place (their
  // rows are contiguous; unaligned vector loads), only the ragged last sliver is packed.
  const bool b_in_place = !trans_b && m <= kInPlaceBRows;
  for (int64_t jc = 0; jc < n; jc += kNC) {
    const int64_t nc = std::min(kNC, n - jc);
    const int64_t n_jr = (nc + kNR - 1) / kNR;
    for (int64_t pc = 0; pc < k; pc += kKC) {
      const int64_t kc = std::min(kKC, k - pc);
      const bool first = pc == 0;
      const GtActivation act = pc + kc >= k ? activation : GT_ACTIVATION_NONE;
      auto in_place = [&](int64_t jr) { return b_in_place && nc - jr * kNR >= kNR; };
      for (int64_t jr = 0; jr < n_jr; ++jr)
        if (!in_place(jr))
          pack_b_sliver(trans_b, b, ldb, pc, kc, jc + jr * kNR, std::min<int64_t>(kNR, nc - jr * kNR),
                        bp + jr * kNR * kc);
      for (int64_t ic = 0; ic < m; ic += kMC) {
        const int64_t mc = std::min(kMC, m - ic);
        const int64_t n_ir = (mc + kMR - 1) / kMR;
        pack_a_slivers(trans_a, a, lda, ic, mc, pc, kc, 0, n_ir, ap);
        // B-sliver-major: consecutive micro-tiles reuse one B sliver from L1.
        for (int64_t jr = 0; jr < n_jr; ++jr) {
          const bool direct = in_place(jr);
          const float* sliver = direct ? b + pc * ldb + jc + jr * kNR : bp + jr * kNR * kc;
          for (int64_t ir = 0; ir < n_ir; ++ir) {
            const int64_t row = ic + ir * kMR, col = jc + jr * kNR;
            micro_kernel(kc, ap + ir * kMR * kc, sliver, direct ? ldb : kNR, c + row * ldc + col, ldc,
                         std::min<int64_t>(kMR, m - row), std::min<int64_t>(kNR, n - col),
                         first && !accumulate, first && bias ? bias + col : nullptr, act);
          }
        }
      }
    }
  }
}

}  // namespace

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
           const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate, const float* bias,
           GtActivation activation) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {  // an empty sum: only the base and the bias remain
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j)
        c[i * ldc + j] = activate(activation, (accumulate ? c[i * ldc + j] : 0.0f) + (bias ? bias[j] : 0.0f));
    return;
  }
  // Threads split C into independent bands (columns when C is wider than tall, else rows), each
  // computed by a whole serial GEMM with its own packing: no barrier anywhere, so a thread that the
  // OS deschedules on a shared machine delays only its own band. The price is that every thread packs
  // the shared operand's panel itself (k·n or m·k floats, small next to the 2·m·n·k/threads flops).
  int threads = 1;
#ifdef _OPENMP
  if (static_cast<double>(m) * n * k > 2.0e5) threads = omp_get_max_threads();
#endif
  const bool split_columns = n >= m;
  const int64_t unit = split_columns ? kNR : kMR;
  const int64_t units = ((split_columns ? n : m) + unit - 1) / unit;
  if (threads > units) threads = static_cast<int>(units);
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
  for (int t = 0; t < threads; ++t) {
    const int64_t u0 = units * t / threads, u1 = units * (t + 1) / threads;
    const int64_t extent = split_columns ? n : m;
    const int64_t lo = u0 * unit, hi = std::min(u1 * unit, extent);
    if (lo >= hi) continue;
    if (split_columns)
      sgemm_serial(trans_a, trans_b, m, hi - lo, k, a, lda, trans_b ? b + lo * ldb : b + lo, ldb, c + lo,
                   ldc, accumulate, bias ? bias + lo : nullptr, activation);
    else
      sgemm_serial(trans_a, trans_b, hi - lo, n, k, trans_a ? a + lo : a + lo * lda, lda, b, ldb,
                   c + lo * ldc, ldc, accumulate, bias, activation);
  }
}

void sgemm_reference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a,
                     int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate,
                     const float* bias, GtActivation activation) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0.0;
      for (int64_t p = 0; p < k; ++p)
        sum += static_cast<double>(trans_a ? a[p * lda + i] : a[i * lda + p]) *
               static_cast<double>(trans_b ? b[j * ldb + p] : b[p * ldb + j]);
      float& out = c[i * ldc + j];
      out = activate(activation, static_cast<float>((accumulate ? out : 0.0) + sum + (bias ? bias[j] : 0.0f)));
    }
}

}  // namespace gt::cpu
