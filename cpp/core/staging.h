// The staging ring: carries input batches from host arrays to one device while the device computes.
// A producer thread calls stage(); the thread that launches the kernels calls acquire() before using a
// batch and release() once the step using it has been launched. Each of the `depth` slots holds one
// page-locked host buffer (x's rows, then y's) and one device tensor each for x and y, sized for
// `max_rows` rows and allocated once. Per slot, two events order the streams without the host waiting:
//   stage:   host waits for the slot's previous copy (its pinned memory is read until then), fills the
//            pinned buffer, the copy stream waits for "consumed", copies, records "copied";
//   acquire: the compute stream waits for "copied";
//   release: "consumed" is recorded on the compute stream.
// On the CPU nothing is copied: stage() hands back the host tensors it was given.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "core/tensor.h"

namespace gt {

class GpuEvent;
class PinnedBuffer;

// The rows of a batch: every row has `row_shape` and `dtype`.
struct RowSpec {
  Shape row_shape;
  DType dtype = DType::Float32;
};

// One staged batch: device tensors holding exactly its rows, valid until the batch is released and its
// slot refilled (`depth` stage() calls later at the earliest).
struct StagedBatch {
  Tensor x, y;  // y undefined when the ring carries no y
  int64_t rows = 0;
  int slot = 0;
  uint64_t generation = 0;  // which filling of the slot, to catch a stale or repeated release
  uint64_t ring = 0;        // the ring's id, to catch a batch handed to another ring
};

class StagingRing {
 public:
  // ValueError for depth < 1, max_rows < 1 or a negative extent.
  StagingRing(const Device& device, int64_t max_rows, int depth, RowSpec x, std::optional<RowSpec> y);
  // Waits for copies still reading the pinned buffers, then frees them.
  ~StagingRing();
  StagingRing(const StagingRing&) = delete;
  StagingRing& operator=(const StagingRing&) = delete;

  // x (and y, exactly when the ring carries y) are host tensors of 1..max_rows rows of the ring's row
  // shape and dtype: ValueError / TypeError naming the argument otherwise. Fills the next slot in ring
  // order; StateError when that slot's batch has not been released yet.
  StagedBatch stage(const Tensor& x, const Tensor& y);
  // On the thread that launches the kernels, before they use the batch: they will wait for its copy.
  void acquire(const StagedBatch& batch);
  // The step that used the batch has been launched: its slot may be refilled once the device is done.
  void release(const StagedBatch& batch);
  // True once the batch's copy to the device has finished (on the CPU: always); never waits.
  bool copied(const StagedBatch& batch);

  const Device& device() const { return device_; }
  int64_t max_rows() const { return max_rows_; }
  int depth() const { return static_cast<int>(slots_.size()); }

 private:
  enum class State { Free, Filling, Staged };
  struct Slot {
    State state = State::Free;
    uint64_t generation = 0;
    std::unique_ptr<PinnedBuffer> pinned;  // x's rows, then y's at y_offset_
    Tensor x, y;                           // device tensors of max_rows rows
    std::unique_ptr<GpuEvent> consumed;
  };

  void check_rows(const Tensor& t, const RowSpec& spec, const char* name) const;
  Slot& staged_slot(const StagedBatch& batch, const char* what);
  StagedBatch fill(Slot& slot, int index, const Tensor& x, const Tensor& y);

  const uint64_t id_;
  Device device_;
  int64_t max_rows_;
  RowSpec x_spec_;
  std::optional<RowSpec> y_spec_;
  size_t x_row_bytes_ = 0, y_row_bytes_ = 0, y_offset_ = 0;
  std::mutex mutex_;  // slot states and next_: stage runs on one thread, acquire/release on another
  std::vector<Slot> slots_;
  int next_ = 0;
};

}  // namespace gt
