// The runtime half of the backend table (devices, memory, copies) and error recording. Shared by CUDA
// and HIP through gpu/vendor.h; the kernels' entries are defined beside their kernels.
#include <cstdio>
#include <cstring>

#include "gpu/check.h"
#include "gpu/kernels.h"

namespace gt::gpu {
namespace {
thread_local char last_message[512] = "no error";

const char* last_error() { return last_message; }

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

int fill_zero(int device, void* ptr, size_t nbytes) {
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_GPU_CHECK(cudaMemset(ptr, 0, nbytes));
  return GT_OK;
}

int synchronize(int device) {
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_GPU_CHECK(cudaDeviceSynchronize());
  return GT_OK;
}

const GtBackendTable table = {
    GT_BACKEND_ABI_VERSION,
    sizeof(GtBackendTable),
    GT_GPU_BACKEND,
    last_error,
    runtime_version,
    driver_version,
    device_count,
    device_name,
    mem_info,
    allocate,
    release,
    copy_to_device,
    copy_to_host,
    copy_device_to_device,
    fill_zero,
    synchronize,
    add_f32,
};
}  // namespace

int fail(cudaError_t err, const char* call, const char* file, int line) {
  const char* base = std::strrchr(file, '/');
  std::snprintf(last_message, sizeof last_message, "%s:%d: %s: %s (%s)", base ? base + 1 : file, line,
                call, cudaGetErrorName(err), cudaGetErrorString(err));
  (void)cudaGetLastError();  // clear a non-sticky error so the next call starts clean
  if (err == cudaErrorNoDevice || err == cudaErrorInsufficientDriver) return GT_ERR_NO_DEVICE;
  if (err == cudaErrorMemoryAllocation) return GT_ERR_OUT_OF_MEMORY;
  return GT_ERR_GPU;
}

}  // namespace gt::gpu

extern "C" const GtBackendTable* gt_gpu_backend_table() { return &gt::gpu::table; }
