// gputrain._testing: hooks that only the tests use (fault injection, reference kernels, an allocator
// over host memory). A module of its own so that a user's `import gputrain` never loads them; it links
// the same shared core library as _core (libgputrain_core, see CMakeLists.txt), so a hook changes the
// state that _core's ops run with, not a copy of it.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "bindings/py_memory_stats.h"
#include "core/allocator.h"
#include "core/errors.h"
#include "core/fast_divmod.h"
#include "cpu/conv2d.h"
#include "cpu/gemm.h"

namespace py = pybind11;

namespace gt::py_bridge {
namespace {

// The same CachingAllocator the GPUs use, over host memory with a byte budget, so that reuse, splitting,
// limits, growth, out-of-memory and threading are tested on machines without a GPU.
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

void bind_host_budget_allocator(py::module_& m) {
  using py::arg;
  py::class_<HostBudgetAllocator>(m, "HostBudgetAllocator")
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

void bind_kernel_hooks(py::module_& m) {
  using py::arg;
  m.def("sgemm_reference", [](py::array_t<float, py::array::c_style | py::array::forcecast> a,
                              py::array_t<float, py::array::c_style | py::array::forcecast> b) {
    // The plain-loop GEMM kept beside the blocked one (tests compare the two).
    if (a.ndim() != 2 || b.ndim() != 2 || a.shape(1) != b.shape(0))
      throw ValueError("sgemm_reference: expected (m, k) and (k, n) matrices");
    py::array_t<float> c({a.shape(0), b.shape(1)});
    cpu::sgemm_reference(false, false, a.shape(0), b.shape(1), a.shape(1), a.data(), a.shape(1), b.data(),
                         b.shape(1), c.mutable_data(), b.shape(1), false, nullptr);
    return c;
  }, arg("a"), arg("b"));

  m.def("fast_divmod", [](py::array_t<uint32_t, py::array::c_style | py::array::forcecast> numerators,
                          uint32_t divisor) {
    // The GPU loaders' division by a constant, run on the host, as (quotients, remainders).
    if (divisor == 0) throw ValueError("divisor: must be >= 1");
    const FastDivmod fast(divisor);
    py::array_t<uint32_t> q(numerators.size()), r(numerators.size());
    for (py::ssize_t i = 0; i < numerators.size(); ++i) {
      uint32_t rem = 0;
      q.mutable_data()[i] = fast.divmod(numerators.data()[i], &rem);
      r.mutable_data()[i] = rem;
    }
    return py::make_tuple(q, r);
  }, arg("numerators"), arg("divisor"));

  m.def("set_cpu_conv_column_budget", &cpu::set_conv2d_column_budget, arg("floats"),
        "The CPU convolution's block of data-gradient columns, in floats; returns the previous one.");
  m.def("fail_cpu_gemm_allocations", &cpu::fail_gemm_scratch_allocations, arg("count"),
        "The CPU GEMM's next `count` buffer allocations fail; returns the count pending before.");
}

}  // namespace
}  // namespace gt::py_bridge

PYBIND11_MODULE(_testing, m) {
  m.doc() = "gputrain test hooks (tests only; `import gputrain` does not load this module)";
  // _core registers the translation of gputrain's C++ exceptions (ValueError, ...), which the hooks
  // throw too; importing it first also keeps the load order of a user's process.
  py::module_::import("gputrain._core");
  gt::py_bridge::bind_host_budget_allocator(m);
  gt::py_bridge::bind_kernel_hooks(m);
}
