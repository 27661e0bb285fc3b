// Shared argument checks and the padding arithmetic of the nn ops.
#include "core/nn_checks.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/ops.h"

namespace gt::ops {

void check_float_on(const char* name, const Tensor& t, const Device& device) {
  check_dtype(name, t, DType::Float32);
  if (t.device().str() != device.str())
    throw ValueError(std::string(name) + " is on " + t.device().str() + " but this op runs on " +
                     device.str());
}

void check_positive_pair(const char* name, Pair p) {
  if (p.h < 1 || p.w < 1)
    throw ValueError(std::string(name) + ": expected positive integers, got (" + std::to_string(p.h) +
                     ", " + std::to_string(p.w) + ")");
}

void check_float32(const char* name, double value) {
  if (!std::isfinite(static_cast<float>(value)))
    throw ValueError(std::string(name) + ": expected a finite float32 number, got " + std::to_string(value));
}

void check_range(const char* name, double value, double lo, double hi, bool hi_open) {
  if (!(value >= lo && (hi_open ? value < hi : value <= hi)))
    throw ValueError(std::string(name) + ": expected a number in [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + (hi_open ? ")" : "]") + ", got " + std::to_string(value));
  check_float32(name, value);
}

void check_positive(const char* name, double value) {
  if (!(value > 0.0)) throw ValueError(std::string(name) + ": expected a positive number, got " + std::to_string(value));
  check_float32(name, value);
}

void check_rate(double rate) {
  if (!(rate >= 0.0 && rate < 1.0))
    throw ValueError("rate: expected a number in [0, 1), got " + std::to_string(rate));
}

void check_vector(const char* name, const Tensor& t, int64_t extent, const std::string& why) {
  if (t.ndim() != 1 || t.dim(0) != extent)
    throw ValueError(std::string(name) + ": expected shape (" + std::to_string(extent) + ",) " + why +
                     ", got " + shape_str(t.shape()));
}

namespace {

// The output extent along one axis, and the padding before it (TensorFlow's rule), computed without
// overflow for any positive stride and window: ceil(n / s) as (n − 1) / s + 1 (n >= 1), and the total
// padding as window − (n − (out − 1)·s), where (out − 1)·s <= n − 1.
struct Axis {
  int64_t out, pad_before, stride;
};
Axis same_axis(int64_t n, int64_t window, int64_t stride) {
  const int64_t out = (n - 1) / stride + 1;
  const int64_t covered = n - (out - 1) * stride;  // >= 1
  return {out, window > covered ? (window - covered) / 2 : 0, stride};
}

// An axis with one output never steps by its stride; every kernel computes the same with any stride
// larger than each padded coordinate (< n + pad). Storing the smallest such value keeps the kernels'
// index arithmetic (o·stride, (t + stride − 1) / stride, loops over stride classes) far from overflow
// whatever the stride asked for (2**63 − 1 included).
void bound_stride(Axis& a, int64_t n) {
  if (a.out == 1 && a.stride > n + a.pad_before) a.stride = n + a.pad_before;
}

}  // namespace

GtWindow2d window_geometry(const char* x_name, const Tensor& x, int64_t kh, int64_t kw, Pair strides,
                           const std::string& padding, const char* window_what) {
  return window_geometry(x_name, x.shape(), kh, kw, strides, padding, window_what);
}

namespace {

// The window's fields but the axes': x's extents, the window's taps, no dilation, one group.
GtWindow2d window_base(const char* x_name, const Shape& x_shape, int64_t kh, int64_t kw) {
  if (x_shape.size() != 4)
    throw ValueError(std::string(x_name) + ": expected rank 4 (batch, height, width, channels), got shape " +
                     shape_str(x_shape));
  GtWindow2d g{};
  g.n = x_shape[0];
  g.h = x_shape[1];
  g.w = x_shape[2];
  g.c = x_shape[3];
  g.kh = kh;
  g.kw = kw;
  g.dilation_h = 1;  // a plain window; conv_geometry sets a convolution's
  g.dilation_w = 1;
  g.groups = 1;  // a grouped convolution's caller sets its own, checked by check_conv_kernel
  if (g.h < 1 || g.w < 1 || g.c < 1)
    throw ValueError(std::string(x_name) + ": height, width and channels must be >= 1, got shape " +
                     shape_str(x_shape));
  return g;
}

void set_axes(GtWindow2d& g, Axis rows, Axis cols) {
  bound_stride(rows, g.h);
  bound_stride(cols, g.w);
  g.oh = rows.out;
  g.ow = cols.out;
  g.pad_top = rows.pad_before;
  g.pad_left = cols.pad_before;
  g.stride_h = rows.stride;
  g.stride_w = cols.stride;
}

// An axis padded by explicit cells: the padded extent is kept below 2^62 (the kernels add coordinates
// to it), and must hold the window.
Axis explicit_axis(const char* x_name, const Shape& x_shape, const char* side, int64_t n, int64_t window,
                   int64_t stride, int64_t before, int64_t after, const char* window_what) {
  constexpr int64_t kMaxPadded = int64_t(1) << 62;
  if (before < 0 || after < 0)
    throw ValueError(std::string("padding: expected non-negative cells, got ") + side + " (" +
                     std::to_string(before) + ", " + std::to_string(after) + ")");
  if (before > kMaxPadded - n || after > kMaxPadded - n - before)
    throw ValueError(std::string("padding: ") + side + " (" + std::to_string(before) + ", " +
                     std::to_string(after) + ") pads an extent of " + std::to_string(n) + " past 2**62 cells");
  const int64_t padded = n + before + after;
  if (window > padded)
    throw ValueError(std::string(x_name) + " " + shape_str(x_shape) + " padded by " + side + " (" +
                     std::to_string(before) + ", " + std::to_string(after) + ") is smaller than the " +
                     window_what + " (" + std::to_string(window) + ")");
  return {(padded - window) / stride + 1, before, stride};
}

}  // namespace

