// Dense matrix multiply on the GPU through the shared tile kernel (gemm_tile.h), split-K for short,
// deep products (a batch of 32 against an 18496×512 kernel has only a handful of output tiles), and
// the column sums that give bias gradients (column_reduce.h). Row-major; op(A), op(B) by loaders.
#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "gpu/check.h"
#include "gpu/column_reduce.h"
#include "gpu/gemm_tile.h"
#include "gpu/kernels.h"
#include "gpu/launch.h"

namespace gt::gpu {
namespace {

// Row-major matrix, optionally transposed. op(A)(i, p): A[i·ld + p], or A[p·ld + i] when transposed;
// the neighbour along depth is adjacent in memory only when not transposed, else the neighbour row.
// load4 reads the 4 adjacent values (depths p..p+3 of row i, or rows i..i+3 at depth p).
template <bool kTransposed>
struct MatrixA {
  const float* a;
  int64_t ld;
  bool vector_ok;  // rows start 16-byte aligned: a is, and ld is a multiple of 4
  static constexpr bool kDepthContiguous = !kTransposed;
  static constexpr bool kVector = true;
  __device__ float operator()(int64_t i, int64_t p) const {
    return kTransposed ? a[p * ld + i] : a[i * ld + p];
  }
  __device__ float4 load4(int64_t i, int64_t p) const {
    return load_float4(kTransposed ? a + p * ld + i : a + i * ld + p);
  }
};

// op(B)(p, j): B[p·ld + j], or B[j·ld + p] when transposed; load4 reads columns j..j+3 of depth p, or
// depths p..p+3 of column j.
template <bool kTransposed>
struct MatrixB {
  const float* b;
  int64_t ld;
  bool vector_ok;
  static constexpr bool kColumnsContiguous = !kTransposed;
  static constexpr bool kVector = true;
  __device__ float operator()(int64_t p, int64_t j) const {
    return kTransposed ? b[j * ld + p] : b[p * ld + j];
  }
  __device__ float4 load4(int64_t p, int64_t j) const {
    return load_float4(kTransposed ? b + j * ld + p : b + p * ld + j);
  }
};

// C = act(acc (+ C) (+ bias)), the GEMM's own epilogue.
struct StoreC {
  float* c;
  int64_t ldc;
  const float* bias;
  bool accumulate;
  int activation;
  __device__ void operator()(int64_t i, int64_t j, int64_t, float v) const {
    float* out = c + i * ldc + j;
    *out = activate(activation, v + (bias ? bias[j] : 0.0f) + (accumulate ? *out : 0.0f));
  }
};

// One split-K slice of the product, to be summed by split_k_reduce_kernel.
struct StoreSlice {
  float* ws;
  int64_t m, n;
  __device__ void operator()(int64_t i, int64_t j, int64_t z, float v) const { ws[(z * m + i) * n + j] = v; }
};

template <bool kTa, bool kTb>
int run_sgemm(const GemmPlan& plan, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
              const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate, const float* bias,
              int activation, float* workspace, cudaStream_t stream) {
  const MatrixA<kTa> la{a, lda, lda % 4 == 0 && aligned_16(a)};
  const MatrixB<kTb> lb{b, ldb, ldb % 4 == 0 && aligned_16(b)};
  const StoreC store{c, ldc, bias, accumulate, activation};
  if (plan.splits == 1) return launch_gemm(plan, m, n, k, la, lb, store, stream);
  const int status = launch_gemm(plan, m, n, k, la, lb, StoreSlice{workspace, m, n}, stream);
  if (status != GT_OK) return status;
  const int64_t blocks = std::min<int64_t>((m * n + 255) / 256, 4096);
  GT_LAUNCH(split_k_reduce_kernel, static_cast<unsigned>(blocks), 256, stream)
  (workspace, m, n, plan.splits, store);
  GT_GPU_CHECK_LAUNCH(split_k_reduce_kernel);
  return GT_OK;
}

// The matrix itself, element by element, for the column sums.
struct Element {
  const float* a;
  int64_t cols;
  __device__ float operator()(int64_t r, int64_t c) const { return a[r * cols + c]; }
};

}  // namespace

bool use_simple_gemm_kernel() {
  // Declared in python/gputrain/settings.py, whose rule (exactly "simple") the doctor checks it by.
  static const bool simple = [] {
    const char* value = std::getenv("GPUTRAIN_GEMM_KERNEL");
    return value != nullptr && std::strcmp(value, "simple") == 0;
  }();
  return simple;
}

namespace {

// Fraction of the multiprocessors' slots busy over the waves that `blocks` big-tile blocks take: a big
// tile's 256 threads × ~220 registers fill one multiprocessor, so blocks run in waves of sm_count, and
// a last wave that is mostly empty idles most of the device for as long as a full one.
double wave_efficiency(int64_t blocks, int sm_count) {
  const int64_t waves = (blocks + sm_count - 1) / sm_count;
  return static_cast<double>(blocks) / static_cast<double>(waves * sm_count);
}

constexpr int64_t kMinBigSliceDepth = 512;  // 32 BK-deep stages: prologue and epilogue stay small

// The fewest depth slices (each at least kMinBigSliceDepth deep) that keep the big tiles' waves at
// least 90% busy, or the best slicing there is when none does.
int64_t big_tile_splits(int sm_count, int64_t tiles, int64_t k) {
  const int64_t most = std::min<int64_t>(k / kMinBigSliceDepth, 256);
  int64_t best = 1;
  for (int64_t s = 1; s <= most; ++s) {
    const double e = wave_efficiency(tiles * s, sm_count);
    if (e >= 0.9) return s;
    if (e > wave_efficiency(tiles * best, sm_count) + 0.02) best = s;
  }
  return best;
}

}  // namespace

GemmPlan plan_gemm(int sm_count, int64_t m, int64_t n, int64_t k, bool allow_split) {
  GemmPlan plan;
  auto tiles = [&](int64_t bm, int64_t bn) { return ((m + bm - 1) / bm) * ((n + bn - 1) / bn); };
  auto padded = [](int64_t v, int64_t tile) { return (v + tile - 1) / tile * tile; };
  static_assert(BigTile::BK == SmallTile::BK && SmallTile::BK == NarrowTile::BK, "one depth step for all");
  constexpr int64_t bk = BigTile::BK;
  auto slice = [&](int64_t splits) {  // depth cut into `splits` slices, each a multiple of BK
    plan.k_per_split = std::max(bk, ((k + splits - 1) / splits + bk - 1) / bk * bk);  // k = 0: one empty slice
    plan.splits = std::max<int64_t>(1, (k + plan.k_per_split - 1) / plan.k_per_split);
    if (plan.splits > 1) plan.workspace_floats = static_cast<size_t>(plan.splits * m * n);
  };
  slice(1);
  // Work including the tiles' padding: a convolution with 16 output channels uses 1/8 of a 128-wide
  // tile's multiply-adds, 1/4 of a 64-wide one's. With 4×4 results per thread instead of 8×8, the small
  // and narrow tiles' sm_90 main loops spend 1.2–1.5 times the instructions per multiply-add, so their
  // padded work counts 1.5 times against the big tile's.
  const int64_t big_work = padded(m, BigTile::BM) * padded(n, BigTile::BN);
  const int64_t small_work = padded(m, SmallTile::BM) * padded(n, SmallTile::BN);
  const int64_t narrow_work = padded(m, NarrowTile::BM) * padded(n, NarrowTile::BN);
  const bool big_pays = 2 * big_work <= 3 * std::min(small_work, narrow_work);
  const int64_t big_tiles = tiles(BigTile::BM, BigTile::BN);
  // A deep product with few big tiles (a convolution's kernel gradient sums over every pixel into a
  // taps × channels result) keeps the big tile and slices the depth until the waves are full: 9 tiles
  // of 3x3x128 -> 128 over 100,352 pixels become 14 slices (126 blocks) instead of 36 small tiles.
  if (big_pays && allow_split && k >= 2 * kMinBigSliceDepth && wave_efficiency(big_tiles, sm_count) < 0.9) {
    const int64_t splits = big_tile_splits(sm_count, big_tiles, k);
    if (wave_efficiency(big_tiles * splits, sm_count) >= 0.8) {  // else too shallow to slice that far
      plan.tile = GemmTile::Big;
      slice(splits);
      return plan;
    }
  }
  // Big tiles need enough of them to occupy every multiprocessor once.
  if (big_tiles >= sm_count && big_pays) {
    plan.tile = GemmTile::Big;
    return plan;
  }
  // The simple reference kernel has no narrow version.
  plan.tile = narrow_work < small_work && !use_simple_gemm_kernel() ? GemmTile::Narrow : GemmTile::Small;
  const int64_t chosen_tiles = plan.tile == GemmTile::Narrow ? tiles(NarrowTile::BM, NarrowTile::BN)
                                                               : tiles(SmallTile::BM, SmallTile::BN);
  if (allow_split && chosen_tiles < sm_count && k >= 512) {
    // Too few tiles for the device: cut the depth into slices (each at least 256 deep, at most 512
    // of them: a first layer's 3x3x3 -> 16 kernel gradient is one narrow tile over 700,928 pixels)
    // until there are about two blocks per multiprocessor.
    const int64_t want = (2 * sm_count + chosen_tiles - 1) / chosen_tiles;
    slice(std::max<int64_t>(1, std::min<int64_t>({want, k / 256, 512})));
  }
  return plan;
}

int sgemm_workspace(int device, int64_t m, int64_t n, int64_t k, size_t* floats) {
  DeviceLimits limits;
  const int status = device_limits(device, &limits);
  if (status != GT_OK) return status;
  *floats = plan_gemm(limits.sm_count, m, n, k, true).workspace_floats;
  return GT_OK;
}

int sgemm_f32(int device, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, const float* a,
              int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc, int accumulate,
              const float* bias, int activation, float* workspace, void* stream) {
  if (m <= 0 || n <= 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  DeviceLimits limits;
  const int status = device_limits(device, &limits);
  if (status != GT_OK) return status;
  const GemmPlan plan = plan_gemm(limits.sm_count, m, n, k, true);
  auto s = static_cast<cudaStream_t>(stream);
  const bool acc = accumulate != 0;
  if (trans_a) {
    return trans_b ? run_sgemm<true, true>(plan, m, n, k, a, lda, b, ldb, c, ldc, acc, bias, activation,
                                           workspace, s)
                   : run_sgemm<true, false>(plan, m, n, k, a, lda, b, ldb, c, ldc, acc, bias, activation,
                                            workspace, s);
  }
  return trans_b ? run_sgemm<false, true>(plan, m, n, k, a, lda, b, ldb, c, ldc, acc, bias, activation,
                                          workspace, s)
                 : run_sgemm<false, false>(plan, m, n, k, a, lda, b, ldb, c, ldc, acc, bias, activation,
                                           workspace, s);
}

// One band of partial sums per row split (see GT_ROW_SPLITS).
int column_sums_workspace(int, int64_t cols, size_t* floats) {
  *floats = static_cast<size_t>(GT_ROW_SPLITS * cols);
  return GT_OK;
}

int column_sums_f32(int device, const float* a, int64_t rows, int64_t cols, float* sums, float* workspace,
                    void* stream) {
  if (cols <= 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  return column_reduce(Element{a, cols}, rows, cols, 1.0f, sums, workspace,
                       static_cast<cudaStream_t>(stream));
}

}  // namespace gt::gpu
