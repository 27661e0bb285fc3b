// Strided views (GtStridedView, core/op_params.h): the offset of a walk's element, shared by the CPU and
// GPU kernels, and the views Permute and PReLU walk, built on the host with dims of extent 1 dropped and
// dims contiguous in both orders merged (a permutation that keeps the channels last walks whole lines).
#pragma once
#include <cstdint>
#include <vector>

#include "core/host_device.h"
#include "core/op_params.h"

namespace gt {

// The offset that the walk's element t reads.
GT_HOST_DEVICE inline int64_t view_offset(const GtStridedView& v, int64_t t) {
  int64_t offset = 0;
  for (int64_t d = v.rank - 1; d > 0; --d) {
    const int64_t q = t / v.dims[d];
    offset += (t - q * v.dims[d]) * v.strides[d];
    t = q;
  }
  return offset + t * v.strides[0];
}

inline int64_t view_size(const GtStridedView& v) {
  int64_t n = 1;
  for (int64_t d = 0; d < v.rank; ++d) n *= v.dims[d];
  return n;
}

// The walk over a contiguous buffer of `shape` that visits its axes in `order` (a permutation of
// 0..rank-1: the walk's dim k is the buffer's axis order[k]). A ValueError if the merged walk has more
// than GT_VIEW_MAX_RANK dims.
GtStridedView permuted_view(const std::vector<int64_t>& shape, const std::vector<int64_t>& order);

}  // namespace gt
