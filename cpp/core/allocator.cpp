// Caching allocator. Blocks of one segment form an address-ordered list so a freed block can merge with
// free neighbours; free blocks sit in size-ordered sets (small and large pools kept apart so that tiny
// tensors do not fragment the big segments activations need).
#include "core/allocator.h"

#include <algorithm>

#include "core/errors.h"

namespace gt {
namespace {
size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }
std::string mib(size_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%zu bytes (%.1f MiB)", bytes, bytes / 1048576.0);
  return buf;
}
}  // namespace

CachingAllocator::CachingAllocator(RawMemory raw) : raw_(std::move(raw)) {}

CachingAllocator::~CachingAllocator() {
  // Process teardown: live blocks may still be referenced by Python objects being destroyed after us,
  // so only what is entirely free goes back.
  std::lock_guard<std::mutex> lock(mutex_);
  release_free_segments();
}

void* CachingAllocator::allocate(size_t nbytes) {
  const size_t rounded = round_up(std::max<size_t>(nbytes, 1), kAlignment);
  std::lock_guard<std::mutex> lock(mutex_);
  used_ = true;
  void* ptr = allocate_locked(rounded);
  if (ptr == nullptr) {
    // Out of memory: give the cache back to the device and try once more before failing.
    ++stats_.num_oom_retries;
    release_free_segments();
    ptr = allocate_locked(rounded);
  }
  if (ptr == nullptr) {
    ++stats_.num_ooms;
    throw OutOfMemory(oom_message(nbytes));
  }
  ++stats_.num_allocations;
  return ptr;
}

void* CachingAllocator::allocate_locked(size_t rounded) {
  // Without growth there is one reservation, a large segment, serving requests of every size.
  const bool small = rounded <= kSmallRequest && stats_.growth;
  auto& free_pool = pool(small);
  Block key{nullptr, rounded, true, nullptr, nullptr, nullptr};
  auto it = free_pool.lower_bound(&key);  // best fit: the smallest free block that is large enough
  Block* block = nullptr;
  if (it != free_pool.end()) {
    block = *it;
    free_pool.erase(it);
  } else {
    block = take_segment(rounded, small);
    if (block == nullptr) return nullptr;
  }
  // Split when the remainder is worth keeping: in the small pool (or the single reservation) down to
  // the alignment, among large segments from 1 MiB, so big blocks are not shredded into crumbs.
  const size_t remainder = block->size - rounded;
  if (remainder >= (small || !stats_.growth ? kAlignment : kSmallRequest)) {
    auto* rest = new Block{block->ptr + rounded, remainder, true, block->segment, block, block->next};
    if (block->next) block->next->prev = rest;
    block->next = rest;
    block->size = rounded;
    free_pool.insert(rest);
  }
  block->free = false;
  live_[block->ptr] = block;
  stats_.allocated_bytes += block->size;
  stats_.peak_allocated_bytes = std::max(stats_.peak_allocated_bytes, stats_.allocated_bytes);
  return block->ptr;
}

CachingAllocator::Block* CachingAllocator::take_segment(size_t rounded, bool small) {
  size_t size;
  if (!stats_.growth) {
    // No growth: reserve the whole allowance once, as TensorFlow does (the limit, or 95% of what is
    // free), and serve everything from it.
    if (!segments_.empty()) return nullptr;
    size_t free_bytes = 0, total_bytes = 0;
    if (stats_.limit_bytes > 0)
      size = stats_.limit_bytes;
    else if (raw_.mem_info && raw_.mem_info(&free_bytes, &total_bytes))
      size = free_bytes / 20 * 19 / kAlignment * kAlignment;
    else
      size = round_up(rounded, kLargeGranule);
  } else if (small) {
    size = kSmallSegment;
  } else if (rounded <= kLargeSegment / 2) {
    size = kLargeSegment;
  } else {
    size = round_up(rounded, kLargeGranule);
  }
  if (size < rounded) return nullptr;
  // The preferred segment first; when it would pass the limit or the device cannot give it, one of
  // exactly the requested size may still fit.
  char* base = nullptr;
  for (const size_t candidate : {size, rounded}) {
    if (stats_.limit_bytes > 0 && stats_.reserved_bytes + candidate > stats_.limit_bytes) continue;
    base = static_cast<char*>(raw_.allocate(candidate));
    if (base != nullptr) {
      size = candidate;
      break;
    }
    if (candidate == rounded) break;
  }
  if (base == nullptr) return nullptr;
  auto* segment = new Segment{base, size, small};
  segments_.insert(segment);
  stats_.reserved_bytes += size;
  stats_.peak_reserved_bytes = std::max(stats_.peak_reserved_bytes, stats_.reserved_bytes);
  ++stats_.num_device_allocations;
  return new Block{base, size, true, segment, nullptr, nullptr};
}

