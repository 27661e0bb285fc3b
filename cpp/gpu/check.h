// Checked runtime calls for the backend table: a failing call records "file:line: call: error" for the
// calling thread and returns the matching GtStatus from the enclosing function.
#pragma once
#include "core/backend_table.h"
#include "gpu/vendor.h"

namespace gt::gpu {

// Records the failure, clears the runtime's last error, and maps it to a GtStatus.
int fail(cudaError_t err, const char* call, const char* file, int line);
// Records a launcher's own refusal (a size past a launch limit) and returns GT_ERR_GPU.
int fail_message(const char* message, const char* file, int line);

}  // namespace gt::gpu

#define GT_GPU_CHECK(call)                                                   \
  do {                                                                       \
    const cudaError_t gt_err_ = (call);                                      \
    if (gt_err_ != cudaSuccess) return ::gt::gpu::fail(gt_err_, #call, __FILE__, __LINE__); \
  } while (0)

// After every kernel launch: launch-configuration errors surface here, not at the next sync.
#define GT_GPU_CHECK_LAUNCH(kernel_name) GT_GPU_CHECK(cudaGetLastError())

// A launcher's precondition (dispatch has checked the arguments; this guards hardware limits).
#define GT_GPU_REQUIRE(condition, message)                                                   \
  do {                                                                                       \
    if (!(condition)) return ::gt::gpu::fail_message(message, __FILE__, __LINE__);           \
  } while (0)
