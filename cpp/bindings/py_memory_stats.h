// An allocator's statistics as the dict that gputrain.memory_stats() returns; shared by _core and the
// test allocator of _testing so that the two report the same keys.
#pragma once
#include <pybind11/pybind11.h>

#include "core/allocator.h"

namespace gt::py_bridge {

inline pybind11::dict stats_dict(const MemoryStats& s) {
  namespace py = pybind11;
  py::dict d;
  d["allocated_bytes"] = s.allocated_bytes;
  d["reserved_bytes"] = s.reserved_bytes;
  d["peak_allocated_bytes"] = s.peak_allocated_bytes;
  d["peak_reserved_bytes"] = s.peak_reserved_bytes;
  d["num_allocations"] = s.num_allocations;
  d["num_device_allocations"] = s.num_device_allocations;
  d["num_oom_retries"] = s.num_oom_retries;
  d["num_ooms"] = s.num_ooms;
  d["limit_bytes"] = s.limit_bytes ? py::cast(s.limit_bytes) : py::none();
  d["growth"] = s.growth;
  return d;
}

}  // namespace gt::py_bridge
