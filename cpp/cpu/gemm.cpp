// Blocked SGEMM in the Goto/BLIS scheme: B is packed in KC×NC panels (NR-wide slivers, kept in L3/L2),
// A in MC×KC blocks (MR-tall slivers, kept in L2), and an MR×NR register-blocked micro-kernel streams
// one A sliver against one B sliver from L1. Packing absorbs the transposes and the ragged edges (zero
// padding), so the micro-kernel has no branches. Where packing would cost more than it saves, an
// operand is read in place instead: A's rows when C is narrow, B's rows when C has few rows, rows a
// RowSource hands over (convolution's im2col, never stored). Vectors are GCC/Clang vector extensions:
// the compiler emits AVX-512, AVX2 or SSE from one source according to -march.
#include "cpu/gemm.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "core/activations.h"
#include "cpu/parallel.h"

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
// A B panel this small (every depth block packed) stays in L2 while all of it is used for one MC block of
// A, so C's block stays in cache across the depth blocks instead of streaming through memory per block.
constexpr int64_t kWholeBFloats = int64_t(128) << 10;
constexpr int64_t kMinColumnBlock = 64;  // narrowest column block made so that B's panel fits whole
constexpr int64_t kInPlaceBRows = 48;    // at most this many rows of C: B is read unpacked
constexpr int64_t kRowsInPlaceMaxN = 256;  // at most this many columns of C: a plain A is read unpacked
// Threads split the depth of a product whose depth is this many times its larger side, if C has at
// most kDepthSplitMaxC floats (each thread keeps a copy).
constexpr int64_t kDepthSplitRatio = 16;
constexpr int64_t kDepthSplitMaxC = int64_t(1) << 20;

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float, FreeDeleter>;

std::atomic<int64_t> failures_to_inject{0};  // see fail_gemm_scratch_allocations

// Takes one injected failure if any is left. Decrements only a positive count: threads of a parallel
// region allocating at once must not drive it below zero (a plain fetch_sub did, 8 times in 3,000
// convolutions, and the test saw a failure "not used").
bool take_injected_failure() {
  int64_t left = failures_to_inject.load(std::memory_order_relaxed);
  while (left > 0)
    if (failures_to_inject.compare_exchange_weak(left, left - 1)) return true;
  return false;
}

