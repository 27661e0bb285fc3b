// Shared by the kernel files: grid sizing for grid-stride loops, and block reductions that work for any
// warp width (warpSize is 32 on NVIDIA and RDNA, 64 on CDNA): shuffles name their width explicitly and
// the per-warp partials go through shared memory sized for the smallest warp.
#pragma once
#include <cstdint>

#include "core/activations.h"
#include "core/nan_rules.h"
#include "core/op_params.h"
#include "gpu/vendor.h"

namespace gt::gpu {

constexpr int kThreads = 256;  // a multiple of every warp width

// Blocks for a grid-stride loop over n items: enough to fill any device, capped so that huge n
// reuse threads instead of exceeding grid limits.
inline unsigned grid_for(int64_t n, int threads = kThreads) {
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > (1 << 20) ? (1 << 20) : blocks));
}

// The fused epilogue of dense and conv2d is gt::activate (core/activations.h): the same formulas as
// the CPU's, chosen by a switch on the kind, which is uniform across the launch.
using ::gt::activate;

// 16-byte loads and stores of four 4-byte values (float4, int4); p must be 16-byte aligned (the
// emulator checks it, a GPU would fault).
template <class Vec, class T>
__device__ inline Vec load16(const T* p) {
  static_assert(sizeof(Vec) == 16 && sizeof(T) == 4, "four 4-byte values");
#if defined(GT_GPU_EMULATION)
  ::gt::emu::check_aligned(p, 16);
#endif
  return *reinterpret_cast<const Vec*>(p);
}
template <class Vec, class T>
__device__ inline void store16(T* p, Vec v) {
  static_assert(sizeof(Vec) == 16 && sizeof(T) == 4, "four 4-byte values");
#if defined(GT_GPU_EMULATION)
  ::gt::emu::check_aligned(p, 16);
#endif
  *reinterpret_cast<Vec*>(p) = v;
}
__device__ inline float4 load_float4(const float* p) { return load16<float4>(p); }
__device__ inline void store_float4(float* p, float4 v) { store16(p, v); }
__host__ __device__ inline bool aligned_16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

struct SumOp {
  __device__ float operator()(float a, float b) const { return a + b; }
};
struct MaxOp {
  __device__ float operator()(float a, float b) const { return a > b ? a : b; }
};

template <class Op>
__device__ inline float warp_reduce(float v, Op op) {
  for (int offset = warpSize / 2; offset > 0; offset >>= 1) v = op(v, gt_shfl_xor(v, offset, warpSize));
  return v;
}

// Every thread of the block gets op over all threads' v. blockDim.x must be a multiple of warpSize
// (whole warps take part in the shuffles) and at most 1024. Contains __syncthreads: call it from all
// threads of the block.
template <class Op>
__device__ inline float block_reduce(float v, Op op, float identity) {
  __shared__ float partial[32];  // 1024 threads / a 32-wide warp at most
  const int lane = static_cast<int>(threadIdx.x) % warpSize, warp = static_cast<int>(threadIdx.x) / warpSize;
  const int warps = static_cast<int>(blockDim.x) / warpSize;
  v = warp_reduce(v, op);
  __syncthreads();  // a previous call may still be reading `partial`
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < warps ? partial[lane] : identity;
    v = warp_reduce(v, op);
    if (lane == 0) partial[0] = v;
  }
  __syncthreads();
  return partial[0];
}

}  // namespace gt::gpu
