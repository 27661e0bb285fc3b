// Losses on the GPU, each a mean (or sum) with its gradient. Per-row (softmax cross-entropy) or per-block
// (binary cross-entropy) partial losses go to a workspace, and one block adds them in a fixed order:
// the loss is deterministic, with no atomics.
#include "core/penalty.h"
#include "core/point_losses.h"
#include "gpu/check.h"
#include "gpu/kernels.h"
#include "gpu/launch.h"

namespace gt::gpu {
namespace {

constexpr float kBceEpsilon = 1e-7f;  // Keras's backend epsilon (cpp/cpu/loss.h)

// A row's weight: 0 when its label is ignore_index, else class_weight[label] (1 without class weights).
__device__ inline float row_weight(int32_t label, const float* class_weight, int64_t ignore_index) {
  if (label == ignore_index) return 0.0f;
  return class_weight != nullptr ? class_weight[label] : 1.0f;
}

// One block: *total = Σ_r w_r, the weighted mean's divisor, which every gradient row is scaled by.
__global__ void weight_total_kernel(int64_t rows, const int32_t* __restrict__ labels,
                                    const float* __restrict__ class_weight, int64_t ignore_index,
                                    float* __restrict__ total) {
  float sum = 0.0f;
  for (int64_t r = threadIdx.x; r < rows; r += blockDim.x) sum += row_weight(labels[r], class_weight, ignore_index);
  sum = block_reduce(sum, SumOp{}, 0.0f);
  if (threadIdx.x == 0) *total = sum;
}

// One block per row: logsumexp, the row's weighted loss into row_loss, and dlogits = w·(softmax −
// onehot), divided by *divisor when there is one (the mean's Σ w). An ignored row has neither loss nor
// gradient, and its label is never used as an index.
__global__ void softmax_cross_entropy_kernel(int64_t classes, const float* __restrict__ logits,
                                             const int32_t* __restrict__ labels,
                                             const float* __restrict__ class_weight, int64_t ignore_index,
                                             const float* __restrict__ divisor, float* __restrict__ dlogits,
                                             float* __restrict__ row_loss) {
  const int64_t base = static_cast<int64_t>(blockIdx.x) * classes;
  const int32_t label = labels[blockIdx.x];
  if (label == ignore_index) {  // uniform across the block: no thread reaches a block_reduce
    for (int64_t j = threadIdx.x; j < classes; j += blockDim.x) dlogits[base + j] = 0.0f;
    if (threadIdx.x == 0) row_loss[blockIdx.x] = 0.0f;
    return;
  }
  const float* z = logits + base;
  float m = -INFINITY;
  for (int64_t j = threadIdx.x; j < classes; j += blockDim.x) m = fmaxf(m, z[j]);
  m = block_reduce(m, MaxOp{}, -INFINITY);
  float sum = 0.0f;
  for (int64_t j = threadIdx.x; j < classes; j += blockDim.x) sum += expf(z[j] - m);
  sum = block_reduce(sum, SumOp{}, 0.0f);
  const float w = row_weight(label, class_weight, ignore_index);
  const float scale = divisor != nullptr ? w * (1.0f / *divisor) : w;
  for (int64_t j = threadIdx.x; j < classes; j += blockDim.x)
    dlogits[base + j] = (expf(z[j] - m) / sum - (j == label ? 1.0f : 0.0f)) * scale;
  if (threadIdx.x == 0) row_loss[blockIdx.x] = w * (logf(sum) + m - z[label]);
}

// One block: loss = scale · Σ partial[i] (divided by *divisor when there is one), summed by strided
// threads then a block reduction.
__global__ void mean_kernel(const float* __restrict__ partial, int64_t count, float scale,
                            const float* __restrict__ divisor, float* __restrict__ loss) {
  float sum = 0.0f;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) sum += partial[i];
  sum = block_reduce(sum, SumOp{}, 0.0f);
  if (threadIdx.x == 0) *loss = divisor != nullptr ? sum * scale / *divisor : sum * scale;
}

__global__ void binary_cross_entropy_kernel(int64_t n, const float* __restrict__ input,
                                            const float* __restrict__ target, int from_logits,
                                            float* __restrict__ dinput, float* __restrict__ block_loss) {
  const float inv_n = 1.0f / static_cast<float>(n);
  const float eps = kBceEpsilon;
  float sum = 0.0f;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const float t = target[i];
    if (from_logits) {
      const float z = input[i];
      const float e = expf(-fabsf(z));
      sum += fmaxf(z, 0.0f) - z * t + log1pf(e);
      dinput[i] = ((z >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e)) - t) * inv_n;
    } else {
      const float p = input[i];
      // Comparisons, not fminf/fmaxf, which would turn a NaN p into eps: np.clip keeps NaN.
      const float pc = p < eps ? eps : (p > 1.0f - eps ? 1.0f - eps : p);
      sum += -(t * logf(pc) + (1.0f - t) * logf(1.0f - pc));
      const bool clipped = p < eps || p > 1.0f - eps;  // Keras's clip passes no gradient there
      dinput[i] = clipped ? 0.0f : -(t / pc - (1.0f - t) / (1.0f - pc)) * inv_n;
    }
  }
  sum = block_reduce(sum, SumOp{}, 0.0f);
  if (threadIdx.x == 0) block_loss[blockIdx.x] = sum;
}

