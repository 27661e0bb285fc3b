// Dispatch for the element-wise add: the first op, proving the path Python → dispatch → backend →
// device memory on every backend before the layer kernels arrive.
#include "core/ops.h"

#include "core/errors.h"
#include "core/registry.h"
#include "cpu/elementwise.h"

namespace gt::ops {

std::string shape_str(const Shape& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

void check_same_shape(const char* name_a, const Shape& a, const char* name_b, const Shape& b) {
  if (a != b)
    throw ValueError(std::string(name_a) + " and " + name_b + " must have the same shape, got " +
                     name_a + " " + shape_str(a) + " and " + name_b + " " + shape_str(b));
}

void add_host(const float* a, const float* b, float* out, int64_t n, const Device& device) {
  if (device.type == DeviceType::CPU) {
    cpu::add_f32(a, b, out, n);
    return;
  }
  const GtBackendTable& table = backend_for(device);
  if (n == 0) return;
  const size_t bytes = static_cast<size_t>(n) * sizeof(float);
  DeviceBuffer da(table, device.index, bytes), db(table, device.index, bytes),
      dout(table, device.index, bytes);
  check_status(table, table.copy_to_device(device.index, da.get(), a, bytes), "copy a to device");
  check_status(table, table.copy_to_device(device.index, db.get(), b, bytes), "copy b to device");
  check_status(table,
               table.add_f32(device.index, static_cast<const float*>(da.get()),
                             static_cast<const float*>(db.get()), static_cast<float*>(dout.get()), n,
                             nullptr),
               "add");
  check_status(table, table.copy_to_host(device.index, out, dout.get(), bytes), "copy result to host");
}

}  // namespace gt::ops
