// Building strided views: the walk's dims and strides, then extents of 1 dropped and neighbours merged
// where the outer one's stride is the inner one's times its extent (contiguous in the walk and in the
// buffer), so a kernel divides as few times as the permutation allows.
#include "core/strided_view.h"

#include <string>

#include "core/errors.h"
#include "core/tensor.h"

namespace gt {

GtStridedView permuted_view(const std::vector<int64_t>& shape, const std::vector<int64_t>& order) {
  const size_t rank = shape.size();
  std::vector<int64_t> stride(rank, 1);
  for (size_t d = rank; d-- > 1;) stride[d - 1] = stride[d] * shape[d];
  std::vector<int64_t> dims, strides;
  for (const int64_t axis : order) {
    if (shape[axis] == 1) continue;
    if (!dims.empty() && strides.back() == stride[axis] * shape[axis]) {
      dims.back() *= shape[axis];
      strides.back() = stride[axis];
    } else {
      dims.push_back(shape[axis]);
      strides.push_back(stride[axis]);
    }
  }
  if (dims.empty()) dims.push_back(1), strides.push_back(1);  // one element
  if (dims.size() > GT_VIEW_MAX_RANK)
    throw ValueError("a permutation of " + shape_str(shape) + " walks " + std::to_string(dims.size()) +
                     " separate axes; at most " + std::to_string(GT_VIEW_MAX_RANK) + " are supported");
  GtStridedView v{};
  v.rank = static_cast<int64_t>(dims.size());
  for (size_t d = 0; d < dims.size(); ++d) v.dims[d] = dims[d], v.strides[d] = strides[d];
  return v;
}

}  // namespace gt