// An element-wise loss's gradient (dinput may be null: a metric) and one partial loss sum per block.
template <class Formula>
__global__ void point_loss_kernel(int64_t n, const float* __restrict__ input, const float* __restrict__ target,
                                  float param, float* __restrict__ dinput, float* __restrict__ block_loss) {
  const float inv_n = 1.0f / static_cast<float>(n);
  float sum = 0.0f;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    sum += Formula::value(input[i], target[i], param);
    if (dinput) dinput[i] = Formula::grad(input[i], target[i], param) * inv_n;
  }
  sum = block_reduce(sum, SumOp{}, 0.0f);
  if (threadIdx.x == 0) block_loss[blockIdx.x] = sum;
}

// The regularizer's gradient element by element and one partial penalty sum per block (block_sum null:
// the gradient only).
__global__ void weight_penalty_kernel(int64_t n, const float* __restrict__ x, float l1, float l2, float scale,
                                      float* __restrict__ grad, int accumulate, float* __restrict__ block_sum) {
  float sum = 0.0f;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const float v = x[i];
    sum += penalty_value(v, l1, l2);
    if (grad) {
      const float g = scale * penalty_grad(v, l1, l2);
      grad[i] = accumulate ? grad[i] + g : g;
    }
  }
  if (block_sum) {  // the same for every thread of the launch, so all of them reach block_reduce
    sum = block_reduce(sum, SumOp{}, 0.0f);
    if (threadIdx.x == 0) block_sum[blockIdx.x] = sum;
  }
}

}  // namespace

// Each row's loss, then the sum of the weights (the mean's divisor).
int softmax_cross_entropy_workspace(int, int64_t rows, size_t* floats) {
  *floats = static_cast<size_t>(rows) + 1;
  return GT_OK;
}

// The mean's divisor Σ w first (every gradient row is scaled by it), then the rows, then the rows' losses
// added in a fixed order: for the mean divided by Σ w (0/0: NaN, as np.mean of nothing and PyTorch over
// only ignored rows), for none written per row straight into `loss`.
int softmax_cross_entropy_f32(int device, int64_t rows, int64_t classes, const float* logits,
                              const int32_t* labels, const float* class_weight, int64_t ignore_index,
                              int reduction, float* loss, float* dlogits, float* workspace, void* stream) {
  GT_GPU_CHECK(cudaSetDevice(device));
  auto s = static_cast<cudaStream_t>(stream);
  GT_GPU_REQUIRE(rows < (int64_t(1) << 31), "softmax_cross_entropy: too many rows for one launch");
  const bool mean = reduction == GT_REDUCTION_MEAN;
  float* divisor = mean ? workspace + rows : nullptr;
  float* row_loss = reduction == GT_REDUCTION_NONE ? loss : workspace;
  if (mean) {
    GT_LAUNCH(weight_total_kernel, 1, kThreads, s)(rows, labels, class_weight, ignore_index, divisor);
    GT_GPU_CHECK_LAUNCH(weight_total_kernel);
  }
  if (rows > 0) {
    GT_LAUNCH(softmax_cross_entropy_kernel, static_cast<unsigned>(rows), kThreads, s)
    (classes, logits, labels, class_weight, ignore_index, divisor, dlogits, row_loss);
    GT_GPU_CHECK_LAUNCH(softmax_cross_entropy_kernel);
  }
  if (reduction != GT_REDUCTION_NONE) {
    GT_LAUNCH(mean_kernel, 1, kThreads, s)(workspace, rows, 1.0f, divisor, loss);
    GT_GPU_CHECK_LAUNCH(mean_kernel);
  }
  return GT_OK;
}

