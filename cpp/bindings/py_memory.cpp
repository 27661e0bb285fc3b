// Python bindings for memory: each GPU's allocator policy and statistics. (The host-budget test
// allocator is in gputrain._testing, testing_module.cpp.)
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "core/errors.h"
#include "core/memory.h"
#include "bindings/py_memory_stats.h"
#include "bindings/py_tensor.h"
#include "core/registry.h"

namespace gt::py_bridge {
namespace {

CachingAllocator& allocator(const std::string& device) { return gpu_allocator(parse_device(device)); }

}  // namespace

void bind_memory(py::module_& m) {
  using py::arg;
  m.def("memory_stats", [](const std::string& d) { return stats_dict(allocator(d).stats()); }, arg("device"));
  m.def("empty_cache", [](const std::string& d) { allocator(d).empty_cache(); }, arg("device"));
  m.def("reset_peak_memory_stats", [](const std::string& d) { allocator(d).reset_peak(); }, arg("device"));
  m.def("set_memory_growth", [](const std::string& d, bool g) { allocator(d).set_growth(g); },
        arg("device"), arg("enable"));
  m.def("set_memory_limit", [](const std::string& d, size_t n) { allocator(d).set_limit(n); },
        arg("device"), arg("bytes"));
  m.def("device_memory_info", [](const std::string& device) {
    const Device d = parse_device(device);
    const GtBackendTable& table = backend_for(d);
    size_t free_bytes = 0, total_bytes = 0;
    check_status(table, table.mem_info(d.index, &free_bytes, &total_bytes), "mem_info");
    return py::make_tuple(free_bytes, total_bytes);
  }, arg("device"));
}

}  // namespace gt::py_bridge
