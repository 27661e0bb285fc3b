// Accuracy counts that add into a counter in device memory, so fit reads its metrics only when it
// reports. One block: a batch has at most a few thousand rows, and the launch is stream-ordered with
// the step, so the single writer needs no atomics.
#include "core/nan_rules.h"
#include "gpu/check.h"
#include "gpu/kernels.h"
#include "gpu/launch.h"

namespace gt::gpu {
namespace {

__global__ void count_argmax_hits_kernel(int64_t rows, int64_t classes, const float* __restrict__ output,
                                         const int32_t* __restrict__ labels, float* counter) {
  float hits = 0.0f;
  for (int64_t r = threadIdx.x; r < rows; r += blockDim.x) {
    const float* row = output + r * classes;
    int64_t best = 0;
    for (int64_t j = 1; j < classes; ++j)
      if (max_takes(row[j], row[best])) best = j;  // np.argmax: the first maximum, or the first NaN
    hits += best == labels[r] ? 1.0f : 0.0f;
  }
  hits = block_reduce(hits, SumOp(), 0.0f);
  if (threadIdx.x == 0) counter[0] += hits;
}

__global__ void count_threshold_hits_kernel(int64_t n, const float* __restrict__ output,
                                            const float* __restrict__ target, float threshold,
                                            float* counter) {
  float hits = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
    hits += (output[i] > threshold) == (target[i] > 0.5f) ? 1.0f : 0.0f;
  hits = block_reduce(hits, SumOp(), 0.0f);
  if (threadIdx.x == 0) counter[0] += hits;
}

// One thread: one value to look at, stream-ordered after the loss that wrote it.
__global__ void mark_first_nonfinite_kernel(const float* value, const GtStepScalars* step, int64_t* first) {
  const float v = *value;
  if (*first == 0 && !(fabsf(v) <= 3.402823466e38f))  // NaN compares false, an infinity exceeds FLT_MAX
    *first = static_cast<int64_t>(step->step) + 1;
}

}  // namespace

int count_argmax_hits_f32(int device, int64_t rows, int64_t classes, const float* output,
                          const int32_t* labels, float* counter, void* stream) {
  if (rows <= 0 || classes <= 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_LAUNCH(count_argmax_hits_kernel, 1, kThreads, static_cast<cudaStream_t>(stream))(rows, classes, output,
                                                                                      labels, counter);
  GT_GPU_CHECK_LAUNCH(count_argmax_hits_kernel);
  return GT_OK;
}

int count_threshold_hits_f32(int device, int64_t n, const float* output, const float* target,
                             float threshold, float* counter, void* stream) {
  if (n <= 0) return GT_OK;
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_LAUNCH(count_threshold_hits_kernel, 1, kThreads, static_cast<cudaStream_t>(stream))(n, output, target,
                                                                                         threshold, counter);
  GT_GPU_CHECK_LAUNCH(count_threshold_hits_kernel);
  return GT_OK;
}

int mark_first_nonfinite_f32(int device, const float* value, const GtStepScalars* step, int64_t* first,
                             void* stream) {
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_LAUNCH(mark_first_nonfinite_kernel, 1, 1, static_cast<cudaStream_t>(stream))(value, step, first);
  GT_GPU_CHECK_LAUNCH(mark_first_nonfinite_kernel);
  return GT_OK;
}

}  // namespace gt::gpu
