// Shared argument checks, and dispatch of the element-wise add: the first op, which proves the path
// Python → dispatch → backend → device memory on every backend.
#include "core/ops.h"

#include "core/errors.h"
#include "core/kernel_calls.h"
#include "core/registry.h"
#include "cpu/elementwise.h"

namespace gt::ops {

void check_dtype(const char* name, const Tensor& t, DType expected) {
  if (t.dtype() != expected)
    throw TypeError(std::string(name) + ": expected " + dtype_name(expected) + ", got " +
                    dtype_name(t.dtype()));
}

void check_same_shape(const char* name_a, const Tensor& a, const char* name_b, const Tensor& b) {
  if (a.shape() != b.shape())
    throw ValueError(std::string(name_a) + " and " + name_b + " must have the same shape, got " +
                     name_a + " " + shape_str(a.shape()) + " and " + name_b + " " + shape_str(b.shape()));
}

void check_same_device(const char* name_a, const Tensor& a, const char* name_b, const Tensor& b) {
  if (a.device().str() != b.device().str())
    throw ValueError(std::string(name_a) + " and " + name_b + " must be on the same device, got " +
                     name_a + " on " + a.device().str() + " and " + name_b + " on " + b.device().str());
}

void check_rank(const char* name, const Tensor& t, int rank) {
  if (t.ndim() != rank)
    throw ValueError(std::string(name) + ": expected rank " + std::to_string(rank) + ", got shape " +
                     shape_str(t.shape()));
}

Tensor add(const Tensor& a, const Tensor& b) {
  check_dtype("a", a, DType::Float32);
  check_dtype("b", b, DType::Float32);
  check_same_shape("a", a, "b", b);
  check_same_device("a", a, "b", b);
  const Device& device = a.device();
  Tensor out = Tensor::empty(a.shape(), DType::Float32, device);
  if (device.type == DeviceType::CPU) {
    cpu::add_f32(a.data<float>(), b.data<float>(), out.data<float>(), a.numel());
  } else if (a.numel() > 0) {
    const GtBackendTable& table = backend_for(device);
    check_status(table,
                 table.add_f32(device.index, a.data<float>(), b.data<float>(), out.data<float>(),
                               a.numel(), nullptr),
                 "add");
  }
  return out;
}

Tensor uint8_to_float32(const Tensor& x) {
  check_dtype("x", x, DType::UInt8);
  Tensor out = Tensor::empty(x.shape(), DType::Float32, x.device());
  if (x.numel() > 0) kernels::cast_u8_f32(x.device(), x.numel(), x.data<uint8_t>(), out.data<float>());
  return out;
}

}  // namespace gt::ops
