// Accuracy counts over a batch; batches are small, so one thread.
#include "cpu/metrics.h"

#include <cmath>

#include "core/nan_rules.h"

namespace gt::cpu {

void count_argmax_hits(int64_t rows, int64_t classes, const float* output, const int32_t* labels,
                       float* counter) {
  int64_t hits = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = output + r * classes;
    int64_t best = 0;
    for (int64_t j = 1; j < classes; ++j)
      if (max_takes(row[j], row[best])) best = j;  // np.argmax: the first maximum, or the first NaN
    hits += best == labels[r];
  }
  counter[0] += static_cast<float>(hits);
}

void count_threshold_hits(int64_t n, const float* output, const float* target, float threshold,
                          float* counter) {
  int64_t hits = 0;
  for (int64_t i = 0; i < n; ++i) hits += (output[i] > threshold) == (target[i] > 0.5f);
  counter[0] += static_cast<float>(hits);
}

void mark_first_nonfinite(const float* value, uint64_t step, int64_t* first) {
  if (*first == 0 && !std::isfinite(*value)) *first = static_cast<int64_t>(step) + 1;
}

}  // namespace gt::cpu
