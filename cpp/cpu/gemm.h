// Single-precision matrix multiply, the core that dense layers and convolution share.
// Row-major: C[M,N] = op(A)[M,K] · op(B)[K,N] (+ C when accumulate) (+ bias[N] on every row).
// op(A) = A (lda >= K) or Aᵀ when trans_a (A stored K×M, lda >= M); likewise for B. An activation,
// when given, is applied to the finished C in the same pass (the fused epilogue of dense and conv).
#pragma once
#include <cstdint>

#include "core/op_params.h"

namespace gt::cpu {

// Blocked, packed, OpenMP-parallel version (the one every op uses).
void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
           const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate, const float* bias,
           GtActivation activation = GT_ACTIVATION_NONE);

// Plain triple loop with the same contract, kept beside the fast one to test it against.
void sgemm_reference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a,
                     int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate,
                     const float* bias, GtActivation activation = GT_ACTIVATION_NONE);

}  // namespace gt::cpu
