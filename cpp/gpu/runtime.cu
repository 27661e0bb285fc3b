// The runtime half of the backend table (devices, memory, copies, events) and error recording, and the
// table itself, filled by name from core/op_list.h. Shared by CUDA and HIP through gpu/vendor.h; the
// kernels' entries are defined beside their kernels.
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "gpu/check.h"
#include "gpu/kernels.h"

namespace gt::gpu {
namespace {
thread_local char last_message[512] = "no error";
}  // namespace

const char* last_error(void) { return last_message; }

int runtime_version(int* version) {
  GT_GPU_CHECK(cudaRuntimeGetVersion(version));
  return GT_OK;
}

int driver_version(int* version) {
  GT_GPU_CHECK(cudaDriverGetVersion(version));
  return GT_OK;
}

int device_count(int* count) {
  *count = 0;
  GT_GPU_CHECK(cudaGetDeviceCount(count));
  return GT_OK;
}

int device_name(int device, char* name, size_t capacity) {
  cudaDeviceProp prop;
  GT_GPU_CHECK(cudaGetDeviceProperties(&prop, device));
  std::snprintf(name, capacity, "%s", prop.name);
  return GT_OK;
}

int mem_info(int device, size_t* free_bytes, size_t* total_bytes) {
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_GPU_CHECK(cudaMemGetInfo(free_bytes, total_bytes));
  return GT_OK;
}

int allocate(int device, size_t nbytes, void** ptr) {
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_GPU_CHECK(cudaMalloc(ptr, nbytes));
  return GT_OK;
}

int release(int device, void* ptr) {
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_GPU_CHECK(cudaFree(ptr));
  return GT_OK;
}

int copy_to_device(int device, void* dst, const void* src, size_t nbytes) {
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_GPU_CHECK(cudaMemcpy(dst, src, nbytes, cudaMemcpyHostToDevice));
  return GT_OK;
}

int copy_to_host(int device, void* dst, const void* src, size_t nbytes) {
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_GPU_CHECK(cudaMemcpy(dst, src, nbytes, cudaMemcpyDeviceToHost));
  return GT_OK;
}

int copy_device_to_device(int dst_device, void* dst, int src_device, const void* src, size_t nbytes) {
  if (dst_device == src_device) {
    GT_GPU_CHECK(cudaSetDevice(dst_device));
    GT_GPU_CHECK(cudaMemcpy(dst, src, nbytes, cudaMemcpyDeviceToDevice));
  } else {
    GT_GPU_CHECK(cudaMemcpyPeer(dst, dst_device, src, src_device, nbytes));
  }
  return GT_OK;
}

int fill_zero(int device, void* ptr, size_t nbytes, void* stream) {
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_GPU_CHECK(cudaMemsetAsync(ptr, 0, nbytes, static_cast<cudaStream_t>(stream)));
  return GT_OK;
}

int copy_device_async(int device, void* dst, const void* src, size_t nbytes, void* stream) {
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_GPU_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToDevice, static_cast<cudaStream_t>(stream)));
  return GT_OK;
}

int synchronize(int device) {
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_GPU_CHECK(cudaDeviceSynchronize());
  return GT_OK;
}

// ---- pinned host memory, events, the copy stream ----

namespace {
constexpr int kMaxDevices = 64;

// The device's copy stream, created on first use and kept for the life of the process (destroying it
// at exit could run after the driver has shut down). Non-blocking: the legacy default stream, on which
// the kernels run, neither waits for it nor makes it wait, so a copy can overlap a running step.
int copy_stream(int device, cudaStream_t* stream) {
  static std::mutex mutex;
  static cudaStream_t streams[kMaxDevices] = {};
  GT_GPU_REQUIRE(device >= 0 && device < kMaxDevices, "copy stream: device index out of range");
  std::lock_guard<std::mutex> lock(mutex);
  if (streams[device] == nullptr) {
    GT_GPU_CHECK(cudaSetDevice(device));
    GT_GPU_CHECK(cudaStreamCreateWithFlags(&streams[device], cudaStreamNonBlocking));
  }
  *stream = streams[device];
  return GT_OK;
}

int stream_of(int device, int stream_kind, cudaStream_t* stream) {
  if (stream_kind == GT_STREAM_COMPUTE) {
    *stream = nullptr;  // the legacy default stream: where every launcher's null `stream` puts kernels
    return GT_OK;
  }
  GT_GPU_REQUIRE(stream_kind == GT_STREAM_COPY, "unknown stream kind");
  return copy_stream(device, stream);
}
}  // namespace

