// A CPU emulator of the small part of CUDA that cpp/gpu uses, so the GPU kernels can run, unchanged,
// on a machine without a GPU (a development and CI tool: building with GPUTRAIN_GPU_EMULATOR=ON makes
// the module gputrain._gpuemu; tests run with GPUTRAIN_TEST_GPU_EMULATOR=1 register it as the "cuda"
// backend). Each block runs its threads as fibers on one OS thread; __syncthreads and warp shuffles are
// scheduling points, so barriers, shared memory and warp exchanges of any width (GT_EMU_WARP_SIZE,
// default 32) behave as on a GPU, blocks one after another (GT_EMU_SM_COUNT sets the multiprocessor
// count the launchers plan for, default 8). It checks indices, tiling and synchronisation, not speed,
// and not what only hardware shows (memory-model races across blocks, alignment faults, timing).
// Streams: the legacy default stream runs everything at once; a created stream (the copy stream) queues
// its asynchronous copies and runs them as late as a program could observe (emulator_streams.cpp), so a
// missing event wait shows up as stale data, as it can on a GPU. A stream being captured records its
// launches, copies and fills into a graph that runs them, in order, each time it is launched; work a
// capturing thread sends elsewhere meanwhile is reported, since a GPU would run it at once and never
// replay it.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>

#define __global__
#define __device__
#define __host__
#define __shared__ static  // blocks run one at a time, so one instance per kernel is the block's
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))

struct dim3 {
  unsigned x, y, z;
  dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct uint3 {
  unsigned x, y, z;
};
struct float4 {
  float x, y, z, w;
};
inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }
struct int4 {
  int x, y, z, w;
};

// The running fiber's coordinates (the emulator is single-threaded while a kernel runs).
extern uint3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;
extern int warpSize;

inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }

// ---- the runtime API subset ----
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidValue = 1,
  cudaErrorInsufficientDriver = 35,
  cudaErrorNoDevice = 100,
  cudaErrorNotReady = 600,
  cudaErrorLaunchFailure = 719,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorNotSupported = 801,
};
enum cudaMemcpyKind {
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
};
enum cudaDeviceAttr { cudaDevAttrWarpSize = 10, cudaDevAttrMultiProcessorCount = 16 };
struct cudaDeviceProp {
  char name[256];
};
using cudaStream_t = void*;
using cudaEvent_t = void*;
using cudaGraph_t = void*;
using cudaGraphExec_t = void*;
enum cudaStreamCaptureMode { cudaStreamCaptureModeGlobal = 0, cudaStreamCaptureModeThreadLocal = 1 };
constexpr unsigned cudaHostAllocPortable = 1;
constexpr unsigned cudaEventDisableTiming = 2;
constexpr unsigned cudaStreamNonBlocking = 1;

cudaError_t cudaGetLastError();
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device);
cudaError_t cudaRuntimeGetVersion(int* version);
cudaError_t cudaDriverGetVersion(int* version);
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes);
cudaError_t cudaMalloc(void** ptr, size_t nbytes);
cudaError_t cudaFree(void* ptr);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t nbytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyPeer(void* dst, int dst_device, const void* src, int src_device, size_t nbytes);
cudaError_t cudaMemset(void* ptr, int value, size_t nbytes);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaHostAlloc(void** ptr, size_t nbytes, unsigned flags);
cudaError_t cudaFreeHost(void* ptr);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t nbytes, cudaMemcpyKind kind,
                            cudaStream_t stream);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream);
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned flags);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventQuery(cudaEvent_t event);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaMemsetAsync(void* ptr, int value, size_t nbytes, cudaStream_t stream);
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph);
cudaError_t cudaGraphInstantiateWithFlags(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long flags);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);
cudaError_t cudaGraphDestroy(cudaGraph_t graph);
const char* cudaGetErrorName(cudaError_t err);
const char* cudaGetErrorString(cudaError_t err);

namespace gt::emu {

// Runs body() once per thread of every block of the grid; returns after the last block.
void run_grid(dim3 grid, dim3 block, void (*body)(void*), void* context);
void sync_threads();
// Records a launch failure when p is not aligned to `bytes` (a GPU faults on a misaligned vector access).
void check_aligned(const void* p, int bytes);
float shuffle_xor(float value, int lane_mask, int width);
// Records a failure that the next cudaGetLastError returns (and cudaGetErrorString explains).
void record_failure(const char* why);
// Runs every queued asynchronous copy (device synchronisation; emulator_streams.cpp); false when one
// failed a check.
bool run_all_streams();
// Work for `stream`: recorded into its graph when it is being captured (true), else to be run now by
// the caller (false; reported when the calling thread is capturing another stream meanwhile).
bool capture(cudaStream_t stream, std::function<void()> work);
// Reports `what` when the calling thread is capturing a graph (it would escape the capture).
void report_outside_capture(const char* what);
// Counts since the process started, for tests: kernels run outside graphs, graphs launched.
struct Counters {
  uint64_t kernel_launches = 0, graph_launches = 0;
};
Counters counters();
void count_kernel_launch();

template <class F>
struct Launcher {
  dim3 grid, block;
  cudaStream_t stream;
  F kernel;
  template <class... Args>
  void operator()(Args... args) {
    const dim3 g = grid, b = block;
    const F k = kernel;
    auto run = [g, b, k, args...]() {
      auto call = [&]() { k(args...); };
      run_grid(g, b, [](void* c) { (*static_cast<decltype(call)*>(c))(); }, &call);
    };
    if (capture(stream, run)) return;
    count_kernel_launch();
    run();
  }
};

template <class F>
Launcher<F> launcher(dim3 grid, dim3 block, cudaStream_t stream, F kernel) {
  return Launcher<F>{grid, block, stream, kernel};
}

}  // namespace gt::emu

inline void __syncthreads() { ::gt::emu::sync_threads(); }

inline float gt_shfl_xor(float value, int lane_mask, int width) {
  return ::gt::emu::shuffle_xor(value, lane_mask, width);
}