GtWindow2d window_geometry(const char* x_name, const Shape& x_shape, int64_t kh, int64_t kw, Pair strides,
                           const std::string& padding, const char* window_what) {
  check_positive_pair("strides", strides);
  GtWindow2d g = window_base(x_name, x_shape, kh, kw);
  std::string mode = padding;
  for (auto& ch : mode) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  Axis rows{}, cols{};
  if (mode == "valid") {
    if (kh > g.h || kw > g.w)
      throw ValueError(std::string(x_name) + " " + shape_str(x_shape) + " is smaller than the " +
                       window_what + " (" + std::to_string(kh) + ", " + std::to_string(kw) +
                       ") with padding 'valid'");
    rows = {(g.h - kh) / strides.h + 1, 0, strides.h};
    cols = {(g.w - kw) / strides.w + 1, 0, strides.w};
  } else if (mode == "same") {
    // TensorFlow: total = max((out − 1)·stride + window − in, 0); the smaller half goes on top/left.
    rows = same_axis(g.h, kh, strides.h);
    cols = same_axis(g.w, kw, strides.w);
  } else {
    throw ValueError("padding: expected 'valid' or 'same', got '" + padding + "'");
  }
  set_axes(g, rows, cols);
  return g;
}

GtWindow2d pool_geometry(const Tensor& x, GtPoolKind kind, Pair pool_size, Pair strides,
                         const ConvPadding& padding, bool count_include_pad) {
  if (kind != GT_POOL_MAX && kind != GT_POOL_AVG) throw ValueError("pool kind: expected max or avg");
  check_positive_pair("pool_size", pool_size);
  // Max pooling's argmax is an int32 index into the window (i·pool_w + j): a window must have fewer
  // than 2^31 cells (a "same" window may be far larger than x).
  constexpr int64_t kMaxCells = INT32_MAX;
  if (kind == GT_POOL_MAX && pool_size.h > kMaxCells / pool_size.w)
    throw ValueError("pool_size: a max-pooling window of (" + std::to_string(pool_size.h) + ", " +
                     std::to_string(pool_size.w) + ") has more than 2**31 - 1 cells, the most its int32 " +
                     "argmax can index");
  if (count_include_pad && kind != GT_POOL_AVG) throw ValueError("count_include_pad: only average pooling has it");
  GtWindow2d g{};
  if (padding.cells) {
    // As a convolution's explicit cells, and each side fewer than the window's extent, so that every
    // window holds a real cell (max pooling's padding never wins, and no average is of nothing).
    if (padding.top >= pool_size.h || padding.bottom >= pool_size.h || padding.left >= pool_size.w ||
        padding.right >= pool_size.w)
      throw ValueError("padding: each side must be smaller than the pool window (" + std::to_string(pool_size.h) +
                       ", " + std::to_string(pool_size.w) + ") so that every window holds a real cell, got ((" +
                       std::to_string(padding.top) + ", " + std::to_string(padding.bottom) + "), (" +
                       std::to_string(padding.left) + ", " + std::to_string(padding.right) + "))");
    check_positive_pair("strides", strides);
    g = window_base("x", x.shape(), pool_size.h, pool_size.w);
    set_axes(g, explicit_axis("x", x.shape(), "(top, bottom)", g.h, pool_size.h, strides.h, padding.top,
                              padding.bottom, "pool window"),
             explicit_axis("x", x.shape(), "(left, right)", g.w, pool_size.w, strides.w, padding.left,
                           padding.right, "pool window"));
  } else {
    g = window_geometry("x", x, pool_size.h, pool_size.w, strides, padding.name, "pool window");
  }
  g.count_include_pad = count_include_pad ? 1 : 0;
  return g;
}

