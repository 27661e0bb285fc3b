// The tiled GEMM main loop that dense layers and the three convolution passes share: C[m,n] =
// Σ_k A(row, k)·B(k, col), with A and B read through loader functors (a plain matrix, or an implicit
// im2col view of an image) and each result handed to a store functor (bias, accumulate, split-K slice).
// A block computes a BM×BN tile in BK-deep steps staged through shared memory; each thread keeps a
// TM×TN register block, its rows strided by BM/TM and columns by BN/TN so that shared-memory reads are
// conflict-free and the stores of a warp hit consecutive columns (coalesced).
#pragma once
#include <cstdint>

#include "gpu/check.h"
#include "gpu/vendor.h"

namespace gt::gpu {

template <int BM_, int BN_, int BK_, int TM_, int TN_>
struct TileShape {
  static constexpr int BM = BM_, BN = BN_, BK = BK_, TM = TM_, TN = TN_;
  static constexpr int kThreadsM = BM / TM, kThreadsN = BN / TN;
  static constexpr int kThreads = kThreadsM * kThreadsN;
  // Row padding of the shared tiles: with BM, BN ≡ 0 (mod 32) and BK = 16, a pad of 2 makes the
  // depth-major stores of a warp (16 depths × 2 rows) land in 32 distinct banks.
  static constexpr int kPad = 2;
  static_assert(BM % TM == 0 && BN % TN == 0, "register blocks must tile the block");
  static_assert((BM * BK) % kThreads == 0 && (BN * BK) % kThreads == 0, "tile loads must split evenly");
};

// 256 threads each; the big tile for GEMMs with enough tiles to fill the device, the small one for
// the rest (it quadruples the number of blocks).
using BigTile = TileShape<128, 128, 16, 8, 8>;
using SmallTile = TileShape<64, 64, 16, 4, 4>;

// Grid: x = row tiles (up to 2^31 − 1, for convolutions with millions of output pixels), y = column
// tiles, z = split-K slices of `k_per_split` depth each (a multiple of BK).
//
// ALoad::kDepthContiguous says whether A(row, k) and A(row, k+1) are neighbours in memory: the tile
// load then walks depth fastest across threads (coalesced), else rows fastest. BLoad::kColumnsContiguous
// does the same for B(k, col) along columns.
template <class Tile, class ALoad, class BLoad, class Store>
__global__ void __launch_bounds__(Tile::kThreads)
gemm_tile_kernel(int64_t m, int64_t n, int64_t k, int64_t k_per_split, ALoad load_a, BLoad load_b,
                 Store store) {
  constexpr int BM = Tile::BM, BN = Tile::BN, BK = Tile::BK, TM = Tile::TM, TN = Tile::TN;
  __shared__ float as[BK][BM + Tile::kPad];
  __shared__ float bs[BK][BN + Tile::kPad];
  const int tid = static_cast<int>(threadIdx.x);
  const int tx = tid % Tile::kThreadsN, ty = tid / Tile::kThreadsN;
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * BM;
  const int64_t col0 = static_cast<int64_t>(blockIdx.y) * BN;
  const int64_t k_begin = static_cast<int64_t>(blockIdx.z) * k_per_split;
  const int64_t k_end = k_begin + k_per_split < k ? k_begin + k_per_split : k;

  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;

  for (int64_t k0 = k_begin; k0 < k_end; k0 += BK) {
    // Stage the A and B tiles; cells past the matrix or the split's depth are zeros (the ragged edges
    // then need no special case in the multiply below).
#pragma unroll
    for (int it = 0; it < BM * BK / Tile::kThreads; ++it) {
      const int e = tid + it * Tile::kThreads;
      const int r = ALoad::kDepthContiguous ? e / BK : e % BM;
      const int d = ALoad::kDepthContiguous ? e % BK : e / BM;
      const int64_t gr = row0 + r, gk = k0 + d;
      as[d][r] = (gr < m && gk < k_end) ? load_a(gr, gk) : 0.0f;
    }
#pragma unroll
    for (int it = 0; it < BN * BK / Tile::kThreads; ++it) {
      const int e = tid + it * Tile::kThreads;
      const int c = BLoad::kColumnsContiguous ? e % BN : e / BK;
      const int d = BLoad::kColumnsContiguous ? e / BN : e % BK;
      const int64_t gc = col0 + c, gk = k0 + d;
      bs[d][c] = (gc < n && gk < k_end) ? load_b(gk, gc) : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int d = 0; d < BK; ++d) {
      float a[TM], b[TN];
#pragma unroll
      for (int i = 0; i < TM; ++i) a[i] = as[d][ty + i * Tile::kThreadsM];  // ≤ 2 addresses per warp: broadcast
#pragma unroll
      for (int j = 0; j < TN; ++j) b[j] = bs[d][tx + j * Tile::kThreadsN];  // consecutive: no conflict
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    __syncthreads();  // the next stage overwrites the tiles
  }

#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int64_t gr = row0 + ty + i * Tile::kThreadsM;
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const int64_t gc = col0 + tx + j * Tile::kThreadsN;
      if (gr < m && gc < n) store(gr, gc, static_cast<int64_t>(blockIdx.z), acc[i][j]);
    }
  }
}

