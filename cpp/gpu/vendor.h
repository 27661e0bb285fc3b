// The one header that includes a GPU vendor's runtime. Kernels are written in CUDA C++; under hipcc the
// few runtime names we use are mapped to HIP's, so cpp/gpu/*.cu compile unchanged for AMD GPUs.
// A kernel launch is written GT_LAUNCH(kernel, grid, block, stream)(arguments...), which is
// kernel<<<grid, block, 0, stream>>>(arguments...) under nvcc and hipcc, and a call into the CPU
// emulator (gpu/emulator.h) when the same sources are compiled as plain C++ to test the kernels
// on a machine without a GPU.
#pragma once

#if defined(GT_GPU_EMULATION)
#include "gpu/emulator.h"

#define GT_GPU_BACKEND "cuda"
#define GT_LAUNCH(kernel, grid, block, stream) \
  ::gt::emu::launcher(dim3(grid), dim3(block), stream, [](auto... gt_args_) { kernel(gt_args_...); })

#elif defined(__HIPCC__) || defined(__HIP__)
#include <hip/hip_runtime.h>

#define GT_GPU_BACKEND "hip"
#define cudaDevAttrMultiProcessorCount hipDeviceAttributeMultiprocessorCount
#define cudaDevAttrWarpSize hipDeviceAttributeWarpSize
#define cudaDeviceGetAttribute hipDeviceGetAttribute
#define cudaDeviceProp hipDeviceProp_t
#define cudaDeviceSynchronize hipDeviceSynchronize
#define cudaDriverGetVersion hipDriverGetVersion
#define cudaError_t hipError_t
#define cudaErrorInsufficientDriver hipErrorInsufficientDriver
#define cudaErrorMemoryAllocation hipErrorOutOfMemory
#define cudaErrorNoDevice hipErrorNoDevice
#define cudaErrorNotReady hipErrorNotReady
#define cudaErrorStreamCaptureUnsupported hipErrorStreamCaptureUnsupported
#define cudaEventCreateWithFlags hipEventCreateWithFlags
#define cudaEventDestroy hipEventDestroy
#define cudaEventDisableTiming hipEventDisableTiming
#define cudaEventQuery hipEventQuery
#define cudaEventRecord hipEventRecord
#define cudaEventSynchronize hipEventSynchronize
#define cudaEvent_t hipEvent_t
#define cudaFree hipFree
#define cudaFreeHost hipHostFree
#define cudaGetDeviceCount hipGetDeviceCount
#define cudaGraphDestroy hipGraphDestroy
#define cudaGraphExecDestroy hipGraphExecDestroy
#define cudaGraphExec_t hipGraphExec_t
#define cudaGraphInstantiateWithFlags hipGraphInstantiateWithFlags
#define cudaGraphLaunch hipGraphLaunch
#define cudaGraph_t hipGraph_t
#define cudaGetDeviceProperties hipGetDeviceProperties
#define cudaGetErrorName hipGetErrorName
#define cudaGetErrorString hipGetErrorString
#define cudaGetLastError hipGetLastError
#define cudaHostAlloc hipHostMalloc
#define cudaHostAllocPortable hipHostMallocPortable
#define cudaMalloc hipMalloc
#define cudaMemGetInfo hipMemGetInfo
#define cudaMemcpy hipMemcpy
#define cudaMemcpyAsync hipMemcpyAsync
#define cudaMemcpyPeer hipMemcpyPeer
#define cudaMemset hipMemset
#define cudaMemsetAsync hipMemsetAsync
#define cudaMemcpyDeviceToDevice hipMemcpyDeviceToDevice
#define cudaMemcpyDeviceToHost hipMemcpyDeviceToHost
#define cudaMemcpyHostToDevice hipMemcpyHostToDevice
#define cudaRuntimeGetVersion hipRuntimeGetVersion
#define cudaSetDevice hipSetDevice
#define cudaStreamBeginCapture hipStreamBeginCapture
#define cudaStreamCaptureModeThreadLocal hipStreamCaptureModeThreadLocal
#define cudaStreamCreateWithFlags hipStreamCreateWithFlags
#define cudaStreamDestroy hipStreamDestroy
#define cudaStreamEndCapture hipStreamEndCapture
#define cudaStreamNonBlocking hipStreamNonBlocking
#define cudaStreamWaitEvent hipStreamWaitEvent
#define cudaStream_t hipStream_t
#define cudaSuccess hipSuccess

// Lane exchange across `width` lanes (a power of two up to the wavefront size). HIP's shuffles take no
// mask: every lane of the wavefront (32 or 64 wide) takes part.
__device__ inline float gt_shfl_xor(float value, int lane_mask, int width) {
  return __shfl_xor(value, lane_mask, width);
}
#define GT_LAUNCH(kernel, grid, block, stream) kernel<<<grid, block, 0, stream>>>

#else
#include <cuda_runtime.h>

#define GT_GPU_BACKEND "cuda"

// Lane exchange across `width` lanes; callers keep whole warps converged, so the full mask holds.
__device__ inline float gt_shfl_xor(float value, int lane_mask, int width) {
  return __shfl_xor_sync(0xffffffffu, value, lane_mask, width);
}
#define GT_LAUNCH(kernel, grid, block, stream) kernel<<<grid, block, 0, stream>>>
#endif
