// Checks and helpers shared by the nn dispatch files: window geometry with TensorFlow's padding rule and
// messages that name arguments and shapes. Kernels are reached through core/kernel_calls.h.
#pragma once
#include <string>

#include "core/backend_table.h"
#include "core/errors.h"
#include "core/nn_ops.h"
#include "core/registry.h"
#include "core/tensor.h"

namespace gt::ops {

// float32 and on `device`; `name` appears in every message.
void check_float_on(const char* name, const Tensor& t, const Device& device);
// A positive (h, w) pair such as strides or pool_size.
void check_positive_pair(const char* name, Pair p);
// Hyper-parameters, checked by the ops and by training plans alike; the kernels take them as float32,
// so a value beyond float32's range (which would become inf) is rejected too.
// value in [lo, hi] (hi_open: [lo, hi)); hi may be INFINITY.
void check_range(const char* name, double value, double lo, double hi, bool hi_open);
void check_float32(const char* name, double value);   // finite, within float32's range
void check_positive(const char* name, double value);  // > 0, within float32's range
void check_rate(double rate);                          // dropout's rate: [0, 1)
// Shape (extent,) exactly.
void check_vector(const char* name, const Tensor& t, int64_t extent, const std::string& why);

// The geometry of sliding a (kh, kw) window (undilated: dilation 1) over NHWC `x` ("valid" or "same", TensorFlow's rule:
// "same" gives ceil(n/stride) and puts the odd padding cell at the bottom/right). ValueError for an
// unknown padding name or a window that does not fit. Any positive strides and window work (no
// overflow); the stride of an axis with one output is stored bounded by that axis's padded extent.
GtWindow2d window_geometry(const char* x_name, const Tensor& x, int64_t kh, int64_t kw, Pair strides,
                           const std::string& padding, const char* window_what);
// The same for an input of shape x_shape (a gradient's, when the input itself is not at hand).
GtWindow2d window_geometry(const char* x_name, const Shape& x_shape, int64_t kh, int64_t kw, Pair strides,
                           const std::string& padding, const char* window_what);

// window_geometry for pooling: also checks the kind, that pool_size is positive, and that a max-pooling
// window's cells fit its int32 argmax.
// Explicit padding cells: each side fewer than the window's extent (every window holds a real cell).
// count_include_pad (average pooling only) sets g.count_include_pad.
GtWindow2d pool_geometry(const Tensor& x, GtPoolKind kind, Pair pool_size, Pair strides,
                         const ConvPadding& padding, bool count_include_pad = false);

// The geometry of a convolution over an input of shape x_shape: window_geometry for the dilated extent
// (k − 1)·dilation + 1, with the kernel's own taps in g.kh and g.kw and the dilation in g. Also checks
// kernel_size and dilation (positive), and refuses strides > 1 with dilation > 1, as Keras does.
// Explicit padding: cells >= 0 on each side, out = (n + before + after − extent) / stride + 1, which
// must be >= 1. g.groups is 1: a grouped convolution sets its own, checked by check_conv_kernel.
GtWindow2d conv_geometry(const char* x_name, const Shape& x_shape, Pair kernel_size, Pair strides,
                         const ConvPadding& padding, Pair dilation);

// A convolution's kernel (kh, kw, in/groups, filters) against x's shape (NHWC) with `groups` (Keras's
// checks: groups positive, dividing the input channels and the filters), ValueError naming groups.
void check_conv_kernel(const Shape& x_shape, const Shape& kernel_shape, int64_t groups);

// The geometry of a depthwise convolution: conv_geometry, and the multiplier checked (positive).
GtDepthwise2d depthwise_geometry(const char* x_name, const Shape& x_shape, Pair kernel_size, int64_t multiplier,
                                 Pair strides, const std::string& padding, Pair dilation);

// An uninitialised float32 workspace of `floats` on `device` (at least one element).
Tensor workspace(int64_t floats, const Device& device);

}  // namespace gt::ops
