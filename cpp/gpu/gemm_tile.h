// The tiled GEMM main loop that dense layers and the three convolution passes share: C[m,n] =
// Σ_k A(row, k)·B(k, col), with A and B read through loader functors (a plain matrix, or an implicit
// im2col view of an image) and each result handed to a store functor (bias, accumulate, split-K slice).
// A block computes a BM×BN tile in BK-deep steps staged through shared memory; each thread keeps a
// TM×TN register block. Two versions of the main loop: gemm_tile_kernel, the simple one (one shared
// buffer, scalar shared reads), kept as the reference; gemm_tile_pipelined_kernel, the one launched
// by default (double-buffered shared tiles with the next tile's global loads in flight during the
// multiply, float4 shared reads). GPUTRAIN_GEMM_KERNEL=simple selects the simple one, in builds that
// have it (kGemmReference).
#pragma once
#include <cstdint>
#include <type_traits>

#include "gpu/check.h"
#include "gpu/launch.h"
#include "gpu/vendor.h"

namespace gt::gpu {

template <int BM_, int BN_, int BK_, int TM_, int TN_>
struct TileShape {
  static constexpr int BM = BM_, BN = BN_, BK = BK_, TM = TM_, TN = TN_;
  static constexpr int kThreadsM = BM / TM, kThreadsN = BN / TN;
  static constexpr int kThreads = kThreadsM * kThreadsN;
  // Row padding of the simple kernel's shared tiles: with BM, BN ≡ 0 (mod 32) and BK = 16, a pad of 2
  // makes the depth-major stores of a warp (16 depths × 2 rows) land in 32 distinct banks.
  static constexpr int kPad = 2;
  // The pipelined kernel reads float4s, so its rows must stay 16-byte aligned: a pad of 4 (its
  // depth-major stores then meet 2-way bank conflicts, once per stage; its reads, 16 per stage, none).
  static constexpr int kPadVector = 4;
  static constexpr int kLoadsA = BM * BK / kThreads, kLoadsB = BN * BK / kThreads;
  // Vector (float4) global loads of a loader that offers them need a multiple of 4 loads per thread.
  static constexpr bool kVectorLoadsA = kLoadsA % 4 == 0, kVectorLoadsB = kLoadsB % 4 == 0;
  static_assert(BM % TM == 0 && BN % TN == 0, "register blocks must tile the block");
  static_assert((BM * BK) % kThreads == 0 && (BN * BK) % kThreads == 0, "tile loads must split evenly");
  static_assert(TM % 4 == 0 && TN % 4 == 0, "the pipelined kernel reads register blocks as float4s");
  static_assert(BK % 4 == 0 && BN % 4 == 0, "vector loads come in 4s");
};

// The big tile for GEMMs with enough tiles to fill the device, the small one for the rest (it
// quadruples the number of blocks) and for products 64 columns wide or less (where a big tile would be
// mostly padding), the narrow one (128 threads) for 16 columns or less: convolutions with few channels,
// a dense layer's 10 classes.
using BigTile = TileShape<128, 128, 16, 8, 8>;
using SmallTile = TileShape<64, 64, 16, 4, 4>;
using NarrowTile = TileShape<128, 16, 16, 4, 4>;

// Grid: x = row tiles (up to 2^31 − 1, for convolutions with millions of output pixels), y = column
// tiles, z = split-K slices of `k_per_split` depth each (a multiple of BK).
//
// ALoad::kDepthContiguous says whether A(row, k) and A(row, k+1) are neighbours in memory: the tile
// load then walks depth fastest across threads (coalesced), else rows fastest. BLoad::kColumnsContiguous
// does the same for B(k, col) along columns.
//
// Loaders also declare kVector: whether they offer load4, 4 values as one float4 along their memory's
// contiguous direction (A: 4 depths of a row when kDepthContiguous, else 4 rows at one depth; B: 4
// columns of a depth when kColumnsContiguous, else 4 depths of a column), with a run-time vector_ok;
// the pipelined kernel uses it.
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
      for (int i = 0; i < TM; ++i)
        a[i] = as[d][ty + i * Tile::kThreadsM];  // ≤ 2 addresses per warp: broadcast
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

// The pipelined main loop. Per BK-deep stage: issue the global loads of the next stage into registers,
// multiply the current stage from shared memory, then store the registers into the other shared
// buffer; one barrier per stage suffices because a buffer is only rewritten after every thread has
// passed the barrier that ended its last use. Each thread's TM rows are TM/4 groups of 4 consecutive
// rows (group g at g·4·kThreadsM + 4·ty), read as float4s; a warp reads at most 2 distinct row
// groups (broadcast) and 16 consecutive column groups (conflict-free); stores of a warp cover
// 4·kThreadsN consecutive columns of C.
template <class Tile, class ALoad, class BLoad, class Store>
__global__ void __launch_bounds__(Tile::kThreads)
    gemm_tile_pipelined_kernel(int64_t m, int64_t n, int64_t k, int64_t k_per_split, ALoad load_a,
                               BLoad load_b, Store store) {
  constexpr int BM = Tile::BM, BN = Tile::BN, BK = Tile::BK, TM = Tile::TM, TN = Tile::TN;
  constexpr int kRowStride = 4 * Tile::kThreadsM, kColStride = 4 * Tile::kThreadsN;
  __shared__ __align__(16) float as[2][BK][BM + Tile::kPadVector];
  __shared__ __align__(16) float bs[2][BK][BN + Tile::kPadVector];
  const int tid = static_cast<int>(threadIdx.x);
  const int tx = tid % Tile::kThreadsN, ty = tid / Tile::kThreadsN;
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * BM;
  const int64_t col0 = static_cast<int64_t>(blockIdx.y) * BN;
  const int64_t k_begin = static_cast<int64_t>(blockIdx.z) * k_per_split;
  const int64_t k_end = k_begin + k_per_split < k ? k_begin + k_per_split : k;

  // This thread's cells of the A and B tiles (fixed for every stage) and their staged values.
  float stage_a[Tile::kLoadsA], stage_b[Tile::kLoadsB];
  auto a_cell = [&](int it, int* r, int* d) {
    const int e = tid + it * Tile::kThreads;
    *r = ALoad::kDepthContiguous ? e / BK : e % BM;
    *d = ALoad::kDepthContiguous ? e % BK : e / BM;
  };
  auto b_cell = [&](int it, int* c, int* d) {
    const int e = tid + it * Tile::kThreads;
    *c = BLoad::kColumnsContiguous ? e % BN : e / BK;
    *d = BLoad::kColumnsContiguous ? e / BN : e % BK;
  };
  // Vector loaders (kVector) hand over 4 values along their contiguous direction as one float4 when
  // their memory is 16-byte aligned (vector_ok, decided per launch): each thread then stages groups of
  // 4, a quarter of the loads and of the index arithmetic. Group e of A is row e / (BK/4) at depths
  // 4·(e mod BK/4).. (depth-contiguous A), or rows 4·(e mod BM/4).. at depth e / (BM/4) (row-
  // contiguous A: a convolution's kernel gradient reads 4 channels of a pixel, a transposed matrix 4
  // of its columns; they land in shared memory as one 16-byte store). Group e of B is depth e / (BN/4)
  // at columns 4·(e mod BN/4).. (column-contiguous B), or column e / (BK/4) at depths 4·(e mod
  // BK/4).. (depth-contiguous B: a kernel read for the data gradient, a transposed matrix). Groups at a
  // ragged edge, or without alignment, are loaded element by element.
  constexpr bool kVectorA = ALoad::kVector && Tile::kVectorLoadsA;
  constexpr bool kVectorB = BLoad::kVector && Tile::kVectorLoadsB;
  constexpr bool kRowsA = !ALoad::kDepthContiguous, kDepthB = !BLoad::kColumnsContiguous;
  auto a_group = [&](int it, int* r, int* d) {
    const int e = tid + it * Tile::kThreads;
    *r = kRowsA ? (e % (BM / 4)) * 4 : e / (BK / 4);
    *d = kRowsA ? e / (BM / 4) : (e % (BK / 4)) * 4;
  };
  auto b_group = [&](int it, int* c, int* d) {
    const int e = tid + it * Tile::kThreads;
    *c = kDepthB ? e / (BK / 4) : (e % (BN / 4)) * 4;
    *d = kDepthB ? (e % (BK / 4)) * 4 : e / (BN / 4);
  };
  // Whether a group's 4 values all lie inside the matrix and the depth slice.
  auto a_whole = [&](int64_t gr, int64_t gk) {
    return kRowsA ? gr + 3 < m && gk < k_end : gr < m && gk + 3 < k_end;
  };
  auto b_whole = [&](int64_t gc, int64_t gk) {
    return kDepthB ? gc < n && gk + 3 < k_end : gk < k_end && gc + 3 < n;
  };
  auto load_stage = [&](int64_t k0) {  // global → registers; zeros past the matrix or the slice
    if constexpr (kVectorA) {
#pragma unroll
      for (int it = 0; it < Tile::kLoadsA / 4; ++it) {
        int r, d;
        a_group(it, &r, &d);
        const int64_t gr = row0 + r, gk = k0 + d;
        if (load_a.vector_ok && a_whole(gr, gk)) {
          const float4 v = load_a.load4(gr, gk);
          stage_a[4 * it] = v.x;
          stage_a[4 * it + 1] = v.y;
          stage_a[4 * it + 2] = v.z;
          stage_a[4 * it + 3] = v.w;
        } else {
#pragma unroll
          for (int q = 0; q < 4; ++q) {
            const int64_t qr = kRowsA ? gr + q : gr, qk = kRowsA ? gk : gk + q;
            stage_a[4 * it + q] = (qr < m && qk < k_end) ? load_a(qr, qk) : 0.0f;
          }
        }
      }
    } else {
#pragma unroll
      for (int it = 0; it < Tile::kLoadsA; ++it) {
        int r, d;
        a_cell(it, &r, &d);
        const int64_t gr = row0 + r, gk = k0 + d;
        stage_a[it] = (gr < m && gk < k_end) ? load_a(gr, gk) : 0.0f;
      }
    }
    if constexpr (kVectorB) {
#pragma unroll
      for (int it = 0; it < Tile::kLoadsB / 4; ++it) {
        int c, d;
        b_group(it, &c, &d);
        const int64_t gc = col0 + c, gk = k0 + d;
        if (load_b.vector_ok && b_whole(gc, gk)) {
          const float4 v = load_b.load4(gk, gc);
          stage_b[4 * it] = v.x;
          stage_b[4 * it + 1] = v.y;
          stage_b[4 * it + 2] = v.z;
          stage_b[4 * it + 3] = v.w;
        } else {
#pragma unroll
          for (int q = 0; q < 4; ++q) {
            const int64_t qc = kDepthB ? gc : gc + q, qk = kDepthB ? gk + q : gk;
            stage_b[4 * it + q] = (qk < k_end && qc < n) ? load_b(qk, qc) : 0.0f;
          }
        }
      }
    } else {
#pragma unroll
      for (int it = 0; it < Tile::kLoadsB; ++it) {
        int c, d;
        b_cell(it, &c, &d);
        const int64_t gc = col0 + c, gk = k0 + d;
        stage_b[it] = (gc < n && gk < k_end) ? load_b(gk, gc) : 0.0f;
      }
    }
  };
  auto store_stage = [&](int buf) {  // registers → shared buffer `buf`
    if constexpr (kVectorA) {
#pragma unroll
      for (int it = 0; it < Tile::kLoadsA / 4; ++it) {
        int r, d;
        a_group(it, &r, &d);
        if constexpr (kRowsA) {
          store_float4(&as[buf][d][r], make_float4(stage_a[4 * it], stage_a[4 * it + 1], stage_a[4 * it + 2],
                                                   stage_a[4 * it + 3]));
        } else {
#pragma unroll
          for (int q = 0; q < 4; ++q) as[buf][d + q][r] = stage_a[4 * it + q];
        }
      }
    } else {
#pragma unroll
      for (int it = 0; it < Tile::kLoadsA; ++it) {
        int r, d;
        a_cell(it, &r, &d);
        as[buf][d][r] = stage_a[it];
      }
    }
    if constexpr (kVectorB) {
#pragma unroll
      for (int it = 0; it < Tile::kLoadsB / 4; ++it) {
        int c, d;
        b_group(it, &c, &d);
        if constexpr (kDepthB) {
#pragma unroll
          for (int q = 0; q < 4; ++q) bs[buf][d + q][c] = stage_b[4 * it + q];
        } else {
          store_float4(&bs[buf][d][c], make_float4(stage_b[4 * it], stage_b[4 * it + 1], stage_b[4 * it + 2],
                                                   stage_b[4 * it + 3]));
        }
      }
    } else {
#pragma unroll
      for (int it = 0; it < Tile::kLoadsB; ++it) {
        int c, d;
        b_cell(it, &c, &d);
        bs[buf][d][c] = stage_b[it];
      }
    }
  };

  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;

  int buf = 0;
  if (k_begin < k_end) {
    load_stage(k_begin);
    store_stage(0);
  }
  __syncthreads();
  for (int64_t k0 = k_begin; k0 < k_end; k0 += BK) {
    const bool has_next = k0 + BK < k_end;
    if (has_next) load_stage(k0 + BK);  // in flight while this stage multiplies
#pragma unroll
    for (int d = 0; d < BK; ++d) {
      float a[TM], b[TN];
#pragma unroll
      for (int g = 0; g < TM / 4; ++g) {
        const float4 v = load_float4(&as[buf][d][g * kRowStride + 4 * ty]);
        a[4 * g] = v.x;
        a[4 * g + 1] = v.y;
        a[4 * g + 2] = v.z;
        a[4 * g + 3] = v.w;
      }
#pragma unroll
      for (int g = 0; g < TN / 4; ++g) {
        const float4 v = load_float4(&bs[buf][d][g * kColStride + 4 * tx]);
        b[4 * g] = v.x;
        b[4 * g + 1] = v.y;
        b[4 * g + 2] = v.z;
        b[4 * g + 3] = v.w;
      }
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    if (has_next) store_stage(buf ^ 1);
    __syncthreads();
    buf ^= 1;
  }

#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int64_t gr = row0 + (i / 4) * kRowStride + 4 * ty + (i % 4);
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const int64_t gc = col0 + (j / 4) * kColStride + 4 * tx + (j % 4);
      if (gr < m && gc < n) store(gr, gc, static_cast<int64_t>(blockIdx.z), acc[i][j]);
    }
  }
}

