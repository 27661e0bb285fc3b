// Accuracy counts that add into a running counter, so a training loop can keep its metrics where the
// model runs and read them only when it reports.
#pragma once
#include <cstdint>

namespace gt::cpu {

// counter[0] += number of rows whose first maximal column equals labels[row] (Keras's sparse accuracy;
// the first maximum, as NumPy's argmax, decides ties).
void count_argmax_hits(int64_t rows, int64_t classes, const float* output, const int32_t* labels,
                       float* counter);
// counter[0] += number of i with (output[i] > threshold) == (target[i] > 0.5) (binary accuracy).
void count_threshold_hits(int64_t n, const float* output, const float* target, float threshold,
                          float* counter);
// *first = step + 1 when `value` is NaN or infinite and *first is still 0: the first step of a training
// loop whose loss went bad, kept where the loop runs so that naming it costs no step a wait.
void mark_first_nonfinite(const float* value, uint64_t step, int64_t* first);

}  // namespace gt::cpu
