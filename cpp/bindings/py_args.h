// Argument parsing shared by the op bindings and the training-plan binding: (height, width) pairs and
// pool kinds, each rejected with a ValueError naming the argument.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/nn_ops.h"

namespace gt::py_bridge {

inline ops::Pair pair_arg(const std::vector<int64_t>& v, const char* name) {
  if (v.size() != 2)
    throw ValueError(std::string(name) + ": expected 2 integers (height, width), got " +
                     std::to_string(v.size()));
  return {v[0], v[1]};
}

inline GtPoolKind pool_kind(const std::string& kind) {
  if (kind == "max") return GT_POOL_MAX;
  if (kind == "avg") return GT_POOL_AVG;
  throw ValueError("kind: expected 'max' or 'avg', got '" + kind + "'");
}

}  // namespace gt::py_bridge
