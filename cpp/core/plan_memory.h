// Memory planning for a training plan: each buffer's lifetime over the step's schedule, and offsets in one
// arena where two buffers share addresses only if their lifetimes do not overlap. The executor sets the
// lifetimes (train_plan.cpp: forward of node i at time i, the loss at N, backward of node i at 2N - i).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace gt {

struct BufferLifetime {
  size_t bytes = 0;
  int64_t first = 0, last = 0;  // inclusive: the buffer is in use at both times
};

// Byte offsets, each a multiple of `alignment`, in an arena of *arena_bytes. Largest buffers first, each
// at the lowest offset that no buffer overlapping it in time occupies: a greedy placement, exact for
// buffers whose lifetimes nest (the common case of a chain of layers) and near it otherwise.
std::vector<size_t> place_buffers(const std::vector<BufferLifetime>& buffers, size_t alignment, size_t* arena_bytes);

}  // namespace gt
