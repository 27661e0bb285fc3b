// The runtime half of the backend table (devices, memory, copies) and error recording. Shared by CUDA
// and HIP through gpu/vendor.h; the kernels' entries are defined beside their kernels.
#include <cstddef>
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
    sgemm_workspace,
    sgemm_f32,
    column_sums_f32,
    conv2d_forward_f32,
    conv2d_backward_data_f32,
    conv2d_backward_filter_workspace,
    conv2d_backward_filter_f32,
    pool2d_forward_f32,
    max_pool2d_backward_f32,
    avg_pool2d_backward_f32,
    global_avg_pool2d_forward_f32,
    global_avg_pool2d_backward_f32,
    activation_forward_f32,
    activation_backward_f32,
    softmax_forward_f32,
    softmax_backward_f32,
    dropout_forward_f32,
    dropout_backward_f32,
    softmax_cross_entropy_f32,
    binary_cross_entropy_f32,
    batch_norm_statistics_f32,
    batch_norm_forward_f32,
    batch_norm_update_moving_f32,
    batch_norm_backward_f32,
    sgd_update_f32,
    adam_update_f32,
    rmsprop_update_f32,
    cast_u8_f32,
    count_argmax_hits_f32,
    count_threshold_hits_f32,
};
// Every entry above is set: a table entry left null by a missing initializer would crash on first use.
static_assert(sizeof(GtBackendTable) == offsetof(GtBackendTable, count_threshold_hits_f32) + sizeof(void*),
              "the table initializer must end with the struct's last entry");
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