// True when GPUTRAIN_GEMM_KERNEL=simple asks for the simple main loop (read once per process).
bool use_simple_gemm_kernel();

// Whether this build has the simple main loop: it doubles the GEMM kernels to compile, so builds for
// users leave it out unless GPUTRAIN_GEMM_REFERENCE=ON; the CPU emulator (tests) always has it.
#if defined(GT_GEMM_REFERENCE) || defined(GT_GPU_EMULATION)
constexpr bool kGemmReference = true;
#else
constexpr bool kGemmReference = false;
#endif

// How a GEMM of this shape is launched: tile size and split-K depth. One function decides, so the
// workspace a caller allocates always matches the launch.
enum class GemmTile { Big, Small, Narrow };
struct GemmPlan {
  GemmTile tile = GemmTile::Big;
  int64_t splits = 1;           // slices of the depth, each written to its own workspace slice
  int64_t k_per_split = 0;      // a multiple of BK
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
  if (use_simple_gemm_kernel()) {
    GT_GPU_REQUIRE(kGemmReference, "GPUTRAIN_GEMM_KERNEL=simple: this build has no simple GEMM kernel "
                                   "(rebuild with GPUTRAIN_GEMM_REFERENCE=ON)");
    // The simple kernel has no narrow version: plan_gemm gives small tiles instead when it is asked for.
    if constexpr (kGemmReference && !std::is_same_v<Tile, NarrowTile>) {
      GT_LAUNCH(gemm_tile_kernel<Tile>, grid, Tile::kThreads, stream)
      (m, n, k, plan.k_per_split, load_a, load_b, store);
      GT_GPU_CHECK_LAUNCH(gemm_tile_kernel);
      return GT_OK;
    }
  }
  GT_LAUNCH(gemm_tile_pipelined_kernel<Tile>, grid, Tile::kThreads, stream)
  (m, n, k, plan.k_per_split, load_a, load_b, store);
  GT_GPU_CHECK_LAUNCH(gemm_tile_pipelined_kernel);
  return GT_OK;
}

// Loaders of tensors past 2^31 elements (kIndex64) are not compiled for the narrow tile, which then runs
// as the small one: each tile shape more costs every loader a kernel, and build time.
template <class T, class = void>
struct Index64Loader : std::false_type {};
template <class T>
struct Index64Loader<T, std::void_t<decltype(T::kIndex64)>> : std::bool_constant<T::kIndex64> {};

// Launches the main loop with the plan's tile size.
template <class ALoad, class BLoad, class Store>
int launch_gemm(const GemmPlan& plan, int64_t m, int64_t n, int64_t k, ALoad load_a, BLoad load_b,
                Store store, cudaStream_t stream) {
  if (m <= 0 || n <= 0) return GT_OK;
  if (plan.tile == GemmTile::Big) return launch_gemm_tile<BigTile>(plan, m, n, k, load_a, load_b, store, stream);
  if constexpr (!Index64Loader<ALoad>::value) {
    if (plan.tile == GemmTile::Narrow)
      return launch_gemm_tile<NarrowTile>(plan, m, n, k, load_a, load_b, store, stream);
  }
  return launch_gemm_tile<SmallTile>(plan, m, n, k, load_a, load_b, store, stream);
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
