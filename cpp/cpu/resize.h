// The CPU's bilinear resizing of NHWC images (GtResize2d, core/op_params.h; the formulas in
// core/bilinear.h): forward and its backward, a gather over the output cells that read each input cell.
#pragma once
#include "core/op_params.h"

namespace gt::cpu {

void resize_bilinear2d_forward(const GtResize2d& r, const float* x, float* y);
void resize_bilinear2d_backward(const GtResize2d& r, const float* dy, float* dx);

}  // namespace gt::cpu
