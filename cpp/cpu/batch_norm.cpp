// Per-channel statistics as column reductions over a (m, c) matrix: each thread reduces its own band of
// rows into double partial sums (rows stream once, channels vectorise), bands are combined in a fixed
// order. Two passes (mean, then squared deviations) avoid the cancellation of E[x²] − E[x]².
#include "cpu/batch_norm.h"

#include <cmath>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace gt::cpu {
namespace {

int threads_for(int64_t work) {
#ifdef _OPENMP
  return work > (1 << 15) ? omp_get_max_threads() : 1;
#else
  (void)work;
  return 1;
#endif
}

// out[j] = Σ_i f(i, j) for j < c, f evaluated row by row.
template <class F>
void column_reduce(int64_t m, int64_t c, F f, double* out) {
  const int threads = threads_for(m * c);
  std::vector<double> partial(static_cast<size_t>(threads) * c, 0.0);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int t = 0; t < threads; ++t) {
    double* acc = partial.data() + static_cast<int64_t>(t) * c;
    for (int64_t i = m * t / threads; i < m * (t + 1) / threads; ++i)
      for (int64_t j = 0; j < c; ++j) acc[j] += f(i, j);
  }
  for (int64_t j = 0; j < c; ++j) out[j] = 0.0;
  for (int t = 0; t < threads; ++t)
    for (int64_t j = 0; j < c; ++j) out[j] += partial[static_cast<size_t>(t) * c + j];
}

}  // namespace

void batch_norm_statistics(int64_t m, int64_t c, const float* x, float* mean, float* var) {
  std::vector<double> sum(c), mu(c), sq(c);
  column_reduce(m, c, [&](int64_t i, int64_t j) { return static_cast<double>(x[i * c + j]); },
                sum.data());
  for (int64_t j = 0; j < c; ++j) mu[j] = m > 0 ? sum[j] / static_cast<double>(m) : 0.0;
  column_reduce(m, c, [&](int64_t i, int64_t j) {
    const double d = x[i * c + j] - mu[j];
    return d * d;
  }, sq.data());
  for (int64_t j = 0; j < c; ++j) {
    mean[j] = static_cast<float>(mu[j]);
    var[j] = static_cast<float>(m > 0 ? sq[j] / static_cast<double>(m) : 0.0);
  }
}

void batch_norm_forward(int64_t m, int64_t c, const float* x, const float* mean, const float* var,
                        const float* gamma, const float* beta, float epsilon, float* y) {
  // y = (x − mean)·scale + beta. Folding the mean into the shift (x·scale + shift) would save a
  // subtraction but lose precision where |mean| ≫ std: the large terms cancel.
  std::vector<float> scale(c), shift(c);
  for (int64_t j = 0; j < c; ++j) {
    scale[j] = (gamma ? gamma[j] : 1.0f) / std::sqrt(var[j] + epsilon);
    shift[j] = beta ? beta[j] : 0.0f;
  }
#pragma omp parallel for schedule(static) if (m * c > (1 << 15))
  for (int64_t i = 0; i < m; ++i) {
#pragma omp simd
    for (int64_t j = 0; j < c; ++j) y[i * c + j] = (x[i * c + j] - mean[j]) * scale[j] + shift[j];
  }
}

void batch_norm_update_moving(int64_t c, const float* mean, const float* var, float* moving_mean,
                              float* moving_var, float momentum) {
  for (int64_t j = 0; j < c; ++j) {
    moving_mean[j] = moving_mean[j] * momentum + mean[j] * (1.0f - momentum);
    moving_var[j] = moving_var[j] * momentum + var[j] * (1.0f - momentum);
  }
}

void batch_norm_backward(int64_t m, int64_t c, const float* dy, const float* x, const float* mean,
                         const float* var, const float* gamma, float epsilon, float* dx, float* dgamma,
                         float* dbeta) {
  std::vector<double> inv_std(c), sum_dy(c), sum_dy_xhat(c);
  for (int64_t j = 0; j < c; ++j) inv_std[j] = 1.0 / std::sqrt(static_cast<double>(var[j]) + epsilon);
  column_reduce(m, c, [&](int64_t i, int64_t j) { return static_cast<double>(dy[i * c + j]); },
                sum_dy.data());
  column_reduce(m, c, [&](int64_t i, int64_t j) {
    return static_cast<double>(dy[i * c + j]) * (x[i * c + j] - mean[j]) * inv_std[j];
  }, sum_dy_xhat.data());
  std::vector<float> k(c), mean_dy(c), mean_dy_xhat(c), fmean(c), finv(c);
  for (int64_t j = 0; j < c; ++j) {
    if (dbeta) dbeta[j] = static_cast<float>(sum_dy[j]);
    if (dgamma) dgamma[j] = static_cast<float>(sum_dy_xhat[j]);
    k[j] = static_cast<float>((gamma ? gamma[j] : 1.0f) * inv_std[j]);
    mean_dy[j] = m > 0 ? static_cast<float>(sum_dy[j] / m) : 0.0f;
    mean_dy_xhat[j] = m > 0 ? static_cast<float>(sum_dy_xhat[j] / m) : 0.0f;
    finv[j] = static_cast<float>(inv_std[j]);
  }
#pragma omp parallel for schedule(static) if (m * c > (1 << 15))
  for (int64_t i = 0; i < m; ++i) {
#pragma omp simd
    for (int64_t j = 0; j < c; ++j) {
      const float xhat = (x[i * c + j] - mean[j]) * finv[j];
      dx[i * c + j] = k[j] * (dy[i * c + j] - mean_dy[j] - xhat * mean_dy_xhat[j]);
    }
  }
}

}  // namespace gt::cpu
