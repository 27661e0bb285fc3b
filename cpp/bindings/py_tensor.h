// Between Python and gt::Tensor: NumPy arrays in and out of ops, the Tensor class binding, DLPack and
// the array-interface protocols.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "core/tensor.h"

namespace gt::py_bridge {

namespace py = pybind11;

// How an op call converts its arguments: if any argument is a gt Tensor the op runs on that tensor's
// device and returns Tensors; otherwise NumPy inputs go to `device` and results come back as NumPy.
class OpCall {
 public:
  // `device` is used only when none of `args` is a Tensor.
  OpCall(const std::string& device, std::initializer_list<py::handle> args);
  // Argument `name`: a Tensor as it is; a NumPy array of `dtype` (any strides) viewed or copied to the
  // op's device. TypeError naming the argument for anything else.
  Tensor arg(const py::handle& obj, const char* name, DType dtype);
  // Optional argument: an undefined Tensor for None.
  Tensor optional_arg(const py::handle& obj, const char* name, DType dtype);
  py::object result(const Tensor& t) const;
  const Device& device() const { return device_; }

 private:
  Device device_;
  bool tensor_mode_ = false;
};

py::array to_numpy(const Tensor& t);
// A shape argument: an int, or a tuple, list or 1-d array of ints (NumPy's included, bools not), each in
// [0, 2**63). TypeError or ValueError starting with `op` otherwise.
Shape shape_arg(const py::object& shape, const char* op);
Tensor from_numpy(const py::array& array, const char* name, const Device& device, bool copy);

void bind_tensor(py::module_& m);
// GPU memory policy and statistics (py_memory.cpp).
void bind_memory(py::module_& m);
// Page-locked host tensors and the staging ring of the input pipeline (py_staging.cpp).
void bind_staging(py::module_& m);
// The neural-network ops: convolution, pooling, dense, activations, losses, optimizers (py_nn_ops.cpp).
void bind_nn_ops(py::module_& m);
// The compiled training step of Sequential.fit (py_train_plan.cpp).
void bind_train_plan(py::module_& m);

}  // namespace gt::py_bridge