int host_alloc_pinned(int device, size_t nbytes, void** ptr) {
  GT_GPU_CHECK(cudaSetDevice(device));
  // Portable: pinned for every device's context, not only the current one.
  GT_GPU_CHECK(cudaHostAlloc(ptr, nbytes, cudaHostAllocPortable));
  return GT_OK;
}

int host_free_pinned(int device, void* ptr) {
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_GPU_CHECK(cudaFreeHost(ptr));
  return GT_OK;
}

int event_create(int device, void** event) {
  GT_GPU_CHECK(cudaSetDevice(device));
  cudaEvent_t e = nullptr;
  GT_GPU_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));  // ordering only: cheaper
  *event = e;
  return GT_OK;
}

int event_destroy(int device, void* event) {
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_GPU_CHECK(cudaEventDestroy(static_cast<cudaEvent_t>(event)));
  return GT_OK;
}

int event_record(int device, void* event, int stream_kind) {
  cudaStream_t stream = nullptr;
  if (const int status = stream_of(device, stream_kind, &stream); status != GT_OK) return status;
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_GPU_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(event), stream));
  return GT_OK;
}

int stream_wait_event(int device, int stream_kind, void* event) {
  cudaStream_t stream = nullptr;
  if (const int status = stream_of(device, stream_kind, &stream); status != GT_OK) return status;
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_GPU_CHECK(cudaStreamWaitEvent(stream, static_cast<cudaEvent_t>(event), 0));
  return GT_OK;
}

int event_synchronize(int device, void* event) {
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_GPU_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(event)));
  return GT_OK;
}

int event_query(int device, void* event, int* done) {
  GT_GPU_CHECK(cudaSetDevice(device));
  const cudaError_t err = cudaEventQuery(static_cast<cudaEvent_t>(event));
  if (err == cudaErrorNotReady) {
    (void)cudaGetLastError();  // "not ready" is an answer, not an error: keep it from the next check
    *done = 0;
    return GT_OK;
  }
  GT_GPU_CHECK(err);
  *done = 1;
  return GT_OK;
}

int copy_to_device_async(int device, void* dst, const void* src, size_t nbytes) {
  cudaStream_t stream = nullptr;
  if (const int status = copy_stream(device, &stream); status != GT_OK) return status;
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_GPU_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, stream));
  return GT_OK;
}

namespace {
// Filled by name from the list: an entry can be neither left out nor put in another entry's place.
GtBackendTable make_table() {
  GtBackendTable t = gt_backend_table_header(GT_GPU_BACKEND);
#define GT_OP(Ret, Name, Params) t.Name = &::gt::gpu::Name;
#include "core/op_list.h"
  return t;
}
const GtBackendTable table = make_table();
}  // namespace

int fail(cudaError_t err, const char* call, const char* file, int line) {
  const char* base = std::strrchr(file, '/');
  // The call's text was stringised before vendor.h renamed it: under hipcc, name HIP's function.
  const bool hip_name = std::strcmp(GT_GPU_BACKEND, "hip") == 0 && std::strncmp(call, "cuda", 4) == 0;
  std::snprintf(last_message, sizeof last_message, "%s:%d: %s%s: %s (%s)", base ? base + 1 : file, line,
                hip_name ? "hip" : "", hip_name ? call + 4 : call, cudaGetErrorName(err), cudaGetErrorString(err));
  (void)cudaGetLastError();  // clear a non-sticky error so the next call starts clean
  if (err == cudaErrorNoDevice || err == cudaErrorInsufficientDriver) return GT_ERR_NO_DEVICE;
  if (err == cudaErrorMemoryAllocation) return GT_ERR_OUT_OF_MEMORY;
  return GT_ERR_GPU;
}

int fail_message(const char* message, const char* file, int line) {
  const char* base = std::strrchr(file, '/');
  std::snprintf(last_message, sizeof last_message, "%s:%d: %s", base ? base + 1 : file, line, message);
  return GT_ERR_GPU;
}

int device_limits(int device, DeviceLimits* limits) {
  GT_GPU_CHECK(cudaDeviceGetAttribute(&limits->sm_count, cudaDevAttrMultiProcessorCount, device));
  GT_GPU_CHECK(cudaDeviceGetAttribute(&limits->warp_size, cudaDevAttrWarpSize, device));
  return GT_OK;
}

}  // namespace gt::gpu

extern "C" const GtBackendTable* gt_gpu_backend_table() { return &gt::gpu::table; }
