// GT_HOST_DEVICE marks the small inline functions that the CPU kernels and the GPU kernels (CUDA, HIP, or
// the emulator's plain C++) share, so that both backends compute them from one definition.
#pragma once

#if defined(__CUDACC__) || defined(__HIPCC__) || defined(__HIP__)
#define GT_HOST_DEVICE __host__ __device__
#else
#define GT_HOST_DEVICE
#endif
