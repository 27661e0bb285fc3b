// Tensor: a contiguous, row-major (C-order) array of one dtype on one device, sharing a Storage.
// Every op takes and returns these; the Python layer converts NumPy arrays and DLPack capsules.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/memory.h"

namespace gt {

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& shape);  // "(2, 3)", "(5,)", "()"
int64_t shape_numel(const Shape& shape);    // ValueError for a negative extent or an overflow

class Tensor {
 public:
  Tensor() = default;
  // Uninitialised memory on `device`.
  static Tensor empty(const Shape& shape, DType dtype, const Device& device);
  static Tensor zeros(const Shape& shape, DType dtype, const Device& device);
  // Wraps memory owned by someone else (a NumPy array, a DLPack producer); `owner` keeps it alive and
  // is dropped when the last tensor using the memory goes. `read_only`: the owner lends it for reading.
  static Tensor borrow(void* data, const Shape& shape, DType dtype, const Device& device,
                       std::shared_ptr<void> owner, bool read_only = false);
  // Uninitialised host memory (a CPU tensor) page-locked for copies to `gpu`.
  static Tensor pinned_empty(const Shape& shape, DType dtype, const Device& gpu);

  const Shape& shape() const { return shape_; }
  int64_t dim(int i) const { return shape_.at(i); }
  int ndim() const { return static_cast<int>(shape_.size()); }
  DType dtype() const { return dtype_; }
  const Device& device() const { return storage_->device; }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * dtype_size(dtype_); }
  bool defined() const { return storage_ != nullptr; }
  bool is_pinned() const { return storage_ && storage_->pinned != nullptr; }
  bool read_only() const { return storage_ && storage_->read_only; }

  void* raw() const { return storage_->data; }
  template <class T>
  T* data() const { return static_cast<T*>(storage_->data); }

  // A copy on `device` (the same tensor when it is already there and `copy` is false). With
  // `non_blocking`, a copy from page-locked memory to the GPU it was pinned for returns before the data
  // has moved: it runs on the copy stream, and work later put on the device waits for it. The source
  // must then not be written until the device has been synchronised. Any other copy is synchronous.
  Tensor to(const Device& device, bool copy = false, bool non_blocking = false) const;
  // Same memory, another shape of the same element count.
  Tensor reshape(const Shape& shape) const;

 private:
  std::shared_ptr<Storage> storage_;
  Shape shape_;
  DType dtype_ = DType::Float32;
  int64_t numel_ = 0;
};

}  // namespace gt
