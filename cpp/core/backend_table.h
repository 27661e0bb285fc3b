// The C ABI through which a GPU module (_cuda, _hip) hands its runtime and kernels to _core.
// Plain C types only: the modules may be built by different compilers (g++ and nvcc's host compiler,
// or hipcc's clang), so no C++ object or exception crosses this line. Every entry returns a GtStatus;
// on failure the module's last_error() holds a message for the calling thread.
#pragma once
#include <stddef.h>
#include <stdint.h>

extern "C" {

enum GtStatus {
  GT_OK = 0,
  GT_ERR_NO_DEVICE = 1,      // no usable device or driver: nothing can run on this backend
  GT_ERR_OUT_OF_MEMORY = 2,  // an allocation failed for lack of device memory
  GT_ERR_GPU = 3,            // any other runtime or launch error
};

// Bump when a field is added, removed or changes meaning; _core refuses a table of another version.
#define GT_BACKEND_ABI_VERSION 1
#define GT_BACKEND_CAPSULE_NAME "gputrain.backend_table"

struct GtBackendTable {
  uint32_t abi_version;
  uint32_t struct_size;
  const char* name;  // "cuda" or "hip"

  const char* (*last_error)(void);
  int (*runtime_version)(int* version);
  int (*driver_version)(int* version);
  int (*device_count)(int* count);
  int (*device_name)(int device, char* name, size_t capacity);
  int (*mem_info)(int device, size_t* free_bytes, size_t* total_bytes);

  int (*allocate)(int device, size_t nbytes, void** ptr);
  int (*release)(int device, void* ptr);
  int (*copy_to_device)(int device, void* dst, const void* src, size_t nbytes);
  int (*copy_to_host)(int device, void* dst, const void* src, size_t nbytes);
  int (*copy_device_to_device)(int dst_device, void* dst, int src_device, const void* src, size_t nbytes);
  int (*fill_zero)(int device, void* ptr, size_t nbytes);
  int (*synchronize)(int device);

  // Kernels. Pointers are device pointers on `device`; `stream` is the vendor's stream (null: default).
  int (*add_f32)(int device, const float* a, const float* b, float* out, int64_t n, void* stream);
};

}  // extern "C"
