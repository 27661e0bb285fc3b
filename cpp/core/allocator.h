// Caching allocator for one device: rounds requests, serves them best-fit from cached blocks (splitting
// large ones), returns freed blocks to the cache, and asks the device for memory only when no cached
// block fits. A memory limit and a growth policy (TensorFlow's allow_growth) bound what it reserves.
// Thread-safe: a data-loading thread and the training thread allocate at the same time.
#pragma once
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>

namespace gt {

// Where the allocator gets memory from: a GPU backend's cudaMalloc/cudaFree, or host memory in tests.
struct RawMemory {
  std::string device_name;
  // Returns nullptr when the device is out of memory; throws for any other failure.
  std::function<void*(size_t)> allocate;
  std::function<void(void*, size_t)> release;  // a pointer from allocate, with its size
  // Free and total bytes of the device; false when unknown.
  std::function<bool(size_t*, size_t*)> mem_info;
};

struct MemoryStats {
  size_t allocated_bytes = 0;    // in live blocks handed out
  size_t reserved_bytes = 0;     // taken from the device: live blocks plus the cache
  size_t peak_allocated_bytes = 0;
  size_t peak_reserved_bytes = 0;
  size_t num_allocations = 0;    // allocate() calls served
  size_t num_device_allocations = 0;  // segments taken from the device
  size_t num_oom_retries = 0;    // times the cache was emptied to retry a failed request
  size_t num_ooms = 0;           // OutOfMemory raised
  size_t limit_bytes = 0;        // 0: no limit
  bool growth = true;
};

class CachingAllocator {
 public:
  static constexpr size_t kAlignment = 512;          // every block starts on this boundary
  static constexpr size_t kSmallRequest = 1 << 20;   // requests up to 1 MiB share small segments
  static constexpr size_t kSmallSegment = 2 << 20;
  static constexpr size_t kLargeSegment = 20 << 20;  // requests up to 10 MiB share these
  static constexpr size_t kLargeGranule = 2 << 20;   // larger requests are rounded to 2 MiB

  explicit CachingAllocator(RawMemory raw);
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // Throws OutOfMemory (requested, free, held bytes and the policy) after emptying the cache and
  // retrying once. Zero bytes gives a valid, unique pointer.
  void* allocate(size_t nbytes);
  void deallocate(void* ptr);
  // Returns every fully free segment to the device.
  void empty_cache();
  MemoryStats stats() const;
  void reset_peak();

  // Policy. Fixed once the first allocation has been made: changing it then throws ValueError.
  void set_growth(bool growth);
  void set_limit(size_t bytes);  // 0: no limit
  bool in_use() const;

 private:
  struct Segment;
  struct Block {
    char* ptr;
    size_t size;
    bool free;
    Segment* segment;
    Block* prev;  // neighbours inside the segment, by address
    Block* next;
  };
  struct Segment {
    char* base;
    size_t size;
    bool small;
  };
  struct BySize {
    bool operator()(const Block* a, const Block* b) const {
      return a->size != b->size ? a->size < b->size : a->ptr < b->ptr;
    }
  };

  void* allocate_locked(size_t rounded);
  Block* take_segment(size_t rounded, bool small);
  void release_free_segments();
  std::string oom_message(size_t requested) const;
  void check_policy_change(const char* what) const;
  std::set<Block*, BySize>& pool(bool small) { return small ? small_free_ : large_free_; }

  RawMemory raw_;
  mutable std::mutex mutex_;
  std::set<Block*, BySize> small_free_, large_free_;
  std::map<char*, Block*> live_;  // handed-out blocks by address
  std::set<Segment*> segments_;
  MemoryStats stats_;
  bool used_ = false;
};

}  // namespace gt
