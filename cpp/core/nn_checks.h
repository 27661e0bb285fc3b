// Checks and helpers shared by the nn dispatch files: window geometry with TensorFlow's padding rule,
// messages that name arguments and shapes, and a checked call into a device's GPU table.
#pragma once
#include <string>

#include "core/backend_table.h"
#include "core/errors.h"
#include "core/nn_ops.h"
#include "core/registry.h"
#include "core/tensor.h"

namespace gt::ops {

inline bool on_cpu(const Device& device) { return device.type == DeviceType::CPU; }

// Runs `call(table)` on the device's GPU table and raises the table's error naming `what`.
template <class Call>
void gpu_call(const Device& device, const char* what, Call call) {
  const GtBackendTable& table = backend_for(device);
  check_status(table, call(table), what);
}

// float32 and on `device`; `name` appears in every message.
void check_float_on(const char* name, const Tensor& t, const Device& device);
// A positive (h, w) pair such as strides or pool_size.
void check_positive_pair(const char* name, Pair p);
// Shape (extent,) exactly.
void check_vector(const char* name, const Tensor& t, int64_t extent, const std::string& why);

// The geometry of sliding a (kh, kw) window over NHWC `x` ("valid" or "same", TensorFlow's rule:
// "same" gives ceil(n/stride) and puts the odd padding cell at the bottom/right). ValueError for an
// unknown padding name or a window that does not fit.
GtWindow2d window_geometry(const char* x_name, const Tensor& x, int64_t kh, int64_t kw, Pair strides,
                           const std::string& padding, const char* window_what);

// An uninitialised float32 workspace of `floats` on `device` (at least one element).
Tensor workspace(int64_t floats, const Device& device);

}  // namespace gt::ops