GtWindow2d conv_geometry(const char* x_name, const Shape& x_shape, Pair kernel_size, Pair strides,
                         const ConvPadding& padding, Pair dilation) {
  check_positive_pair("kernel_size", kernel_size);
  check_positive_pair("strides", strides);
  check_positive_pair("dilation_rate", dilation);
  if ((strides.h > 1 || strides.w > 1) && (dilation.h > 1 || dilation.w > 1))
    throw ValueError("strides (" + std::to_string(strides.h) + ", " + std::to_string(strides.w) +
                     ") and dilation_rate (" + std::to_string(dilation.h) + ", " + std::to_string(dilation.w) +
                     "): strides > 1 together with dilation_rate > 1 are not supported (nor by Keras)");
  // The dilated extent (k − 1)·d + 1, kept far from overflow: the kernels add it to coordinates.
  constexpr int64_t kMaxExtent = int64_t(1) << 62;
  auto extent = [&](int64_t k, int64_t d) {
    if (k - 1 > 0 && d > (kMaxExtent - 1) / (k - 1))
      throw ValueError("dilation_rate: a kernel of " + std::to_string(k) + " taps dilated by " + std::to_string(d) +
                       " spans more than 2**62 cells");
    return (k - 1) * d + 1;
  };
  const bool dilated = dilation.h > 1 || dilation.w > 1;
  const char* what = dilated ? "dilated kernel window" : "kernel window";
  const int64_t eh = extent(kernel_size.h, dilation.h), ew = extent(kernel_size.w, dilation.w);
  GtWindow2d g{};
  if (padding.cells) {
    g = window_base(x_name, x_shape, eh, ew);
    set_axes(g, explicit_axis(x_name, x_shape, "(top, bottom)", g.h, eh, strides.h, padding.top, padding.bottom, what),
             explicit_axis(x_name, x_shape, "(left, right)", g.w, ew, strides.w, padding.left, padding.right, what));
  } else {
    g = window_geometry(x_name, x_shape, eh, ew, strides, padding.name, what);
  }
  g.kh = kernel_size.h;
  g.kw = kernel_size.w;
  g.dilation_h = dilation.h;
  g.dilation_w = dilation.w;
  return g;
}

GtDepthwise2d depthwise_geometry(const char* x_name, const Shape& x_shape, Pair kernel_size, int64_t multiplier,
                                 Pair strides, const std::string& padding, Pair dilation) {
  check_positive_pair("kernel_size", kernel_size);
  check_positive_pair("strides", strides);
  check_positive_pair("dilation_rate", dilation);
  if (multiplier < 1)
    throw ValueError("depth_multiplier: expected a positive integer, got " + std::to_string(multiplier));
  GtDepthwise2d d{};
  d.g = conv_geometry(x_name, x_shape, kernel_size, strides, padding, dilation);
  d.multiplier = multiplier;
  d.dilation_h = dilation.h;
  d.dilation_w = dilation.w;
  // The output's channels c·multiplier index the kernel and y: they must fit int64 with room to spare.
  constexpr int64_t kMaxChannels = int64_t(1) << 62;
  if (multiplier > kMaxChannels / d.g.c)
    throw ValueError("depth_multiplier: " + std::to_string(multiplier) + " output channels for each of " +
                     std::to_string(d.g.c) + " input channels are more than 2**62");
  return d;
}

void check_conv_kernel(const Shape& x_shape, const Shape& kernel_shape, int64_t groups) {
  if (kernel_shape.size() != 4)
    throw ValueError("kernel: expected rank 4 (height, width, in_channels, out_channels), got shape " +
                     shape_str(kernel_shape));
  if (kernel_shape[0] < 1 || kernel_shape[1] < 1 || kernel_shape[3] < 1)
    throw ValueError("kernel: extents must be >= 1, got shape " + shape_str(kernel_shape));
  if (groups < 1)
    throw ValueError("groups: the number of groups must be a positive integer, got " + std::to_string(groups));
  const int64_t filters = kernel_shape[3];
  if (filters % groups != 0)
    throw ValueError("groups: the number of filters must be divisible by the number of groups, got groups=" +
                     std::to_string(groups) + " and " + std::to_string(filters) + " filters (kernel " +
                     shape_str(kernel_shape) + ")");
  if (x_shape.size() != 4) return;  // the geometry reports x's rank
  const int64_t channels = x_shape[3];
  if (channels % groups != 0)
    throw ValueError("groups: the number of input channels must be divisible by the number of groups, got groups=" +
                     std::to_string(groups) + " and x " + shape_str(x_shape) + " with " + std::to_string(channels) +
                     " channels");
  if (kernel_shape[2] != channels / groups)
    throw ValueError("kernel " + shape_str(kernel_shape) + " expects " + std::to_string(kernel_shape[2]) +
                     (groups > 1 ? " input channels per group" : " input channels") + " but x " +
                     shape_str(x_shape) + " has " + std::to_string(channels) +
                     (groups > 1 ? " in " + std::to_string(groups) + " groups of " + std::to_string(channels / groups)
                                 : std::string()));
}

Tensor workspace(int64_t floats, const Device& device) {
  return Tensor::empty({std::max<int64_t>(floats, 1)}, DType::Float32, device);
}

}  // namespace gt::ops