void CachingAllocator::deallocate(void* ptr) {
  if (ptr == nullptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = live_.find(static_cast<char*>(ptr));
  if (it == live_.end()) throw ValueError("deallocate: pointer was not allocated here");
  Block* block = it->second;
  live_.erase(it);
  stats_.allocated_bytes -= block->size;
  block->free = true;
  auto& free_pool = pool(block->segment->small);
  // Merge with free neighbours so that the segment can become one free block again.
  if (block->prev && block->prev->free) {
    Block* prev = block->prev;
    free_pool.erase(prev);
    prev->size += block->size;
    prev->next = block->next;
    if (block->next) block->next->prev = prev;
    delete block;
    block = prev;
  }
  if (block->next && block->next->free) {
    Block* next = block->next;
    free_pool.erase(next);
    block->size += next->size;
    block->next = next->next;
    if (next->next) next->next->prev = block;
    delete next;
  }
  free_pool.insert(block);
}

void CachingAllocator::release_free_segments() {
  for (auto it = segments_.begin(); it != segments_.end();) {
    Segment* segment = *it;
    // A segment is entirely free when its first block is free and spans it.
    Block key{segment->base, segment->size, true, nullptr, nullptr, nullptr};
    auto& free_pool = pool(segment->small);
    auto found = free_pool.find(&key);
    if (found == free_pool.end()) {
      ++it;
      continue;
    }
    delete *found;
    free_pool.erase(found);
    raw_.release(segment->base, segment->size);
    stats_.reserved_bytes -= segment->size;
    delete segment;
    it = segments_.erase(it);
  }
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  release_free_segments();
}

MemoryStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void CachingAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_allocated_bytes = stats_.allocated_bytes;
  stats_.peak_reserved_bytes = stats_.reserved_bytes;
}

bool CachingAllocator::in_use() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return used_;
}

void CachingAllocator::check_policy_change(const char* what) const {
  if (used_)
    throw ValueError(raw_.device_name + ": cannot change " + what +
                     " after the device has been used (set it before the first tensor is created, "
                     "or through the environment before Python starts)");
}

void CachingAllocator::set_growth(bool growth) {
  std::lock_guard<std::mutex> lock(mutex_);
  check_policy_change("memory growth");
  stats_.growth = growth;
}

void CachingAllocator::set_limit(size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  check_policy_change("the memory limit");
  stats_.limit_bytes = round_up(bytes, kAlignment);
}

std::string CachingAllocator::oom_message(size_t requested) const {
  std::string message = raw_.device_name + " out of memory: requested " + mib(requested) + "; ";
  size_t free_bytes = 0, total_bytes = 0;
  if (raw_.mem_info && raw_.mem_info(&free_bytes, &total_bytes))
    message += mib(free_bytes) + " free of " + mib(total_bytes) + " on the device; ";
  message += "this process holds " + mib(stats_.reserved_bytes) + " (" + mib(stats_.allocated_bytes) +
             " in live tensors); policy: " + (stats_.growth ? "growth" : "no growth");
  message += stats_.limit_bytes ? ", limit " + mib(stats_.limit_bytes) : ", no limit";
  return message;
}

}  // namespace gt
