// The thin Python module of a GPU backend (_cuda or _hip, by GT_GPU_MODULE_NAME): it only hands the
// kernel table to _core as a capsule. No C++ type is bound here (pybind11 binds each type once, in _core).
#include <pybind11/pybind11.h>

#include "core/backend_table.h"

extern "C" const GtBackendTable* gt_gpu_backend_table();

PYBIND11_MODULE(GT_GPU_MODULE_NAME, m) {
  m.doc() = "gputrain GPU backend: kernel table for gputrain._core";
  m.def("backend_table", []() {
    return pybind11::capsule(const_cast<GtBackendTable*>(gt_gpu_backend_table()),
                             GT_BACKEND_CAPSULE_NAME);
  });
}
