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

// Rows of a matrix produced on demand, for operands that are not stored as one (convolution's im2col,
// never materialised). rows(r0, count, p0, len, scratch, out) sets out[r] to len consecutive floats of
// row r0 + r from column p0: a pointer into the caller's memory, or scratch + r·len after filling it.
// Any range is allowed; one inside a single multiple of segment() (a contiguous piece of the row) can
// be given in place, so the GEMM aligns its ranges to segments (at most 256 floats each).
class RowSource {
 public:
  explicit RowSource(int64_t segment) : segment_(segment) {}
  virtual ~RowSource() = default;
  virtual void rows(int64_t r0, int64_t count, int64_t p0, int64_t len, float* scratch,
                    const float** out) const = 0;
  int64_t segment() const { return segment_; }

 private:
  int64_t segment_;
};

// C = op(A) · op(B) with the contract of sgemm, op(A)'s rows (the rows of C) read from a source.
void sgemm_a_rows(const RowSource& a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* b,
                  int64_t ldb, float* c, int64_t ldc, bool accumulate, const float* bias,
                  GtActivation activation = GT_ACTIVATION_NONE);
// C = Sᵀ · B (+ C when accumulate), where S (k × m) is a matrix whose rows a source gives (each depth
// step is one of S's rows; row ranges ask for columns of S).
void sgemm_source_t(const RowSource& s, int64_t m, int64_t n, int64_t k, const float* b, int64_t ldb,
                    float* c, int64_t ldc, bool accumulate);

// Plain triple loop with the same contract, kept beside the fast one to test it against.
void sgemm_reference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a,
                     int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate,
                     const float* bias, GtActivation activation = GT_ACTIVATION_NONE);

// Test hook: the next `count` packing-buffer allocations throw std::bad_alloc, as when memory runs out
// (they happen inside the GEMM's parallel region); returns the count still pending before.
int64_t fail_gemm_scratch_allocations(int64_t count);

}  // namespace gt::cpu
