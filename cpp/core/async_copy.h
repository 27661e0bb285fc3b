// The pieces that let a host-to-device copy overlap the kernels of a running step: events that order a
// GPU's compute stream (where kernels run) and its copy stream (where asynchronous copies run), and
// page-locked host memory, the only kind a GPU copies from without the host waiting. Used by the
// staging ring (core/staging.h) and by Tensor::to(device, non_blocking=true).
#pragma once
#include <atomic>
#include <cstddef>

#include "core/backend_table.h"
#include "core/device.h"

namespace gt {

// One event of a GPU backend. Errors become GpuError (or DeviceUnavailable) naming the call.
class GpuEvent {
 public:
  explicit GpuEvent(const Device& gpu);
  ~GpuEvent();
  GpuEvent(const GpuEvent&) = delete;
  GpuEvent& operator=(const GpuEvent&) = delete;

  // Marks the end of the work enqueued so far on `stream`.
  void record(GtStreamKind stream);
  // Work enqueued on `stream` after this call waits for the mark; the host does not wait.
  void make_wait(GtStreamKind stream) const;
  // The host waits for the mark. A never-recorded event is complete.
  void synchronize() const;
  bool done() const;

 private:
  const GtBackendTable* table_;
  int device_;
  void* event_ = nullptr;
  // Waits on an event never recorded are skipped here rather than left to the runtime (CUDA documents
  // them as complete; HIP's behaviour has varied between releases).
  std::atomic<bool> recorded_{false};
};

// Enqueues a copy of nbytes from page-locked host memory to device memory on the GPU's copy stream and
// returns at once. Nothing waits for it: record an event on the copy stream after it.
void copy_to_device_async(const Device& gpu, void* dst, const void* pinned_src, size_t nbytes);

// Page-locked host memory, pinned through `gpu`'s backend (for all of that backend's devices).
class PinnedBuffer {
 public:
  // OutOfMemory when the host cannot pin that much.
  PinnedBuffer(const Device& gpu, size_t nbytes);
  // Waits for the copies marked by reads_done() before freeing: a copy may still be reading.
  ~PinnedBuffer();
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  const Device& device() const { return device_; }
  // Recorded on the copy stream after each asynchronous copy out of this memory: the memory may be
  // written or freed once it is complete.
  GpuEvent& reads_done() { return reads_done_; }

 private:
  Device device_;
  const GtBackendTable* table_;
  size_t nbytes_;
  void* data_ = nullptr;
  GpuEvent reads_done_;
};

}  // namespace gt
