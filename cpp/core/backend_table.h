// The C ABI through which every backend (the CPU inside _core, and _cuda, _hip) hands its runtime and
// kernels to dispatch. Plain C types only: the GPU modules may be built by different compilers (g++ and
// nvcc's host compiler, or hipcc's clang), so no C++ object or exception crosses this line. Every entry
// but last_error returns a GtStatus; on failure last_error() holds a message for the calling thread.
// The entries are listed once, in core/op_list.h; the struct below and every backend's filling of it
// are generated from that list, by name.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/op_params.h"

extern "C" {

enum GtStatus {
  GT_OK = 0,
  GT_ERR_NO_DEVICE = 1,      // no usable device or driver: nothing can run on this backend
  GT_ERR_OUT_OF_MEMORY = 2,  // an allocation failed for lack of memory
  GT_ERR_GPU = 3,            // any other runtime, launch or kernel error (the CPU's too)
};

// Bump when an entry is added, removed or changes meaning (core/op_list.h, or the meaning of a
// GtActivation value); _core refuses a table of another version.
// 6: the entries generated from op_list.h (grouped by family), the CPU as a backend, and the
//    workspace sizes of column sums, the losses and batch norm asked of the backend.
// 7: depthwise convolution (GtDepthwise2d and its four entries).
// 8: the strided copy (GtStridedCopy).
// 9: element-wise binary ops (GtBinaryOp) and the gradient of an element-wise maximum or minimum.
// 10: bias_activation_f32 (a bias and activation after a kernel that cannot fuse them).
// 11: GtWindow2d carries dilation_h, dilation_w (dilated conv2d; 1 for pooling).
// 12: GtWindow2d carries groups (grouped conv2d; 1 for pooling); weight_penalty_f32 (regularizers);
//    point_loss_f32 (element-wise losses and metrics); permute_f32 over a GtStridedView, prelu_forward_f32
//    and prelu_backward_f32, resize_bilinear2d_forward_f32 and _backward_f32 (GtResize2d);
//    log_softmax_forward_f32 and _backward_f32; softmax_cross_entropy_f32 takes class weights,
//    ignore_index and a reduction; GtWindow2d carries count_include_pad.
// 13: optimizer_update_f32 (every optimizer with Keras's weight decay and clipping, GtOptimizerParams);
//    GtStepScalars carries the optimizers' per-step factors.
#define GT_BACKEND_ABI_VERSION 13
#define GT_BACKEND_CAPSULE_NAME "gputrain.backend_table"

// Which of a device's two streams an event or a wait applies to. Kernels and synchronous copies run on
// the compute stream (the legacy default stream, the `stream` argument null; a training step replayed as
// a graph is launched there too, see graph_launch); asynchronous host-to-device
// copies run on the copy stream, created non-blocking so that it does not serialise with the compute
// stream (a blocking stream would, and no copy would overlap a kernel). Work on the two is ordered only
// through events: event_record on one, stream_wait_event on the other. The CPU has neither: its work is
// done when an entry returns, so its events are always complete.
enum GtStreamKind {
  GT_STREAM_COMPUTE = 0,
  GT_STREAM_COPY = 1,
};

struct GtBackendTable {
  uint32_t abi_version;  // GT_BACKEND_ABI_VERSION
  uint32_t struct_size;  // sizeof(GtBackendTable)
  const char* name;      // "cpu", "cuda" or "hip"

#define GT_OP(Ret, Name, Params) Ret(*Name) Params;
#include "core/op_list.h"
};

}  // extern "C"

// A backend fills its table with the functions of the entries' own names, generated from the list so
// that an entry can be neither missed nor filled in the wrong place:
//
//   GtBackendTable t = gt_backend_table_header("cpu");
//   #define GT_OP(Ret, Name, Params) t.Name = &::gt::cpu_backend::Name;
//   #include "core/op_list.h"
//
// A function of the wrong signature does not convert to its field and fails to compile.
inline GtBackendTable gt_backend_table_header(const char* name) {
  GtBackendTable t{};
  t.abi_version = GT_BACKEND_ABI_VERSION;
  t.struct_size = sizeof(GtBackendTable);
  t.name = name;
  return t;
}
