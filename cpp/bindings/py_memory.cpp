// Python bindings for memory: each GPU's allocator policy and statistics, and a test allocator — the
// same CachingAllocator over host memory with a byte budget — so that reuse, splitting, limits, growth,
// out-of-memory and threading are tested on machines without a GPU.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "core/errors.h"
#include "core/memory.h"
#include "bindings/py_tensor.h"
#include "core/registry.h"

namespace gt::py_bridge {
namespace {

py::dict stats_dict(const MemoryStats& s) {
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

class HostBudgetAllocator {
 public:
  explicit HostBudgetAllocator(size_t budget) : budget_(budget) {
    RawMemory raw;
    raw.device_name = "test:0";
    raw.allocate = [this](size_t n) -> void* {
      if (used_ + n > budget_) return nullptr;
      void* p = std::aligned_alloc(CachingAllocator::kAlignment, n);
      if (p) used_ += n, ++raw_allocations_;
      return p;
    };
    raw.release = [this](void* p, size_t n) { std::free(p), used_ -= n, ++raw_releases_; };
    raw.mem_info = [this](size_t* free_bytes, size_t* total) {
      *free_bytes = budget_ - used_, *total = budget_;
      return true;
    };
    allocator_ = std::make_unique<CachingAllocator>(std::move(raw));
  }
  CachingAllocator& get() { return *allocator_; }
  size_t raw_allocations() const { return raw_allocations_; }
  size_t raw_releases() const { return raw_releases_; }

 private:
  size_t budget_;
  std::atomic<size_t> used_{0}, raw_allocations_{0}, raw_releases_{0};
  std::unique_ptr<CachingAllocator> allocator_;
};

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

  py::class_<HostBudgetAllocator>(m, "_HostBudgetAllocator")
      .def(py::init<size_t>(), arg("budget_bytes"))
      .def("allocate", [](HostBudgetAllocator& a, size_t n) {
        py::gil_scoped_release release;
        return reinterpret_cast<uintptr_t>(a.get().allocate(n));
      })
      .def("deallocate", [](HostBudgetAllocator& a, uintptr_t p) {
        py::gil_scoped_release release;
        a.get().deallocate(reinterpret_cast<void*>(p));
      })
      .def("fill", [](HostBudgetAllocator&, uintptr_t p, size_t n, int byte) {
        py::gil_scoped_release release;
        std::memset(reinterpret_cast<void*>(p), byte, n);
      })
      .def("holds", [](HostBudgetAllocator&, uintptr_t p, size_t n, int byte) {
        py::gil_scoped_release release;
        const auto* c = reinterpret_cast<const unsigned char*>(p);
        for (size_t i = 0; i < n; ++i)
          if (c[i] != static_cast<unsigned char>(byte)) return false;
        return true;
      })
      .def("empty_cache", [](HostBudgetAllocator& a) { a.get().empty_cache(); })
      .def("set_growth", [](HostBudgetAllocator& a, bool g) { a.get().set_growth(g); })
      .def("set_limit", [](HostBudgetAllocator& a, size_t n) { a.get().set_limit(n); })
      .def("raw_allocations", &HostBudgetAllocator::raw_allocations)
      .def("raw_releases", &HostBudgetAllocator::raw_releases)
      .def("stats", [](HostBudgetAllocator& a) { return stats_dict(a.get().stats()); });
}

}  // namespace gt::py_bridge
