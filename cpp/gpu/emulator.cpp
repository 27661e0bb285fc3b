// The CPU emulator's scheduler and runtime (see emulator.h). Compiled only into gputrain._gpuemu.
#if defined(GT_GPU_EMULATION)
#include "gpu/emulator.h"

#include <ucontext.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;
int warpSize = 32;

namespace gt::emu {
namespace {

enum class State { Ready, AtBarrier, AtShuffle, Done };

struct Fiber {
  ucontext_t context;
  std::vector<char> stack;
  State state = State::Done;
  float shuffle_value = 0.0f, shuffle_result = 0.0f;
  int shuffle_mask = 0, shuffle_width = 0;
};

constexpr size_t kStack = 256 * 1024;
std::mutex launch_mutex;  // one kernel at a time: the coordinates above are process-wide
std::vector<Fiber> fibers;
ucontext_t scheduler;
int current = 0;
void (*current_body)(void*) = nullptr;
void* current_context = nullptr;
cudaError_t last_error = cudaSuccess;
std::string failure;

void fiber_entry() {
  current_body(current_context);
  fibers[current].state = State::Done;  // uc_link returns to the scheduler
}

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

void fail(const std::string& why) {
  if (last_error == cudaSuccess) {
    last_error = cudaErrorLaunchFailure;
    failure = why;
    std::fprintf(stderr, "gputrain GPU emulator: %s\n", why.c_str());
  }
}

// Runs one block to completion: resume every ready fiber until it blocks or ends, then release warps
// whose every lane waits at a shuffle, else the barrier once every live thread waits at it.
bool run_block(int threads) {
  for (int t = 0; t < threads; ++t) {
    Fiber& f = fibers[t];
    getcontext(&f.context);
    f.context.uc_stack.ss_sp = f.stack.data();
    f.context.uc_stack.ss_size = f.stack.size();
    f.context.uc_link = &scheduler;
    makecontext(&f.context, fiber_entry, 0);
    f.state = State::Ready;
  }
  for (;;) {
    for (int t = 0; t < threads; ++t) {
      if (fibers[t].state != State::Ready) continue;
      current = t;
      threadIdx = {t % blockDim.x, (t / blockDim.x) % blockDim.y, t / (blockDim.x * blockDim.y)};
      swapcontext(&scheduler, &fibers[t].context);
    }
    bool released = false;
    for (int w0 = 0; w0 < threads; w0 += warpSize) {
      const int w1 = w0 + warpSize < threads ? w0 + warpSize : threads;
      int waiting = 0;
      for (int t = w0; t < w1; ++t) waiting += fibers[t].state == State::AtShuffle;
      if (waiting == 0) continue;
      if (waiting != w1 - w0) {
        fail("warp " + std::to_string(w0 / warpSize) + ": only some lanes reached a shuffle");
        return false;
      }
      for (int t = w0; t < w1; ++t) {
        Fiber& f = fibers[t];
        const int lane = t - w0, width = f.shuffle_width;
        if (width <= 0 || width > warpSize || (width & (width - 1)) != 0) {
          fail("shuffle width " + std::to_string(width) + " with warp size " + std::to_string(warpSize));
          return false;
        }
        const int source = (lane & ~(width - 1)) | ((lane ^ f.shuffle_mask) & (width - 1));
        f.shuffle_result = fibers[w0 + source].shuffle_value;
      }
      for (int t = w0; t < w1; ++t) fibers[t].state = State::Ready;
      released = true;
    }
    if (released) continue;
    int at_barrier = 0, done = 0;
    for (int t = 0; t < threads; ++t) {
      at_barrier += fibers[t].state == State::AtBarrier;
      done += fibers[t].state == State::Done;
    }
    if (done == threads) return true;
    if (at_barrier > 0 && at_barrier + done == threads) {
      if (done > 0) {  // a barrier some threads never reach: undefined behaviour on a GPU
        fail("__syncthreads reached by " + std::to_string(at_barrier) + " of " + std::to_string(threads) +
             " threads");
        return false;
      }
      for (int t = 0; t < threads; ++t) fibers[t].state = State::Ready;
      continue;
    }
    fail("deadlock: threads wait at different synchronisation points");
    return false;
  }
}

}  // namespace

void run_grid(dim3 grid, dim3 block, void (*body)(void*), void* context) {
  std::lock_guard<std::mutex> lock(launch_mutex);
  warpSize = env_int("GT_EMU_WARP_SIZE", 32);
  const int threads = static_cast<int>(block.x * block.y * block.z);
  if (threads <= 0 || threads > 1024 || grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 ||
      grid.z > 65535) {
    fail("invalid launch configuration");
    return;
  }
  if (static_cast<int>(fibers.size()) < threads) {
    fibers.resize(threads);
    for (auto& f : fibers)
      if (f.stack.empty()) f.stack.resize(kStack);
  }
  gridDim = grid;
  blockDim = block;
  current_body = body;
  current_context = context;
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        blockIdx = {x, y, z};
        if (!run_block(threads)) return;
      }
}