// One partial sum per block, at most GT_REDUCE_BLOCKS blocks.
int binary_cross_entropy_workspace(int, size_t* floats) {
  *floats = GT_REDUCE_BLOCKS;
  return GT_OK;
}

int binary_cross_entropy_f32(int device, int64_t n, const float* input, const float* target, int from_logits,
                             float* loss, float* dinput, float* workspace, void* stream) {
  GT_GPU_CHECK(cudaSetDevice(device));
  auto s = static_cast<cudaStream_t>(stream);
  const unsigned blocks = n > 0 ? (grid_for(n) < GT_REDUCE_BLOCKS ? grid_for(n) : GT_REDUCE_BLOCKS) : 0;
  if (blocks > 0) {
    GT_LAUNCH(binary_cross_entropy_kernel, blocks, kThreads, s)
    (n, input, target, from_logits, dinput, workspace);
    GT_GPU_CHECK_LAUNCH(binary_cross_entropy_kernel);
  }
  GT_LAUNCH(mean_kernel, 1, kThreads, s)
  (workspace, blocks, n > 0 ? 1.0f / static_cast<float>(n) : NAN, nullptr, loss);  // empty: 0·NaN, as np.mean
  GT_GPU_CHECK_LAUNCH(mean_kernel);
  return GT_OK;
}

// One partial sum per block, at most GT_REDUCE_BLOCKS blocks.
int weight_penalty_workspace(int, size_t* floats) {
  *floats = GT_REDUCE_BLOCKS;
  return GT_OK;
}

int weight_penalty_f32(int device, int64_t n, const float* x, float l1, float l2, float scale, float* grad,
                       int accumulate, float* penalty, float* workspace, void* stream) {
  GT_GPU_CHECK(cudaSetDevice(device));
  auto s = static_cast<cudaStream_t>(stream);
  const unsigned blocks = n > 0 ? (grid_for(n) < GT_REDUCE_BLOCKS ? grid_for(n) : GT_REDUCE_BLOCKS) : 0;
  if (blocks > 0) {
    GT_LAUNCH(weight_penalty_kernel, blocks, kThreads, s)
    (n, x, l1, l2, scale, grad, accumulate, penalty ? workspace : nullptr);
    GT_GPU_CHECK_LAUNCH(weight_penalty_kernel);
  }
  if (penalty) {
    GT_LAUNCH(mean_kernel, 1, kThreads, s)(workspace, blocks, scale, nullptr, penalty);  // empty: 0
    GT_GPU_CHECK_LAUNCH(mean_kernel);
  }
  return GT_OK;
}

// One partial sum per block, at most GT_REDUCE_BLOCKS blocks.
int point_loss_workspace(int, size_t* floats) {
  *floats = GT_REDUCE_BLOCKS;
  return GT_OK;
}

int point_loss_f32(int device, int kind, int64_t n, const float* input, const float* target, float param,
                   float* loss, float* dinput, float* workspace, void* stream) {
  GT_GPU_REQUIRE(kind >= 0 && kind < GT_POINT_LOSS_COUNT, "point_loss: unknown loss kind");
  GT_GPU_CHECK(cudaSetDevice(device));
  auto s = static_cast<cudaStream_t>(stream);
  const unsigned blocks = n > 0 ? (grid_for(n) < GT_REDUCE_BLOCKS ? grid_for(n) : GT_REDUCE_BLOCKS) : 0;
  if (blocks > 0) {
    with_point_loss(kind, [&](auto formula) {
      using Formula = decltype(formula);
      GT_LAUNCH(point_loss_kernel<Formula>, blocks, kThreads, s)(n, input, target, param, dinput, workspace);
    });
    GT_GPU_CHECK_LAUNCH(point_loss_kernel);
  }
  GT_LAUNCH(mean_kernel, 1, kThreads, s)
  (workspace, blocks, n > 0 ? 1.0f / static_cast<float>(n) : NAN, nullptr, loss);  // empty: 0·NaN, as np.mean
  GT_GPU_CHECK_LAUNCH(mean_kernel);
  return GT_OK;
}

}  // namespace gt::gpu
