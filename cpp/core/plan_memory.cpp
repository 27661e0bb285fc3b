#include "core/plan_memory.h"

#include <algorithm>
#include <numeric>

namespace gt {

std::vector<size_t> place_buffers(const std::vector<BufferLifetime>& buffers, size_t alignment, size_t* arena_bytes) {
  const auto rounded = [alignment](size_t bytes) { return (bytes + alignment - 1) / alignment * alignment; };
  std::vector<size_t> order(buffers.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return buffers[a].bytes > buffers[b].bytes; });
  std::vector<size_t> offset(buffers.size(), 0);
  std::vector<size_t> placed;  // indices, in placement order
  size_t total = 0;
  std::vector<std::pair<size_t, size_t>> taken;  // [begin, end) of placed buffers alive at the same time
  for (const size_t i : order) {
    const BufferLifetime& b = buffers[i];
    taken.clear();
    for (const size_t j : placed)
      if (buffers[j].first <= b.last && b.first <= buffers[j].last) taken.emplace_back(offset[j], offset[j] + rounded(buffers[j].bytes));
    std::sort(taken.begin(), taken.end());
    size_t at = 0;
    for (const auto& [begin, end] : taken) {
      if (begin >= at + rounded(b.bytes)) break;  // the gap before this one fits
      at = std::max(at, end);
    }
    offset[i] = at;
    total = std::max(total, at + rounded(b.bytes));
    placed.push_back(i);
  }
  *arena_bytes = total;
  return offset;
}

}  // namespace gt
