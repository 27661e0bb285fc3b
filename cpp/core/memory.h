// Device memory: one caching allocator per GPU (policy from the environment at first use), aligned host
// memory for the CPU, and Storage, the reference-counted block a tensor lives in.
#pragma once
#include <cstddef>
#include <functional>
#include <memory>

#include "core/allocator.h"
#include "core/device.h"

namespace gt {

class PinnedBuffer;  // core/async_copy.h

// A block of memory on one device, released by `release` when the last tensor using it goes.
struct Storage {
  Device device;
  void* data = nullptr;
  size_t nbytes = 0;
  std::function<void()> release;
  // Set for page-locked host memory (device is then the CPU): it owns the memory, which asynchronous
  // copies to its GPU read.
  std::shared_ptr<PinnedBuffer> pinned;
  // Memory its owner lent for reading only (a read-only NumPy array through DLPack): ops refuse to
  // update it in place, and exports say so.
  bool read_only = false;
  ~Storage() {
    if (release) release();
  }
};

// Fresh memory on `device`: the device's caching allocator for GPUs, 64-byte aligned host memory for
// the CPU. Throws OutOfMemory (a MemoryError in Python) when it cannot be had.
std::shared_ptr<Storage> allocate_storage(const Device& device, size_t nbytes);

// The caching allocator of a GPU device, created on first use with the policy that
// GPUTRAIN_GPU_ALLOW_GROWTH and GPUTRAIN_GPU_MEMORY_FRACTION set. ValueError for the CPU.
CachingAllocator& gpu_allocator(const Device& device);

// Copies nbytes between two storages' memory (any pair of devices), through the host when both are GPUs
// of different backends.
void copy_bytes(const Device& dst_device, void* dst, const Device& src_device, const void* src,
                size_t nbytes);

}  // namespace gt