Buffer aligned_buffer(int64_t floats) {
  if (take_injected_failure()) throw std::bad_alloc();
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

// MR-tall slivers of op(A) = Sᵀ for rows [i0, i0 + mc) and depth [p0, p0 + kc), where a source gives
// S's rows (the depth steps), fetched in pieces of at most kSourcePiece columns within one segment
// (each row usually read in place; gathered ones go to scratch, kc floats per column). A whole sliver
// inside one piece is read from there by the micro-kernel when read_in_place: sliver_rows[s] = that
// piece's kc row pointers, sliver_offset[s] = its first column in them. The others (all of them without
// read_in_place, or straddling two pieces, or the ragged last one) are copied into ap, zero-padded to
// MR rows, and sliver_rows[s] is null.
constexpr int64_t kSourcePiece = 256;
// Slivers are read in place only when C has at most this many NR-wide columns: each is then read a few
// times; with more, a packed copy (contiguous, in L1) pays for itself. Measured on the kernel gradients
// of convolutions: 16 to 64 output channels 1.1-1.35x faster in place, 256 and 512 slower.
constexpr int64_t kMaxSliversForDepthRows = 4;
int64_t max_source_pieces(int64_t mc, int64_t segment) {
  return mc / std::min(segment, kSourcePiece) + 2;
}
void fetch_a_from_depth_rows(const RowSource& s, int64_t p0, int64_t kc, int64_t i0, int64_t mc, float* scratch,
                             const float** pointers, float* ap, const float* const** sliver_rows,
                             int64_t* sliver_offset, bool read_in_place) {
  const int64_t n_ir = (mc + kMR - 1) / kMR;
  std::fill(sliver_rows, sliver_rows + n_ir, nullptr);
  if (mc % kMR) std::memset(ap + (n_ir - 1) * kMR * kc, 0, sizeof(float) * kMR * kc);
  const int64_t segment = s.segment();
  for (int64_t s0 = i0, piece = 0; s0 < i0 + mc; ++piece) {
    const int64_t s1 = std::min({(s0 / segment + 1) * segment, s0 + kSourcePiece, i0 + mc});
    const float** rows = pointers + piece * kc;
    s.rows(p0, kc, s0, s1 - s0, scratch + (s0 - i0) * kc, rows);
    for (int64_t i = s0; i < s1;) {
      const int64_t sliver = (i - i0) / kMR, first = (i - i0) % kMR;
      const int64_t len = std::min(kMR - first, s1 - i);
      float* dst = ap + sliver * kMR * kc + first;
      if (len == kMR && read_in_place) {  // the whole sliver lies in this piece
        sliver_rows[sliver] = rows;
        sliver_offset[sliver] = i - s0;
      } else if (len == kMR) {  // a whole sliver: a fixed-length copy the compiler unrolls
        for (int64_t p = 0; p < kc; ++p)
          for (int q = 0; q < kMR; ++q) dst[p * kMR + q] = rows[p][i - s0 + q];
      } else {
        for (int64_t p = 0; p < kc; ++p)
          for (int64_t q = 0; q < len; ++q) dst[p * kMR + q] = rows[p][i - s0 + q];
      }
      i += len;
    }
    s0 = s1;
  }
}

// Where the micro-kernel reads its MR rows of op(A) at depth step p: a packed sliver (MR floats per
// step), or MR row pointers, each to kc consecutive floats (rows read in place).
struct PackedSliver {
  const float* ap;
  float operator()(int64_t p, int i) const { return ap[p * kMR + i]; }
};
struct RowPointers {
  const float* const* rows;
  float operator()(int64_t p, int i) const { return rows[i][p]; }
};
// Or, for op(A) = Sᵀ with S's rows given by a source: one pointer per depth step, MR consecutive floats.
struct DepthRowPointers {
  const float* const* rows;
  int64_t offset;
  float operator()(int64_t p, int i) const { return rows[p][offset + i]; }
};

// acc = Σ_p a[p]·b[p] over one sliver pair, then C (rows × cols of it valid) is written:
// C = acc + base, where base is C itself unless `overwrite`, plus bias when given; after the last
// depth block the activation is applied while the tile is still in cache.
template <class ASliver>
void micro_kernel(int64_t kc, ASliver a_at, const float* __restrict bp, int64_t b_stride, float* c,
                  int64_t ldc, int64_t rows, int64_t cols, bool overwrite, const float* bias,
                  GtActivation activation) {
  vfloat acc[kMR][2];
  for (int i = 0; i < kMR; ++i) acc[i][0] = acc[i][1] = vfloat{};
  // Never called with an empty depth. Said so, GCC keeps acc in registers from the start; otherwise it
  // zeroed a copy on the stack for that case, and those stores queued behind the previous tile's stores
  // to C (cache misses when C is large): 18496x512x32 took 1.5x as long.
  if (kc <= 0) __builtin_unreachable();
  for (int64_t p = 0; p < kc; ++p) {
    const vfloat b0 = *reinterpret_cast<const vfloat*>(bp + p * b_stride);
    const vfloat b1 = *reinterpret_cast<const vfloat*>(bp + p * b_stride + kVec);
    for (int i = 0; i < kMR; ++i) {
      const float a = a_at(p, i);
      acc[i][0] += a * b0;
      acc[i][1] += a * b1;
    }
  }
  // Whole vectors straight to C for no activation and relu (a vector select); any other activation of
  // the list goes through the tile below, one element at a time.
  if (rows == kMR && cols == kNR && (activation == GT_ACTIVATION_NONE || activation == GT_ACTIVATION_RELU)) {
    vfloat bias0{}, bias1{};
    if (bias) {
      bias0 = *reinterpret_cast<const vfloat*>(bias);
      bias1 = *reinterpret_cast<const vfloat*>(bias + kVec);
    }
    const bool relu = activation == GT_ACTIVATION_RELU;
    for (int i = 0; i < kMR; ++i) {
      vfloat* row = reinterpret_cast<vfloat*>(c + i * ldc);
      vfloat* row1 = reinterpret_cast<vfloat*>(c + i * ldc + kVec);
      vfloat v0 = (overwrite ? vfloat{} : *row) + acc[i][0] + bias0;
      vfloat v1 = (overwrite ? vfloat{} : *row1) + acc[i][1] + bias1;
      if (relu) {  // relu_value on whole vectors: zero only where v < 0, so NaN stays NaN
        v0 = v0 < vfloat{} ? vfloat{} : v0;
        v1 = v1 < vfloat{} ? vfloat{} : v1;
      }
      *row = v0;
      *row1 = v1;
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

// Rows of a stored op(A) = A (not transposed), for reading in place.
class MatrixRows final : public RowSource {
 public:
  MatrixRows(const float* a, int64_t lda, int64_t k) : RowSource(k), a_(a), lda_(lda) {}
  void rows(int64_t r0, int64_t count, int64_t p0, int64_t, float*, const float** out) const override {
    for (int64_t r = 0; r < count; ++r) out[r] = a_ + (r0 + r) * lda_ + p0;
  }

 private:
  const float* a_;
  int64_t lda_;
};

// One operand as a thread sees it: a stored matrix (trans, data, ld), or for A a source of rows
// instead: C's rows when !trans (read in place, from row `offset` on), or the depth rows of a matrix S
// with op(A) = Sᵀ when trans (C's rows being S's columns from `offset` on; see fetch_a_from_depth_rows).
struct Operand {
  bool trans;
  const float* data;
  int64_t ld;
  const RowSource* rows;
  int64_t offset;
  int64_t depth0 = 0;  // a source's first depth step (a thread's band of the depth)
};

const float* zero_row() {
  alignas(64) static const float zeros[kKC] = {};
  return zeros;
}

// Depth blocks of at most KC that never cross a multiple of `segment` (the caller's row pieces), split
// evenly within a segment: 576 = 3 × 192 rather than 256 + 256 + 64.
int64_t depth_block(int64_t pc, int64_t k, int64_t segment) {
  const int64_t segment_end = std::min(k, (pc / segment + 1) * segment);
  const int64_t length = std::min(segment, k);
  const int64_t parts = (length + kKC - 1) / kKC;
  return std::min((length + parts - 1) / parts, segment_end - pc);
}

// One thread's GEMM: the three blocking loops around the micro-kernel, with its own packing buffers.
void sgemm_serial(const Operand& a, const Operand& b, int64_t m, int64_t n, int64_t k, float* c, int64_t ldc,
                  bool accumulate, const float* bias, GtActivation activation) {
  const bool a_in_place = a.rows && !a.trans, a_from_depth_rows = a.rows && a.trans;
  const int64_t segment = a_in_place ? a.rows->segment() : k;
  int64_t nc_block = kNC;
  if (a_in_place && round_up(n, kNR) * k > kWholeBFloats && kWholeBFloats / k >= kMinColumnBlock) {
    // A read in place costs little to read again: narrower column blocks, so B's panel fits whole
    // (not below kMinColumnBlock columns, where A's rows would be walked too many times).
    const int64_t fit = kWholeBFloats / k / kNR * kNR;
    const int64_t blocks = (n + fit - 1) / fit;
    nc_block = round_up((n + blocks - 1) / blocks, kNR);
  }
  const int64_t nc_max = std::min(n, nc_block), kc_max = std::min(k, kKC), mc_max = std::min(m, kMC);
  const int64_t mc_slots = round_up(mc_max, kMR);
  const bool whole_b = round_up(nc_max, kNR) * k <= kWholeBFloats;
  Buffer packed_b = aligned_buffer(round_up(nc_max, kNR) * (whole_b ? k : kc_max));
  // Packed A slivers, or the rows a source had to copy (padding, ragged edges).
  Buffer packed_a = aligned_buffer(mc_slots * kc_max);
  std::unique_ptr<const float*[]> row_pointers(a_in_place ? new const float*[mc_slots] : nullptr);
  // Depth rows from a source: the pieces' gathered rows, their row pointers, and each sliver's.
  const int64_t pieces = a_from_depth_rows ? max_source_pieces(mc_max, a.rows->segment()) : 0;
  Buffer source_scratch = aligned_buffer(a_from_depth_rows ? mc_max * kc_max : 0);
  std::unique_ptr<const float*[]> source_rows(a_from_depth_rows ? new const float*[pieces * kc_max] : nullptr);
  std::unique_ptr<const float* const*[]> sliver_rows(a_from_depth_rows ? new const float* const*[mc_slots / kMR]
                                                                        : nullptr);
  std::unique_ptr<int64_t[]> sliver_offset(a_from_depth_rows ? new int64_t[mc_slots / kMR] : nullptr);
  float* ap = packed_a.get();
  // With few rows each element of B is used only m times, so packing it (a read and a write of all of
  // B) costs as much as the multiply: full-width slivers of a plain B are then read in place (their
  // rows are contiguous; unaligned vector loads), only the ragged last sliver is packed.
  const bool b_in_place = !b.trans && m <= kInPlaceBRows;
  for (int64_t jc = 0; jc < n; jc += nc_block) {
    const int64_t nc = std::min(nc_block, n - jc);
    const int64_t n_jr = (nc + kNR - 1) / kNR;
    auto in_place = [&](int64_t jr) { return b_in_place && nc - jr * kNR >= kNR; };
    auto pack_b_block = [&](int64_t pc, int64_t kc, float* bp) {
      for (int64_t jr = 0; jr < n_jr; ++jr)
        if (!in_place(jr))
          pack_b_sliver(b.trans, b.data, b.ld, pc, kc, jc + jr * kNR, std::min<int64_t>(kNR, nc - jr * kNR),
                        bp + jr * kNR * kc);
    };
    // C[ic.., jc..] += A[ic.., pc..pc+kc] · B[pc..pc+kc, jc..] with B's block packed at bp.
    auto multiply_block = [&](int64_t ic, int64_t pc, int64_t kc, const float* bp) {
      const int64_t mc = std::min(kMC, m - ic);
      const int64_t n_ir = (mc + kMR - 1) / kMR;
      const bool overwrite = pc == 0 && !accumulate;
      const GtActivation act = pc + kc >= k ? activation : GT_ACTIVATION_NONE;
      if (a_in_place) {
        a.rows->rows(a.offset + ic, mc, a.depth0 + pc, kc, ap, row_pointers.get());
        for (int64_t i = mc; i < n_ir * kMR; ++i) row_pointers[i] = zero_row();
      } else if (a_from_depth_rows) {
        fetch_a_from_depth_rows(*a.rows, a.depth0 + pc, kc, a.offset + ic, mc, source_scratch.get(), source_rows.get(),
                                ap, sliver_rows.get(), sliver_offset.get(), n_jr <= kMaxSliversForDepthRows);
      } else {
        pack_a_slivers(a.trans, a.data, a.ld, ic, mc, pc, kc, 0, n_ir, ap);
      }
      // B-sliver-major: consecutive micro-tiles reuse one B sliver from L1.
      for (int64_t jr = 0; jr < n_jr; ++jr) {
        const bool direct = in_place(jr);
        const float* sliver = direct ? b.data + pc * b.ld + jc + jr * kNR : bp + jr * kNR * kc;
        const int64_t b_stride = direct ? b.ld : kNR;
        for (int64_t ir = 0; ir < n_ir; ++ir) {
          const int64_t row = ic + ir * kMR, col = jc + jr * kNR;
          float* tile = c + row * ldc + col;
          const int64_t rows = std::min<int64_t>(kMR, m - row), cols = std::min<int64_t>(kNR, n - col);
          const float* tile_bias = pc == 0 && bias ? bias + col : nullptr;
          if (a_in_place)
            micro_kernel(kc, RowPointers{row_pointers.get() + ir * kMR}, sliver, b_stride, tile, ldc, rows,
                         cols, overwrite, tile_bias, act);
          else if (a_from_depth_rows && sliver_rows[ir])
            micro_kernel(kc, DepthRowPointers{sliver_rows[ir], sliver_offset[ir]}, sliver, b_stride, tile, ldc,
                         rows, cols, overwrite, tile_bias, act);
          else
            micro_kernel(kc, PackedSliver{ap + ir * kMR * kc}, sliver, b_stride, tile, ldc, rows, cols,
                         overwrite, tile_bias, act);
        }
      }
    };
    const int64_t panel = round_up(nc, kNR);  // floats of packed B per depth step
    if (whole_b) {  // depth innermost: C's MC block stays in cache until it is finished
      for (int64_t pc = 0, kc; pc < k; pc += kc) {
        kc = depth_block(pc, k, segment);
        pack_b_block(pc, kc, packed_b.get() + pc * panel);
      }
      for (int64_t ic = 0; ic < m; ic += kMC)
        for (int64_t pc = 0, kc; pc < k; pc += kc) {
          kc = depth_block(pc, k, segment);
          multiply_block(ic, pc, kc, packed_b.get() + pc * panel);
        }
    } else {
      for (int64_t pc = 0, kc; pc < k; pc += kc) {
        kc = depth_block(pc, k, segment);
        pack_b_block(pc, kc, packed_b.get());
        for (int64_t ic = 0; ic < m; ic += kMC) multiply_block(ic, pc, kc, packed_b.get());
      }
    }
  }
}

// Threads split C into independent bands (columns when C is wider than tall, else rows), each
// computed by a whole serial GEMM with its own packing: no barrier anywhere, so a thread that the
// OS deschedules on a shared machine delays only its own band. The price is that every thread packs
// the shared operand's panel itself (k·n or m·k floats, small next to the 2·m·n·k/threads flops).
void sgemm_parallel(const Operand& a, const Operand& b, int64_t m, int64_t n, int64_t k, float* c, int64_t ldc,
                    bool accumulate, const float* bias, GtActivation activation) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {  // an empty sum: only the base and the bias remain
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j)
        c[i * ldc + j] = activate(activation, (accumulate ? c[i * ldc + j] : 0.0f) + (bias ? bias[j] : 0.0f));
    return;
  }
  int threads = 1;
#ifdef _OPENMP
  if (static_cast<double>(m) * n * k > 2.0e5) threads = omp_get_max_threads();
#endif
  // Few rows and columns but a long sum (a convolution's kernel gradient sums over every output
  // pixel): bands of C would leave threads idle or tiny, so threads split the depth instead, each
  // summing its share into its own copy of C; the copies are added in a fixed order afterwards, so the
  // result does not depend on scheduling.
  if (threads > 1 && k >= kDepthSplitRatio * std::max(m, n) && m * n <= kDepthSplitMaxC) {
    std::vector<float> partial(static_cast<size_t>(threads) * m * n);
    parallel_for(threads, threads, [&](int64_t t) {
      const int64_t lo = k * t / threads, hi = k * (t + 1) / threads;
      Operand a_band = a, b_band = b;
      if (a.rows)
        a_band.depth0 += lo;
      else
        a_band.data = a.trans ? a.data + lo * a.ld : a.data + lo;
      b_band.data = b.trans ? b.data + lo : b.data + lo * b.ld;
      sgemm_serial(a_band, b_band, m, n, hi - lo, partial.data() + t * m * n, n, false, nullptr,
                   GT_ACTIVATION_NONE);
    });
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        float sum = accumulate ? c[i * ldc + j] : 0.0f;
        for (int t = 0; t < threads; ++t) sum += partial[(t * m + i) * n + j];
        c[i * ldc + j] = activate(activation, sum + (bias ? bias[j] : 0.0f));
      }
    return;
  }
  const bool split_columns = n >= m;
  const int64_t unit = split_columns ? kNR : kMR;
  const int64_t units = ((split_columns ? n : m) + unit - 1) / unit;
  if (threads > units) threads = static_cast<int>(units);
  parallel_for(threads, threads, [&](int64_t t) {
    const int64_t u0 = units * t / threads, u1 = units * (t + 1) / threads;
    const int64_t extent = split_columns ? n : m;
    const int64_t lo = u0 * unit, hi = std::min(u1 * unit, extent);
    if (lo >= hi) return;
    if (split_columns) {
      Operand band = b;
      band.data = b.trans ? b.data + lo * b.ld : b.data + lo;
      sgemm_serial(a, band, m, hi - lo, k, c + lo, ldc, accumulate, bias ? bias + lo : nullptr, activation);
    } else {
      Operand band = a;
      if (a.rows)
        band.offset += lo;
      else
        band.data = a.trans ? a.data + lo : a.data + lo * a.ld;
      sgemm_serial(band, b, hi - lo, n, k, c + lo * ldc, ldc, accumulate, bias, activation);
    }
  });
}

}  // namespace

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
           const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate, const float* bias,
           GtActivation activation) {
  if (!trans_a && trans_b && m <= kInPlaceBRows && n > kRowsInPlaceMaxN) {
    // A few rows times a transposed B (a dense layer's data gradient, dy · kernelᵀ): packing B would
    // transpose all of it, strided, for only m uses of each float. Cᵀ = B · Aᵀ reads B's rows in place
    // instead; Cᵀ (n × m) is then turned into C with the base, bias and activation.
    std::vector<float> c_t(static_cast<size_t>(n * m));
    const MatrixRows rows(b, ldb, k);
    sgemm_parallel(Operand{false, nullptr, 0, &rows, 0}, Operand{true, a, lda, nullptr, 0}, n, m, k, c_t.data(), m,
                   false, nullptr, GT_ACTIVATION_NONE);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        float& out = c[i * ldc + j];
        out = activate(activation, (accumulate ? out : 0.0f) + c_t[j * m + i] + (bias ? bias[j] : 0.0f));
      }
    return;
  }
  const Operand matrix_b{trans_b, b, ldb, nullptr, 0};
  // A narrow C reuses each packed A sliver only for a few B slivers, so packing A (a strided
  // transpose, one scalar store per float) costs a large share of the multiply: a plain A is then
  // read in place.
  if (!trans_a && n <= kRowsInPlaceMaxN) {
    const MatrixRows rows(a, lda, k);
    sgemm_parallel(Operand{false, nullptr, 0, &rows, 0}, matrix_b, m, n, k, c, ldc, accumulate, bias, activation);
    return;
  }
  sgemm_parallel(Operand{trans_a, a, lda, nullptr, 0}, matrix_b, m, n, k, c, ldc, accumulate, bias, activation);
}

void sgemm_a_rows(const RowSource& a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* b,
                  int64_t ldb, float* c, int64_t ldc, bool accumulate, const float* bias,
                  GtActivation activation) {
  sgemm_parallel(Operand{false, nullptr, 0, &a, 0}, Operand{trans_b, b, ldb, nullptr, 0}, m, n, k, c, ldc,
                 accumulate, bias, activation);
}

void sgemm_source_t(const RowSource& s, int64_t m, int64_t n, int64_t k, const float* b, int64_t ldb,
                    float* c, int64_t ldc, bool accumulate) {
  sgemm_parallel(Operand{true, nullptr, 0, &s, 0}, Operand{false, b, ldb, nullptr, 0}, m, n, k, c, ldc,
                 accumulate, nullptr, GT_ACTIVATION_NONE);
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

int64_t fail_gemm_scratch_allocations(int64_t count) { return failures_to_inject.exchange(count); }

}  // namespace gt::cpu
