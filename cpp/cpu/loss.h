// Losses on the CPU, each returning the mean loss and its gradient with respect to the input.
#pragma once
#include <cstdint>

namespace gt::cpu {

// Sparse categorical cross-entropy from logits (rows, classes) and integer labels in [0, classes) (or
// equal to ignore_index: such rows have weight 0 and a zero gradient). Row r has weight w_r =
// class_weight[label_r] (1 when class_weight is null), loss w_r·(logsumexp(z_r) − z_r[label_r]) and
// gradient w_r·(softmax(z_r) − onehot); reduction (a GtReduction) mean divides both by Σ w_r (0/0:
// NaN, as PyTorch), sum adds the losses, none writes each row's loss to loss[r].
void softmax_cross_entropy(int64_t rows, int64_t classes, const float* logits, const int32_t* labels,
                           const float* class_weight, int64_t ignore_index, int reduction, float* loss,
                           float* dlogits);

// Binary cross-entropy, mean over all n elements (Keras 3). From logits z:
// max(z,0) − z·t + log(1 + e^−|z|), gradient (σ(z) − t)/n. From probabilities p, clipped to
// [ε, 1−ε] with ε = 1e-7 as Keras does: −(t·log p + (1−t)·log(1−p)), gradient zero where p was
// clipped (the clip passes no gradient there).
void binary_cross_entropy(int64_t n, const float* input, const float* target, bool from_logits,
                          float* loss, float* dinput);

// Keras's element-wise loss `kind` (core/point_losses.h): the mean over n elements, and (dinput not null)
// its gradient. False for an unknown kind.
bool point_loss(int kind, int64_t n, const float* input, const float* target, float param, float* loss,
                float* dinput);

// Keras's l1/l2 penalty over n elements (core/penalty.h), times scale, and its gradient (grad may be
// null; with accumulate it is added to grad); penalty may be null.
void weight_penalty(int64_t n, const float* x, float l1, float l2, float scale, float* grad, bool accumulate,
                    float* penalty);

constexpr float kBceEpsilon = 1e-7f;  // Keras's backend epsilon

}  // namespace gt::cpu