// How a GEMM of this shape is launched: tile size and split-K depth. One function decides, so the
// workspace a caller allocates always matches the launch.
struct GemmPlan {
  bool big = true;
  int64_t splits = 1;        // slices of the depth, each written to its own workspace slice
  int64_t k_per_split = 0;   // a multiple of BK
  size_t workspace_floats = 0;  // splits·m·n when splits > 1
};
// allow_split: the caller provides a workspace and reduces the slices (sgemm, backward filter).
GemmPlan plan_gemm(int sm_count, int64_t m, int64_t n, int64_t k, bool allow_split);

template <class Tile, class ALoad, class BLoad, class Store>
int launch_gemm_tile(const GemmPlan& plan, int64_t m, int64_t n, int64_t k, ALoad load_a, BLoad load_b,
                     Store store, cudaStream_t stream) {
  const int64_t row_tiles = (m + Tile::BM - 1) / Tile::BM, col_tiles = (n + Tile::BN - 1) / Tile::BN;
  GT_GPU_REQUIRE(row_tiles < (int64_t(1) << 31) && col_tiles <= 65535 && plan.splits <= 65535,
                 "gemm: matrix too large for one launch grid");
  const dim3 grid(static_cast<unsigned>(row_tiles), static_cast<unsigned>(col_tiles),
                  static_cast<unsigned>(plan.splits));
  gemm_tile_kernel<Tile><<<grid, Tile::kThreads, 0, stream>>>(m, n, k, plan.k_per_split, load_a, load_b,
                                                              store);
  GT_GPU_CHECK_LAUNCH(gemm_tile_kernel);
  return GT_OK;
}

// Launches gemm_tile_kernel with the plan's tile size.
template <class ALoad, class BLoad, class Store>
int launch_gemm(const GemmPlan& plan, int64_t m, int64_t n, int64_t k, ALoad load_a, BLoad load_b,
                Store store, cudaStream_t stream) {
  if (m <= 0 || n <= 0) return GT_OK;
  return plan.big ? launch_gemm_tile<BigTile>(plan, m, n, k, load_a, load_b, store, stream)
                  : launch_gemm_tile<SmallTile>(plan, m, n, k, load_a, load_b, store, stream);
}

// Sums the split-K slices ws[z][i] (z < splits, i < m·n) in slice order, then applies a store functor
// to each element: the deterministic second half of a split GEMM.
template <class Store>
__global__ void split_k_reduce_kernel(const float* __restrict__ ws, int64_t m, int64_t n, int64_t splits,
                                      Store store) {
  const int64_t total = m * n;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    float sum = 0.0f;
    for (int64_t z = 0; z < splits; ++z) sum += ws[z * total + i];
    store(i / n, i % n, 0, sum);
  }
}

}  // namespace gt::gpu