void record_failure(const char* why) { fail(why); }

void check_aligned(const void* p, int bytes) {
  if (reinterpret_cast<uintptr_t>(p) % static_cast<uintptr_t>(bytes) != 0)
    fail("misaligned " + std::to_string(bytes) + "-byte access");
}

void sync_threads() {
  fibers[current].state = State::AtBarrier;
  swapcontext(&fibers[current].context, &scheduler);
}

float shuffle_xor(float value, int lane_mask, int width) {
  Fiber& f = fibers[current];
  f.state = State::AtShuffle;
  f.shuffle_value = value;
  f.shuffle_mask = lane_mask;
  f.shuffle_width = width;
  swapcontext(&f.context, &scheduler);
  return fibers[current].shuffle_result;
}

}  // namespace gt::emu

// ---- runtime: host memory stands in for device memory ----

cudaError_t cudaGetLastError() {
  const cudaError_t e = gt::emu::last_error;
  gt::emu::last_error = cudaSuccess;
  return e;
}
cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : cudaErrorInvalidValue; }
cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int) {
  std::snprintf(prop->name, sizeof prop->name, "gputrain GPU emulator (warp %d)",
                gt::emu::env_int("GT_EMU_WARP_SIZE", 32));
  return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int) {
  *value = attr == cudaDevAttrWarpSize ? gt::emu::env_int("GT_EMU_WARP_SIZE", 32)
                                       : gt::emu::env_int("GT_EMU_SM_COUNT", 8);
  return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int* version) {
  *version = 0;
  return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int* version) {
  *version = 0;
  return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  *free_bytes = size_t(4) << 30;
  *total_bytes = size_t(8) << 30;
  return cudaSuccess;
}
cudaError_t cudaMalloc(void** ptr, size_t nbytes) {
  gt::emu::report_outside_capture("cudaMalloc");  // a GPU refuses allocations during a thread-local capture
  *ptr = std::aligned_alloc(256, (nbytes + 255) / 256 * 256 + 256);
  return *ptr ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFree(void* ptr) {
  std::free(ptr);
  return cudaSuccess;
}
cudaError_t cudaMemcpy(void* dst, const void* src, size_t nbytes, cudaMemcpyKind) {
  gt::emu::report_outside_capture("cudaMemcpy");
  std::memmove(dst, src, nbytes);
  return cudaSuccess;
}
cudaError_t cudaMemcpyPeer(void* dst, int, const void* src, int, size_t nbytes) {
  std::memmove(dst, src, nbytes);
  return cudaSuccess;
}
cudaError_t cudaMemset(void* ptr, int value, size_t nbytes) {
  gt::emu::report_outside_capture("cudaMemset");
  std::memset(ptr, value, nbytes);
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize() {
  return gt::emu::run_all_streams() ? cudaSuccess : cudaErrorLaunchFailure;
}
const char* cudaGetErrorName(cudaError_t err) {
  switch (err) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case cudaErrorNotSupported: return "cudaErrorNotSupported";
    case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
    default: return "cudaError";
  }
}
const char* cudaGetErrorString(cudaError_t err) {
  // The emulator's own refusals say why in the failure they recorded.
  const bool explained = err == cudaErrorLaunchFailure || err == cudaErrorNotSupported ||
                         err == cudaErrorStreamCaptureUnsupported;
  return explained && !gt::emu::failure.empty() ? gt::emu::failure.c_str() : "emulated error";
}
#endif  // GT_GPU_EMULATION
