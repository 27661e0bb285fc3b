// Operation dispatch: validates arguments, picks the backend for the device, owns device workspace.
// Nothing reaches a kernel without passing through here.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/device.h"

namespace gt::ops {

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& shape);

// ValueError naming both arguments and shapes unless they are equal.
void check_same_shape(const char* name_a, const Shape& a, const char* name_b, const Shape& b);

// out = a + b over n host floats, computed on `device` (host buffers are copied there and back).
void add_host(const float* a, const float* b, float* out, int64_t n, const Device& device);

}  // namespace gt::ops
