// Plain C descriptions of op geometry, shared by dispatch, the CPU kernels and the GPU table (so they
// cross the C ABI unchanged). Dispatch fills and checks them; kernels trust them.
#pragma once
#include <stdint.h>

#include "core/activations.h"  // GtActivation, generated from the list of activations

extern "C" {

// A sliding 2-D window over an NHWC input (convolution or pooling). Padding is already resolved:
// pad_top/pad_left cells of zeros (or "absent" cells for pooling) precede row/column 0. A convolution's
// tap (i, j) at output (oh, ow) reads input (oh·stride_h − pad_top + i·dilation_h, ow·stride_w −
// pad_left + j·dilation_w): kh, kw count the kernel's taps, and the window spans the dilated extent
// (kh − 1)·dilation_h + 1 (likewise for w), for which the padding and the output size were computed.
// Geometry never has dilation > 1 together with stride > 1 (refused, as by Keras). Dilation is always
// set, 1 where there is none; pooling windows have none and their kernels ignore the fields.
// A convolution splits its c input and k output channels into `groups` (>= 1, dividing both; 1 for a
// plain convolution and for pooling, whose kernels ignore it): group q reads channels [q·c/groups,
// (q+1)·c/groups) and writes outputs [q·k/groups, (q+1)·k/groups), with kernel columns of those
// outputs; the HWIO kernel is (kh, kw, c/groups, k), as Keras's.
typedef struct GtWindow2d {
  int64_t n, h, w, c;          // input
  int64_t kh, kw;              // window (kernel or pool) size, in taps
  int64_t stride_h, stride_w;
  int64_t pad_top, pad_left;
  int64_t oh, ow;              // output rows and columns
  int64_t dilation_h, dilation_w;
  int64_t groups;
  // Average pooling: 1 divides every window by kh·kw, padding cells included (PyTorch's
  // count_include_pad); 0 (TensorFlow's rule) by its real cells only. Windows never reach beyond the
  // padding, so kh·kw is the padded window's size. Other ops leave it 0.
  int64_t count_include_pad;
} GtWindow2d;

// A depthwise convolution: each input channel ch is convolved with its own `multiplier` filters, output
// channel ch·multiplier + m. `g` is the window over the input with g.kh, g.kw the kernel's taps; tap
// (i, j) reads input (oh·stride_h − pad_top + i·dilation_h, ow·stride_w − pad_left + j·dilation_w), and
// the padding is TensorFlow's for the dilated extent (k − 1)·d + 1. dilation_h, dilation_w predate
// GtWindow2d's own and always equal g.dilation_h, g.dilation_w (the depthwise kernels read these).
typedef struct GtDepthwise2d {
  GtWindow2d g;
  int64_t multiplier;
  int64_t dilation_h, dilation_w;
} GtDepthwise2d;

// How a loss combines its rows: the weighted mean Σ w_i·l_i / Σ w_i (PyTorch's, over the rows not
// ignored), the sum Σ w_i·l_i, or each row's w_i·l_i.
enum GtReduction { GT_REDUCTION_MEAN = 0, GT_REDUCTION_SUM = 1, GT_REDUCTION_NONE = 2 };
// An ignore_index no int32 label equals: no row is ignored.
#define GT_NO_IGNORE_INDEX INT64_MIN

enum GtPoolKind { GT_POOL_MAX = 0, GT_POOL_AVG = 1 };

// Element-wise binary ops of the merging layers. Maximum and minimum propagate NaN, as np.maximum does.
enum GtBinaryOp { GT_BINARY_MUL = 0, GT_BINARY_MAX = 1, GT_BINARY_MIN = 2 };

// A copy of `outer` blocks of `rows` lines of `cols` contiguous floats between two strided layouts:
// dst[o·dst_outer + r·dst_row + j] = scale·src[o·src_outer + r·src_row + j] (+ the old dst value when
// `accumulate`). Concatenation, padding, cropping and the merging layers are all such copies.
typedef struct GtStridedCopy {
  int64_t outer, rows, cols;
  int64_t src_outer, src_row;
  int64_t dst_outer, dst_row;
  float scale;
  int accumulate;
} GtStridedCopy;

// A walk over `rank` dims (outermost first, row-major) of a buffer read through `strides` (in floats;
// 0 where a dim is broadcast): the walk's element t reads offset Σ coord_d·strides_d, coord_d its index
// along dims[d]. Permute reads its input through one (its gradient through the inverse); PReLU walks
// its input with the batch and the shared axes first, so alpha's index is t modulo alpha's size.
// Built by core/strided_view.h, which merges dims that are contiguous in both orders.
#define GT_VIEW_MAX_RANK 8
typedef struct GtStridedView {
  int64_t rank;
  int64_t dims[GT_VIEW_MAX_RANK];
  int64_t strides[GT_VIEW_MAX_RANK];
} GtStridedView;

// Bilinear resizing of NHWC images (n, h, w, c) to (n, oh, ow, c), TensorFlow's tf.image.resize
// "bilinear" (half-pixel centres, no antialiasing), as Keras's UpSampling2D(interpolation="bilinear").
typedef struct GtResize2d {
  int64_t n, h, w, c;
  int64_t oh, ow;
} GtResize2d;

// GPU reductions over rows (bias gradients, batch-norm statistics) split the rows into at most this many
// bands, each reduced by one block into workspace[band][column], then the bands are summed in a fixed
// order: deterministic, and parallel even when there are few columns. Dispatch sizes the workspace.
#define GT_ROW_SPLITS 128
// Whole-tensor GPU reductions (losses) use at most this many blocks' partial sums.
#define GT_REDUCE_BLOCKS 1024

// The values that change from one training step to the next, kept by a training plan in memory of its
// device: a step replayed as a graph runs kernels whose arguments were fixed when it was captured, so
// they read this step's values from here (written before each step, outside the graph).
typedef struct GtStepScalars {
  uint64_t step;        // steps the plan took before this one: dropout masks use seed + step
  float learning_rate;  // SGD, RMSprop
  float adam_alpha;     // Adam: lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ) for its step t
  float factors[3];     // optimizer_update's per-step factors (GtOptimizerParams), computed on the host
} GtStepScalars;

// Hyper-parameters of the optimizer updates (Keras semantics, see cpp/cpu/optimizer.h). With `step`
// set (device memory of the update's device), the learning rate (Adam: alpha) is read from there
// instead of from lr (alpha).
typedef struct GtSgdParams {
  float lr, momentum;
  int nesterov;
  const GtStepScalars* step;
} GtSgdParams;

typedef struct GtAdamParams {
  float alpha;  // lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ) for step t, computed by dispatch in double
  float beta_1, beta_2, epsilon;
  const GtStepScalars* step;
} GtAdamParams;

typedef struct GtRmspropParams {
  float lr, rho, momentum, epsilon;
  int centered;
  const GtStepScalars* step;
} GtRmspropParams;

// optimizer_update's rules (Keras 3's formulas, cpp/core/optimizer_rules.h) and the slots each keeps.
typedef enum GtOptimizerKind {
  GT_OPTIMIZER_SGD = 0,    // s0: momentum (when momentum > 0)
  GT_OPTIMIZER_ADAM = 1,   // s0: m, s1: v, s2: the largest v so far (amsgrad); factors[0] = Adam's alpha
  GT_OPTIMIZER_RMSPROP = 2,  // s0: velocity, s1: momentum (momentum > 0), s2: average gradient (centered)
  GT_OPTIMIZER_ADAMAX = 3,   // s0: m, s1: u (the infinity norm); factors[0] = lr/(1 − β₁ᵗ)
  GT_OPTIMIZER_ADAGRAD = 4,  // s0: the accumulated squared gradient
  GT_OPTIMIZER_ADADELTA = 5,  // s0: accumulated squared gradient, s1: accumulated squared update
  GT_OPTIMIZER_LION = 6,      // s0: m
  GT_OPTIMIZER_NADAM = 7      // s0: m, s1: v; factors: the m, g and v coefficients of its step
} GtOptimizerKind;

#define GT_OPTIMIZER_NESTEROV 1
#define GT_OPTIMIZER_CENTERED 2
#define GT_OPTIMIZER_AMSGRAD 4

// One optimizer update with Keras's options: the gradient clipped (clipvalue > 0: each element to
// ±clipvalue; grad_sq_norm set: scaled by clipnorm/‖g‖ where ‖g‖ = √*grad_sq_norm exceeds clipnorm, the
// norm of this weight's gradient or of all of them), then the weight decayed (p −= lr·weight_decay·p),
// then the rule of `kind`. With `step` set (device memory), the learning rate and factors are read from
// there, else from lr and factors.
typedef struct GtOptimizerParams {
  int kind;   // GtOptimizerKind
  int flags;  // GT_OPTIMIZER_NESTEROV, _CENTERED, _AMSGRAD
  float lr;
  float factors[3];
  float beta_1, beta_2, epsilon;  // Adam, Adamax, Nadam, Lion (β₁, β₂)
  float rho, momentum;            // RMSprop, Adadelta (rho); SGD, RMSprop (momentum)
  float weight_decay, clipvalue, clipnorm;
  const float* grad_sq_norm;
  const GtStepScalars* step;
} GtOptimizerParams;

}  // extern "C"
