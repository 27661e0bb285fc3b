// Per-column sums over the rows of a row-major (rows, cols) matrix, for bias gradients and batch-norm
// statistics: out[j] = scale · Σ_i f(i, j). Stage 1 gives each block 32 columns and one band of rows
// (threads of a warp read 32 consecutive floats of a row: coalesced; 8 row-partials meet in shared
// memory) and writes workspace[band][j]; stage 2 adds the bands in order. Deterministic, no atomics,
// and parallel even for a handful of columns. The workspace holds GT_ROW_SPLITS·cols floats.
#pragma once
#include <algorithm>
#include <cstdint>

#include "core/op_params.h"
#include "gpu/check.h"

namespace gt::gpu {

template <class F>
__global__ void column_reduce_band_kernel(F f, int64_t rows, int64_t cols, int64_t rows_per_band,
                                          float* __restrict__ partial) {
  __shared__ float sums[8][33];  // 33: the column-wise read below avoids bank conflicts
  const int64_t col = static_cast<int64_t>(blockIdx.x) * 32 + threadIdx.x;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * rows_per_band;
  const int64_t r1 = r0 + rows_per_band < rows ? r0 + rows_per_band : rows;
  float sum = 0.0f;
  if (col < cols)
    for (int64_t r = r0 + threadIdx.y; r < r1; r += 8) sum += f(r, col);
  sums[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && col < cols) {
    float total = 0.0f;
    for (int i = 0; i < 8; ++i) total += sums[i][threadIdx.x];
    partial[static_cast<int64_t>(blockIdx.y) * cols + col] = total;
  }
}

template <class F>
__global__ void column_reduce_finish_kernel(const float* __restrict__ partial, int64_t bands, int64_t cols,
                                            float scale, float* __restrict__ out) {
  const int64_t col = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (col >= cols) return;
  float total = 0.0f;
  for (int64_t b = 0; b < bands; ++b) total += partial[b * cols + col];
  out[col] = total * scale;
}

template <class F>
int column_reduce(F f, int64_t rows, int64_t cols, float scale, float* out, float* workspace,
                  cudaStream_t stream) {
  if (cols <= 0) return GT_OK;
  // Bands of at least 64 rows, at most GT_ROW_SPLITS of them.
  const int64_t bands = std::max<int64_t>(1, std::min<int64_t>(GT_ROW_SPLITS, (rows + 63) / 64));
  const int64_t rows_per_band = std::max<int64_t>(1, (rows + bands - 1) / bands);
  const int64_t col_blocks = (cols + 31) / 32;
  GT_GPU_REQUIRE(col_blocks < (int64_t(1) << 31), "column reduction: too many columns");
  GT_LAUNCH(column_reduce_band_kernel, dim3(static_cast<unsigned>(col_blocks), static_cast<unsigned>(bands)),
            dim3(32, 8), stream)
  (f, rows, cols, rows_per_band, workspace);
  GT_GPU_CHECK_LAUNCH(column_reduce_band_kernel);
  GT_LAUNCH(column_reduce_finish_kernel<F>, static_cast<unsigned>((cols + 255) / 256), 256, stream)
  (workspace, bands, cols, scale, out);
  GT_GPU_CHECK_LAUNCH(column_reduce_finish_kernel);
  return GT_OK;
}

}  // namespace gt::gpu
