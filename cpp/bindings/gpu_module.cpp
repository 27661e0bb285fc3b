// The thin Python module of a GPU backend (_cuda or _hip, by GT_GPU_MODULE_NAME): it only hands the
// kernel table to _core as a capsule. No C++ type is bound here (pybind11 binds each type once, in _core).
#include <pybind11/pybind11.h>

#include "core/backend_table.h"

extern "C" const GtBackendTable* gt_gpu_backend_table();

#if defined(GT_GPU_EMULATION)
#include "gpu/emulator.h"
#endif

PYBIND11_MODULE(GT_GPU_MODULE_NAME, m) {
  m.doc() = "gputrain GPU backend: kernel table for gputrain._core";
  m.def("backend_table", []() {
    return pybind11::capsule(const_cast<GtBackendTable*>(gt_gpu_backend_table()),
                             GT_BACKEND_CAPSULE_NAME);
  });
#if defined(GT_GPU_EMULATION)
  m.def("counters", []() {
    const gt::emu::Counters c = gt::emu::counters();
    pybind11::dict d;
    d["kernel_launches"] = c.kernel_launches;  // run on their own, outside graphs
    d["graph_launches"] = c.graph_launches;
    return d;
  }, "What the emulator has run since the process started (tests count launches with it).");
#endif
}
