// Dense forward/backward on the shared SGEMM (bias fused into the GEMM's store), and the column sums
// that give every bias gradient.
#include "cpu/dense.h"

#include <algorithm>
#include <vector>

#include "cpu/gemm.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace gt::cpu {

void dense_forward(int64_t m, int64_t in, int64_t out, const float* x, const float* kernel,
                   const float* bias, GtActivation activation, float* y) {
  sgemm(false, false, m, out, in, x, in, kernel, out, y, out, false, bias, activation);
}

void dense_backward(int64_t m, int64_t in, int64_t out, const float* dy, const float* x,
                    const float* kernel, float* dx, float* dkernel, float* dbias) {
  if (dx) sgemm(false, true, m, in, out, dy, out, kernel, out, dx, in, false, nullptr);
  if (dkernel) sgemm(true, false, in, out, m, x, in, dy, out, dkernel, out, false, nullptr);
  if (dbias) column_sums(dy, m, out, dbias);
}

void column_sums(const float* a, int64_t rows, int64_t cols, float* sums) {
  // Each thread sums a contiguous band of rows into its own vector (rows stream through the cache
  // once, the inner loop vectorises along columns); the bands are then added in a fixed order so the
  // result does not depend on scheduling.
#ifdef _OPENMP
  const int threads = rows * cols > (1 << 16) ? omp_get_max_threads() : 1;
#else
  const int threads = 1;
#endif
  std::vector<float> partial(static_cast<size_t>(threads) * cols, 0.0f);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int t = 0; t < threads; ++t) {
    const int64_t r0 = rows * t / threads, r1 = rows * (t + 1) / threads;
    float* acc = partial.data() + static_cast<int64_t>(t) * cols;
    for (int64_t i = r0; i < r1; ++i) {
      const float* row = a + i * cols;
#pragma omp simd
      for (int64_t j = 0; j < cols; ++j) acc[j] += row[j];
    }
  }
  std::fill(sums, sums + cols, 0.0f);
  for (int t = 0; t < threads; ++t)
    for (int64_t j = 0; j < cols; ++j) sums[j] += partial[static_cast<size_t>(t) * cols + j];
}

}  // namespace gt::cpu
