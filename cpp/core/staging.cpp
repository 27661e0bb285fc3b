// The staging ring (see staging.h): validation, slot states, and the copy and event protocol per slot.
#include "core/staging.h"

#include <atomic>
#include <cstring>
#include <string>

#include "core/async_copy.h"
#include "core/errors.h"

namespace gt {
namespace {

constexpr size_t kAlign = 64;
std::atomic<uint64_t> rings_made{0};

size_t row_bytes(const RowSpec& spec) { return shape_numel(spec.row_shape) * dtype_size(spec.dtype); }

Shape with_rows(int64_t rows, const Shape& row_shape) {
  Shape shape{rows};
  shape.insert(shape.end(), row_shape.begin(), row_shape.end());
  return shape;
}

// The first `rows` rows of a slot's device tensor: shares its memory and keeps it alive.
Tensor leading_rows(const Tensor& full, int64_t rows, const RowSpec& spec) {
  return Tensor::borrow(full.raw(), with_rows(rows, spec.row_shape), spec.dtype, full.device(),
                        std::make_shared<Tensor>(full));
}

}  // namespace

StagingRing::StagingRing(const Device& device, int64_t max_rows, int depth, RowSpec x,
                         std::optional<RowSpec> y)
    : id_(++rings_made), device_(device), max_rows_(max_rows), x_spec_(std::move(x)), y_spec_(std::move(y)) {
  if (depth < 1) throw ValueError("depth: must be at least 1, got " + std::to_string(depth));
  if (max_rows < 1) throw ValueError("max_rows: must be at least 1, got " + std::to_string(max_rows));
  x_row_bytes_ = row_bytes(x_spec_);
  y_row_bytes_ = y_spec_ ? row_bytes(*y_spec_) : 0;
  // y's rows start on a fresh cache line of the pinned buffer.
  y_offset_ = (static_cast<size_t>(max_rows) * x_row_bytes_ + kAlign - 1) / kAlign * kAlign;
  slots_.resize(depth);
  if (device_.type == DeviceType::CPU) return;
  for (Slot& slot : slots_) {
    slot.pinned = std::make_unique<PinnedBuffer>(device_, y_offset_ + max_rows * y_row_bytes_);
    slot.x = Tensor::empty(with_rows(max_rows, x_spec_.row_shape), x_spec_.dtype, device_);
    if (y_spec_) slot.y = Tensor::empty(with_rows(max_rows, y_spec_->row_shape), y_spec_->dtype, device_);
    slot.consumed = std::make_unique<GpuEvent>(device_);
    // The caching allocator may have handed over blocks that kernels already enqueued on the compute
    // stream still read: the slot's first copy waits for them as for a consumed batch.
    slot.consumed->record(GT_STREAM_COMPUTE);
  }
}

StagingRing::~StagingRing() {
  // Copies still in flight write the device tensors and read the pinned buffers: let them finish
  // before either goes back (the device blocks to a cache whose next user would not wait for them).
  for (Slot& slot : slots_) {
    if (!slot.pinned) continue;
    try {
      slot.pinned->reads_done().synchronize();
    } catch (...) {
      // A failed device runs no copy any more; nothing is left to wait for.
    }
  }
}

void StagingRing::check_rows(const Tensor& t, const RowSpec& spec, const char* name) const {
  if (t.device().type != DeviceType::CPU)
    throw ValueError(std::string(name) + ": expected host memory (a NumPy array), got a tensor on " +
                     t.device().str());
  if (t.dtype() != spec.dtype)
    throw TypeError(std::string(name) + ": expected " + dtype_name(spec.dtype) + " rows, got " +
                    dtype_name(t.dtype()));
  const Shape expected = with_rows(t.ndim() > 0 ? t.dim(0) : 0, spec.row_shape);
  if (t.ndim() == 0 || t.shape() != expected)
    throw ValueError(std::string(name) + ": expected rows of shape " + shape_str(spec.row_shape) +
                     ", got an array of shape " + shape_str(t.shape()));
  if (t.dim(0) < 1 || t.dim(0) > max_rows_)
    throw ValueError(std::string(name) + ": a batch of " + std::to_string(t.dim(0)) +
                     " rows does not fit the ring's slots of 1 to " + std::to_string(max_rows_) + " rows");
}

StagedBatch StagingRing::stage(const Tensor& x, const Tensor& y) {
  check_rows(x, x_spec_, "x");
  if (y_spec_) {
    if (!y.defined()) throw ValueError("y: this ring carries labels; pass y with x");
    check_rows(y, *y_spec_, "y");
    if (y.dim(0) != x.dim(0))
      throw ValueError("x and y must have the same number of rows, got " + std::to_string(x.dim(0)) +
                       " and " + std::to_string(y.dim(0)));
  } else if (y.defined()) {
    throw ValueError("y: this ring was made without labels (no y row shape); pass y=None");
  }

  int index = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    index = next_;
    if (slots_[index].state != State::Free)
      throw StateError("stage: slot " + std::to_string(index) + " still holds a batch that was not " +
                       "released; a ring of depth " + std::to_string(depth()) + " holds at most " +
                       std::to_string(depth()) + " batches, so release() one first");
    slots_[index].state = State::Filling;
    ++slots_[index].generation;
    next_ = (next_ + 1) % depth();
  }
  Slot& slot = slots_[index];
  StagedBatch batch;
  try {
    batch = fill(slot, index, x, y);
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    slot.state = State::Free;
    throw;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  slot.state = State::Staged;
  return batch;
}

StagedBatch StagingRing::fill(Slot& slot, int index, const Tensor& x, const Tensor& y) {
  StagedBatch batch;
  batch.rows = x.dim(0);
  batch.slot = index;
  batch.generation = slot.generation;
  batch.ring = id_;
  if (device_.type == DeviceType::CPU) {
    batch.x = x;
    batch.y = y;
    return batch;
  }
  // The slot's previous copy reads the pinned buffer until it completes: overwrite only after it.
  slot.pinned->reads_done().synchronize();
  char* pinned = static_cast<char*>(slot.pinned->data());
  std::memcpy(pinned, x.raw(), x.nbytes());
  if (y_spec_) std::memcpy(pinned + y_offset_, y.raw(), y.nbytes());
  // The step that used the slot's previous batch may still be reading the device tensors.
  slot.consumed->make_wait(GT_STREAM_COPY);
  copy_to_device_async(device_, slot.x.raw(), pinned, x.nbytes());
  if (y_spec_) copy_to_device_async(device_, slot.y.raw(), pinned + y_offset_, y.nbytes());
  slot.pinned->reads_done().record(GT_STREAM_COPY);  // "copied"
  batch.x = leading_rows(slot.x, batch.rows, x_spec_);
  if (y_spec_) batch.y = leading_rows(slot.y, batch.rows, *y_spec_);
  return batch;
}

StagingRing::Slot& StagingRing::staged_slot(const StagedBatch& batch, const char* what) {
  if (batch.ring != id_ || batch.slot < 0 || batch.slot >= depth() || slots_[batch.slot].state != State::Staged ||
      slots_[batch.slot].generation != batch.generation)
    throw StateError(std::string(what) + ": the batch is not staged in this ring (already released, " +
                     "or from another ring)");
  return slots_[batch.slot];
}

void StagingRing::acquire(const StagedBatch& batch) {
  Slot* slot = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    slot = &staged_slot(batch, "acquire");
  }
  // Staged: the producer does not touch the slot until release, so its event is safe to use unlocked.
  if (slot->pinned) slot->pinned->reads_done().make_wait(GT_STREAM_COMPUTE);
}

bool StagingRing::copied(const StagedBatch& batch) {
  Slot* slot = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    slot = &staged_slot(batch, "copied");
  }
  return !slot->pinned || slot->pinned->reads_done().done();
}

void StagingRing::release(const StagedBatch& batch) {
  std::lock_guard<std::mutex> lock(mutex_);
  Slot& slot = staged_slot(batch, "release");
  // Recorded before the slot turns free, so the producer's wait for it sees this mark.
  if (slot.consumed) slot.consumed->record(GT_STREAM_COMPUTE);
  slot.state = State::Free;
}

}  // namespace gt
