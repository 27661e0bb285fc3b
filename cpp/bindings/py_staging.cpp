// Python face of the staging ring, which the training input pipeline (gputrain/feed.py) uses to copy
// batches to the device while the previous step computes.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>

#include "core/errors.h"
#include "bindings/py_tensor.h"
#include "core/staging.h"

namespace gt::py_bridge {
namespace {

// A NumPy array of rows as a host tensor (no copy when it is C-contiguous).
Tensor host_rows(const py::handle& obj, const char* name) {
  if (!py::isinstance<py::array>(obj))
    throw TypeError(std::string(name) + ": expected a NumPy array, got " +
                    std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
  return from_numpy(py::reinterpret_borrow<py::array>(obj), name, Device{}, false);
}

std::optional<RowSpec> optional_spec(const py::object& row_shape, const py::object& dtype) {
  if (row_shape.is_none() != dtype.is_none())
    throw ValueError("y_row_shape and y_dtype: give both (a ring carrying labels) or neither");
  if (row_shape.is_none()) return std::nullopt;
  return RowSpec{row_shape.cast<Shape>(), dtype_from_name(dtype.cast<std::string>())};
}

py::object tensor_or_none(const Tensor& t) { return t.defined() ? py::cast(t) : py::none(); }

}  // namespace

void bind_staging(py::module_& m) {
  using py::arg;
  py::class_<StagedBatch>(m, "StagedBatch", "A batch staged by a StagingRing: x, y (or None), rows.")
      .def_property_readonly("x", [](const StagedBatch& b) { return b.x; })
      .def_property_readonly("y", [](const StagedBatch& b) { return tensor_or_none(b.y); })
      .def_readonly("rows", &StagedBatch::rows)
      .def_readonly("slot", &StagedBatch::slot);

  py::class_<StagingRing>(m, "StagingRing",
                          "Carries batches of rows to a device through `depth` reusable slots of "
                          "page-locked and device memory (see cpp/core/staging.h).")
      .def(py::init([](const std::string& device, int64_t max_rows, int depth, const Shape& x_row_shape,
                       const std::string& x_dtype, const py::object& y_row_shape,
                       const py::object& y_dtype) {
             return std::make_unique<StagingRing>(parse_device(device), max_rows, depth,
                                                  RowSpec{x_row_shape, dtype_from_name(x_dtype)},
                                                  optional_spec(y_row_shape, y_dtype));
           }),
           arg("device"), arg("max_rows"), arg("depth"), arg("x_row_shape"), arg("x_dtype"),
           arg("y_row_shape") = py::none(), arg("y_dtype") = py::none())
      .def("stage",
           [](StagingRing& ring, const py::object& x, const py::object& y) {
             const Tensor tx = host_rows(x, "x");
             const Tensor ty = y.is_none() ? Tensor() : host_rows(y, "y");
             py::gil_scoped_release release;  // the copy into page-locked memory
             return ring.stage(tx, ty);
           },
           arg("x"), arg("y") = py::none(),
           "Copies a batch into the next slot and starts its transfer; returns a StagedBatch.")
      .def("acquire", &StagingRing::acquire, arg("batch"),
           "Before kernels use the batch (on their thread): they will wait for its copy.")
      .def("release", &StagingRing::release, arg("batch"),
           "After the step using the batch was launched: its slot may be refilled.")
      .def("copied", &StagingRing::copied, arg("batch"),
           "True once the batch's copy to the device has finished; never waits.")
      .def_property_readonly("device", [](const StagingRing& r) { return r.device().str(); })
      .def_property_readonly("depth", &StagingRing::depth)
      .def_property_readonly("max_rows", &StagingRing::max_rows);
}

}  // namespace gt::py_bridge
