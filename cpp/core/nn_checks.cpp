// Shared argument checks and the padding arithmetic of the nn ops.
#include "core/nn_checks.h"

#include <algorithm>

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

void check_vector(const char* name, const Tensor& t, int64_t extent, const std::string& why) {
  if (t.ndim() != 1 || t.dim(0) != extent)
    throw ValueError(std::string(name) + ": expected shape (" + std::to_string(extent) + ",) " + why +
                     ", got " + shape_str(t.shape()));
}

GtWindow2d window_geometry(const char* x_name, const Tensor& x, int64_t kh, int64_t kw, Pair strides,
                           const std::string& padding, const char* window_what) {
  check_positive_pair("strides", strides);
  if (x.ndim() != 4)
    throw ValueError(std::string(x_name) + ": expected rank 4 (batch, height, width, channels), got shape " +
                     shape_str(x.shape()));
  GtWindow2d g{};
  g.n = x.dim(0);
  g.h = x.dim(1);
  g.w = x.dim(2);
  g.c = x.dim(3);
  g.kh = kh;
  g.kw = kw;
  g.stride_h = strides.h;
  g.stride_w = strides.w;
  if (g.h < 1 || g.w < 1 || g.c < 1)
    throw ValueError(std::string(x_name) + ": height, width and channels must be >= 1, got shape " +
                     shape_str(x.shape()));
  std::string mode = padding;
  for (auto& ch : mode) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (mode == "valid") {
    if (kh > g.h || kw > g.w)
      throw ValueError(std::string(x_name) + " " + shape_str(x.shape()) + " is smaller than the " +
                       window_what + " (" + std::to_string(kh) + ", " + std::to_string(kw) +
                       ") with padding 'valid'");
    g.oh = (g.h - kh) / strides.h + 1;
    g.ow = (g.w - kw) / strides.w + 1;
  } else if (mode == "same") {
    g.oh = (g.h + strides.h - 1) / strides.h;
    g.ow = (g.w + strides.w - 1) / strides.w;
    // TensorFlow: total = max((out − 1)·stride + window − in, 0); the smaller half goes on top/left.
    g.pad_top = std::max<int64_t>((g.oh - 1) * strides.h + kh - g.h, 0) / 2;
    g.pad_left = std::max<int64_t>((g.ow - 1) * strides.w + kw - g.w, 0) / 2;
  } else {
    throw ValueError("padding: expected 'valid' or 'same', got '" + padding + "'");
  }
  return g;
}

Tensor workspace(int64_t floats, const Device& device) {
  return Tensor::empty({std::max<int64_t>(floats, 1)}, DType::Float32, device);
}

}  // namespace gt::ops
