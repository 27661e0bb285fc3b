// Tensor construction, device moves and reshapes.
#include "core/tensor.h"

#include <cstring>

#include "core/async_copy.h"
#include "core/errors.h"
#include "core/registry.h"

namespace gt {

std::string shape_str(const Shape& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t extent : shape) {
    if (extent < 0) throw ValueError("shape " + shape_str(shape) + ": extents must be >= 0");
    if (extent != 0 && n > INT64_MAX / 8 / extent)
      throw ValueError("shape " + shape_str(shape) + ": too many elements");
    n *= extent;
  }
  return n;
}

Tensor Tensor::empty(const Shape& shape, DType dtype, const Device& device) {
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.numel_ = shape_numel(shape);
  t.storage_ = allocate_storage(device, t.nbytes());
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, const Device& device) {
  Tensor t = empty(shape, dtype, device);
  if (t.nbytes() == 0) return t;
  if (device.type == DeviceType::CPU) {
    std::memset(t.raw(), 0, t.nbytes());
  } else {
    const GtBackendTable& table = backend_for(device);
    check_status(table, table.fill_zero(device.index, t.raw(), t.nbytes(), nullptr), "fill_zero");
  }
  return t;
}

Tensor Tensor::borrow(void* data, const Shape& shape, DType dtype, const Device& device,
                      std::shared_ptr<void> owner, bool read_only) {
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.numel_ = shape_numel(shape);
  t.storage_ = std::make_shared<Storage>();
  t.storage_->device = device;
  t.storage_->data = data;
  t.storage_->nbytes = t.nbytes();
  t.storage_->release = [owner = std::move(owner)]() mutable { owner.reset(); };
  t.storage_->read_only = read_only;
  return t;
}

Tensor Tensor::pinned_empty(const Shape& shape, DType dtype, const Device& gpu) {
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.numel_ = shape_numel(shape);
  auto buffer = std::make_shared<PinnedBuffer>(gpu, t.nbytes());
  t.storage_ = std::make_shared<Storage>();
  t.storage_->data = buffer->data();
  t.storage_->nbytes = t.nbytes();
  t.storage_->pinned = std::move(buffer);
  return t;
}

Tensor Tensor::to(const Device& device, bool copy, bool non_blocking) const {
  if (!copy && device.type == this->device().type && device.index == this->device().index) return *this;
  Tensor out = empty(shape_, dtype_, device);
  PinnedBuffer* pinned = storage_->pinned.get();
  if (non_blocking && pinned != nullptr && device.str() == pinned->device().str() && nbytes() > 0) {
    // `out` comes from the caching allocator, which hands out memory that kernels already enqueued on
    // the compute stream may still use: the copy waits for them. Later kernels wait for the copy.
    GpuEvent allocated(device);
    allocated.record(GT_STREAM_COMPUTE);
    allocated.make_wait(GT_STREAM_COPY);
    copy_to_device_async(device, out.raw(), raw(), nbytes());
    pinned->reads_done().record(GT_STREAM_COPY);
    pinned->reads_done().make_wait(GT_STREAM_COMPUTE);
    return out;
  }
  copy_bytes(device, out.raw(), this->device(), raw(), nbytes());
  return out;
}

Tensor Tensor::reshape(const Shape& shape) const {
  if (shape_numel(shape) != numel_)
    throw ValueError("reshape: cannot view shape " + shape_str(shape_) + " as " + shape_str(shape));
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

}  // namespace gt
