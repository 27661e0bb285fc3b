// gputrain._core: the Python face of the C++ core (tensors, memory, dispatch, backend registry).
// C++ types are bound to Python here only; GPU modules hand their tables over as capsules.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "core/backend_table.h"
#include "core/device.h"
#include "core/errors.h"
#include "core/ops.h"
#include "bindings/py_tensor.h"
#include "core/registry.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace py = pybind11;
using gt::py_bridge::OpCall;

namespace {

std::string register_backend(const py::capsule& capsule) {
  auto* table = static_cast<const GtBackendTable*>(
      PyCapsule_GetPointer(capsule.ptr(), GT_BACKEND_CAPSULE_NAME));
  if (table == nullptr) throw py::error_already_set();
  gt::register_backend(table);
  return table->name;
}

// What a registered backend says about itself, without creating a device context; runtime errors are
// reported in the result, not raised.
py::dict backend_status(const std::string& name) {
  const GtBackendTable* table = gt::find_backend(name);
  if (table == nullptr) throw gt::ValueError("backend '" + name + "' is not registered");
  py::dict info;
  int version = 0;
  info["runtime_version"] = table->runtime_version(&version) == GT_OK ? py::cast(version) : py::none();
  info["driver_version"] = table->driver_version(&version) == GT_OK ? py::cast(version) : py::none();
  int count = 0;
  const int status = table->device_count(&count);
  info["device_count"] = status == GT_OK ? count : 0;
  info["error"] = status == GT_OK ? py::none() : py::cast(std::string(table->last_error()));
  py::list devices;
  for (int i = 0; status == GT_OK && i < count; ++i) {
    char device_name[256] = {0};
    py::dict d;
    d["index"] = i;
    d["name"] = table->device_name(i, device_name, sizeof device_name) == GT_OK
                    ? py::cast(std::string(device_name))
                    : py::none();
    devices.append(d);
  }
  info["devices"] = devices;
  return info;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "gputrain C++ core: tensors, memory, dispatch, CPU kernels, backend registry";

  py::register_exception<gt::GpuError>(m, "GPUError", PyExc_RuntimeError);
  py::register_exception<gt::DeviceUnavailable>(m, "DeviceUnavailableError", PyExc_RuntimeError);
  py::register_exception<gt::OutOfMemory>(m, "OutOfMemoryError", PyExc_MemoryError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const gt::TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const gt::ValueError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });

  gt::py_bridge::bind_tensor(m);
  gt::py_bridge::bind_memory(m);
  gt::py_bridge::bind_nn_ops(m);
  gt::py_bridge::bind_train_plan(m);
  gt::py_bridge::bind_staging(m);

  m.def("parse_device", [](const std::string& name) { return gt::parse_device(name).str(); },
        py::arg("name"), "Canonical form of a device name; ValueError if it is not one.");
  m.def("register_backend", &register_backend, py::arg("capsule"),
        "Register a GPU module's kernel table (called by gputrain's backend loader).");
  m.def("backend_status", &backend_status, py::arg("name"));
  m.def("synchronize", [](const std::string& device) {
    const gt::Device d = gt::parse_device(device);
    if (d.type == gt::DeviceType::CPU) return;  // CPU ops finish before they return
    const GtBackendTable& table = gt::backend_for(d);
    py::gil_scoped_release release;
    gt::check_status(table, table.synchronize(d.index), "synchronize");
  }, py::arg("device"), "Wait until the device has finished all work gputrain gave it.");

  m.def("add", [](const py::object& a, const py::object& b, const std::string& device) {
    OpCall call(device, {a, b});
    gt::Tensor ta = call.arg(a, "a", gt::DType::Float32), tb = call.arg(b, "b", gt::DType::Float32);
    gt::Tensor out;
    {
      py::gil_scoped_release release;
      out = gt::ops::add(ta, tb);
    }
    return call.result(out);
  }, py::arg("a"), py::arg("b"), py::arg("device") = "cpu",
     "Element-wise a + b of two float32 arrays of one shape.");

  m.def("uint8_to_float32", [](const gt::Tensor& x) {
    py::gil_scoped_release release;
    return gt::ops::uint8_to_float32(x);
  }, py::arg("x"), "float32 copy of a uint8 Tensor, converted on its device.");

  m.def("cpu_threads", []() {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
  });
  m.attr("ABI_VERSION") = GT_BACKEND_ABI_VERSION;
}
