// NumPy and DLPack conversions and the Tensor binding. NumPy memory is borrowed without a copy when it
// is already C-contiguous and on the CPU; the borrowed array is released under the GIL whichever thread
// drops the last reference.
#include "bindings/py_tensor.h"

#include <pybind11/stl.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "core/dlpack.h"
#include "core/errors.h"
#include "core/registry.h"

namespace gt::py_bridge {
namespace {

// Keeps a Python object alive from C++ that may run without the GIL.
std::shared_ptr<void> hold(py::object obj) {
  return std::shared_ptr<void>(new py::object(std::move(obj)), [](void* p) {
    if (!Py_IsInitialized()) return;  // interpreter gone: nothing left to release into
    py::gil_scoped_acquire gil;
    delete static_cast<py::object*>(p);
  });
}

DType dtype_of(const py::dtype& dt, const char* name) {
  const char kind = dt.kind();
  const auto size = dt.itemsize();
  if (dt.byteorder() == '>')
    throw TypeError(std::string(name) + ": big-endian arrays are not supported");
  if (kind == 'f' && size == 4) return DType::Float32;
  if (kind == 'f' && size == 2) return DType::Float16;
  if (kind == 'i' && size == 4) return DType::Int32;
  if (kind == 'i' && size == 8) return DType::Int64;
  if (kind == 'u' && size == 1) return DType::UInt8;
  if (std::string(py::str(dt)) == "bfloat16") return DType::BFloat16;  // ml_dtypes' bfloat16
  throw TypeError(std::string(name) + ": dtype " + std::string(py::str(dt)) +
                  " is not supported (float32, float16, bfloat16, int32, int64, uint8)");
}

py::dtype numpy_dtype(DType dtype) {
  switch (dtype) {
    case DType::Float32: return py::dtype("float32");
    case DType::Float16: return py::dtype("float16");
    case DType::Int32: return py::dtype("int32");
    case DType::Int64: return py::dtype("int64");
    case DType::UInt8: return py::dtype("uint8");
    case DType::BFloat16: break;
  }
  try {
    return py::dtype::from_args(py::module_::import("ml_dtypes").attr("bfloat16"));
  } catch (py::error_already_set&) {
    throw TypeError("bfloat16 tensors convert to NumPy through the ml_dtypes package: pip install ml_dtypes");
  }
}

const char* typestr(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "<f4";
    case DType::Float16: return "<f2";
    case DType::Int32: return "<i4";
    case DType::Int64: return "<i8";
    case DType::UInt8: return "|u1";
    case DType::BFloat16: return nullptr;  // no array-interface type string exists for bfloat16
  }
  return nullptr;
}

py::tuple shape_tuple(const Shape& shape) {
  py::tuple t(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) t[i] = shape[i];
  return t;
}

// ---- DLPack ----------------------------------------------------------------------------------------

DLDevice dl_device(const Device& device) {
  switch (device.type) {
    case DeviceType::CUDA: return {kDLCUDA, device.index};
    case DeviceType::HIP: return {kDLROCM, device.index};
    default: return {kDLCPU, 0};
  }
}

DLDataType dl_dtype(DType dtype) {
  switch (dtype) {
    case DType::Float32: return {kDLFloat, 32, 1};
    case DType::Float16: return {kDLFloat, 16, 1};
    case DType::BFloat16: return {kDLBfloat, 16, 1};
    case DType::Int32: return {kDLInt, 32, 1};
    case DType::Int64: return {kDLInt, 64, 1};
    case DType::UInt8: return {kDLUInt, 8, 1};
  }
  return {kDLFloat, 32, 1};
}

DType dtype_from_dl(DLDataType t) {
  if (t.lanes == 1) {
    if (t.code == kDLFloat && t.bits == 32) return DType::Float32;
    if (t.code == kDLFloat && t.bits == 16) return DType::Float16;
    if (t.code == kDLBfloat && t.bits == 16) return DType::BFloat16;
    if (t.code == kDLInt && t.bits == 32) return DType::Int32;
    if (t.code == kDLInt && t.bits == 64) return DType::Int64;
    if (t.code == kDLUInt && t.bits == 8) return DType::UInt8;
  }
  throw TypeError("from_dlpack: DLPack dtype (code " + std::to_string(t.code) + ", bits " +
                  std::to_string(t.bits) + ", lanes " + std::to_string(t.lanes) + ") is not supported");
}

// What an exported tensor keeps alive until the consumer calls the deleter.
struct ExportContext {
  Tensor tensor;
  std::vector<int64_t> shape;
};

void fill_dl_tensor(DLTensor& dl, ExportContext* ctx) {
  dl.data = ctx->tensor.raw();
  dl.device = dl_device(ctx->tensor.device());
  dl.ndim = ctx->tensor.ndim();
  dl.dtype = dl_dtype(ctx->tensor.dtype());
  dl.shape = ctx->shape.data();
  dl.strides = nullptr;  // our tensors are always compact row-major
  dl.byte_offset = 0;
}

// The legacy and the versioned DLPack structs share every field we set except the version.
template <class Managed>
struct CapsuleName;
template <>
struct CapsuleName<DLManagedTensor> {
  static constexpr const char* value = "dltensor";
};
template <>
struct CapsuleName<DLManagedTensorVersioned> {
  static constexpr const char* value = "dltensor_versioned";
};

template <class Managed>
py::capsule export_managed(const Tensor& t) {
  auto* managed = new Managed{};
  if constexpr (std::is_same_v<Managed, DLManagedTensorVersioned>) {
    managed->version = {1, 0};
    if (t.read_only()) managed->flags |= GT_DLPACK_FLAG_READ_ONLY;
  }
  auto* ctx = new ExportContext{t, t.shape()};
  managed->manager_ctx = ctx;
  managed->deleter = [](Managed* self) {
    delete static_cast<ExportContext*>(self->manager_ctx);
    delete self;
  };
  fill_dl_tensor(managed->dl_tensor, ctx);
  return py::capsule(managed, CapsuleName<Managed>::value, [](PyObject* capsule) {
    // Still under its original name: nobody consumed it, so the deleter is ours to call.
    constexpr const char* name = CapsuleName<Managed>::value;
    if (PyCapsule_IsValid(capsule, name)) {
      auto* m = static_cast<Managed*>(PyCapsule_GetPointer(capsule, name));
      m->deleter(m);
    }
  });
}

py::capsule export_dlpack(const Tensor& t, bool versioned) {
  // A legacy capsule cannot say "read-only", and its consumer would be free to write.
  if (t.read_only() && !versioned)
    throw py::buffer_error("__dlpack__: the tensor is read-only, which only DLPack 1.0 can signal; "
                           "the consumer must pass max_version=(1, 0), or export a copy (copy=True)");
  return versioned ? export_managed<DLManagedTensorVersioned>(t) : export_managed<DLManagedTensor>(t);
}

// __array_interface__ (CPU) and __cuda_array_interface__ (CUDA), version 3; AttributeError elsewhere
// so that NumPy and CuPy fall back to their other protocols.
py::dict array_interface(const Tensor& t, const char* protocol, DeviceType required) {
  if (t.device().type != required)
    throw py::attribute_error(std::string(protocol) + ": the tensor is on " + t.device().str() +
                              (required == DeviceType::CPU ? "; copy it to the host with .numpy()" : ""));
  const char* ts = typestr(t.dtype());
  if (ts == nullptr) throw py::attribute_error(std::string(protocol) + ": no type string for bfloat16");
  py::dict d;
  d["shape"] = shape_tuple(t.shape());
  d["typestr"] = ts;
  d["data"] = py::make_tuple(reinterpret_cast<uintptr_t>(t.raw()), t.read_only());
  d["strides"] = py::none();
  d["version"] = 3;
  if (required == DeviceType::CUDA) d["stream"] = 1;  // our work is ordered on the legacy default stream
  return d;
}

Tensor import_dl_tensor(const DLTensor& dl, std::shared_ptr<void> owner, bool read_only) {
  Device device;
  switch (dl.device.device_type) {
    case kDLCPU:
    case kDLCUDAHost:
    case kDLROCMHost: device.type = DeviceType::CPU; break;
    case kDLCUDA: device = {DeviceType::CUDA, dl.device.device_id}; break;
    case kDLROCM: device = {DeviceType::HIP, dl.device.device_id}; break;
    default:
      throw TypeError("from_dlpack: DLPack device type " + std::to_string(dl.device.device_type) +
                      " is not supported (CPU, CUDA, ROCm)");
  }
  const DType dtype = dtype_from_dl(dl.dtype);
  Shape shape(dl.shape, dl.shape + dl.ndim);
  // Strides of an empty tensor are arbitrary (NumPy gives 0s): there is nothing to lay out.
  const bool empty = std::find(shape.begin(), shape.end(), 0) != shape.end();
  if (dl.strides != nullptr && !empty) {
    int64_t expected = 1;
    for (int i = dl.ndim - 1; i >= 0; --i) {
      if (shape[i] != 1 && dl.strides[i] != expected)
        throw ValueError("from_dlpack: the tensor of shape " + shape_str(shape) +
                         " is not contiguous; make it so first (.contiguous() in PyTorch, "
                         "numpy.ascontiguousarray in NumPy)");
      expected *= shape[i];
    }
  }
  return Tensor::borrow(static_cast<char*>(dl.data) + dl.byte_offset, shape, dtype, device,
                        std::move(owner), read_only);
}

Tensor import_dlpack(const py::capsule& capsule) {
  PyObject* cap = capsule.ptr();
  if (PyCapsule_IsValid(cap, "dltensor_versioned")) {
    auto* managed = static_cast<DLManagedTensorVersioned*>(PyCapsule_GetPointer(cap, "dltensor_versioned"));
    if (managed->version.major != 1)
      throw TypeError("from_dlpack: DLPack version " + std::to_string(managed->version.major) +
                      " is not supported");
    // Take ownership before anything can throw, so the producer's deleter runs exactly once.
    PyCapsule_SetName(cap, "used_dltensor_versioned");
    std::shared_ptr<void> owner(managed, [](void* p) {
      auto* m = static_cast<DLManagedTensorVersioned*>(p);
      if (m->deleter) m->deleter(m);
    });
    return import_dl_tensor(managed->dl_tensor, owner, managed->flags & GT_DLPACK_FLAG_READ_ONLY);
  }
  if (PyCapsule_IsValid(cap, "dltensor")) {
    auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(cap, "dltensor"));
    PyCapsule_SetName(cap, "used_dltensor");
    std::shared_ptr<void> owner(managed, [](void* p) {
      auto* m = static_cast<DLManagedTensor*>(p);
      if (m->deleter) m->deleter(m);
    });
    return import_dl_tensor(managed->dl_tensor, owner, false);
  }
  throw TypeError("from_dlpack: expected an unconsumed DLPack capsule");
}

// __dlpack__'s max_version and dl_device: a pair of ints; a TypeError naming the argument otherwise
// (instead of pybind11's cast error, which names a C++ type).
std::pair<int, int> int_pair_arg(const py::object& obj, const char* name) {
  if (py::isinstance<py::tuple>(obj) || py::isinstance<py::list>(obj)) {
    const auto items = py::reinterpret_borrow<py::sequence>(obj);
    if (items.size() == 2 && py::isinstance<py::int_>(items[0]) && py::isinstance<py::int_>(items[1]) &&
        !py::isinstance<py::bool_>(items[0]) && !py::isinstance<py::bool_>(items[1])) {
      try {
        return {items[0].cast<int>(), items[1].cast<int>()};
      } catch (const py::cast_error&) {
        // an int beyond C's int: reported below
      }
    }
  }
  throw TypeError(std::string("__dlpack__: ") + name + " must be a pair of ints (Python ints within C int), got " +
                  std::string(py::str(py::repr(obj))).substr(0, 60));
}

void synchronize(const Device& device) {
  if (device.type == DeviceType::CPU) return;
  const GtBackendTable& table = backend_for(device);
  check_status(table, table.synchronize(device.index), "synchronize");
}

// ---- Arguments of the Tensor methods and factories -----------------------------------------------

std::string type_name(const py::handle& obj) {
  return py::str(py::type::handle_of(obj).attr("__name__"));
}

bool isinstance_numpy(const py::handle& obj, const char* type) {
  return py::isinstance(obj, py::module_::import("numpy").attr(type));
}

// A device name as gputrain resolves it: None is the default device, and a GPU's backend module is
// loaded on first use. That policy is Python (gputrain/_backends.py); the methods here call it rather
// than keep a second copy of it.
std::string resolve_device(const py::object& device) {
  PYBIND11_CONSTINIT static py::gil_safe_call_once_and_store<py::object> storage;
  const py::object& resolve = storage.call_once_and_store_result([] {
    return py::module_::import("gputrain._backends").attr("resolve_device");
  }).get_stored();
  return resolve(device).cast<std::string>();
}

// A bool or NumPy bool; anything else (a string, an int) is a TypeError rather than read as truthy.
bool flag_arg(const py::object& value, const char* name, const char* op) {
  if (PyBool_Check(value.ptr())) return value.ptr() == Py_True;
  if (isinstance_numpy(value, "bool_")) return PyObject_IsTrue(value.ptr()) == 1;
  throw TypeError(std::string(op) + ": " + name + " must be a bool, got " + type_name(value));
}

bool is_extent(const py::handle& d) {
  if (PyBool_Check(d.ptr())) return false;
  return PyLong_Check(d.ptr()) || isinstance_numpy(d, "integer");
}

}  // namespace

Shape shape_arg(const py::object& shape, const char* op) {
  const std::string what = std::string(op) + ": shape must be an int or a tuple of ints, got ";
  py::list dims;
  if (is_extent(shape)) {
    dims.append(shape);
  } else if (PyTuple_Check(shape.ptr()) || PyList_Check(shape.ptr()) ||
             (py::isinstance<py::array>(shape) && py::reinterpret_borrow<py::array>(shape).ndim() == 1)) {
    for (const auto d : shape) dims.append(d);
    for (const auto d : dims)
      if (!is_extent(d)) throw TypeError(what + std::string(py::repr(py::tuple(dims))));
  } else {
    throw TypeError(what + type_name(shape));
  }
  py::tuple ints(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) ints[i] = py::int_(dims[i]);
  const py::int_ zero(0);
  for (const auto d : ints)
    if (PyObject_RichCompareBool(d.ptr(), zero.ptr(), Py_LT) == 1)
      throw ValueError(std::string(op) + ": shape: extents must be >= 0, got " + std::string(py::repr(ints)));
  Shape out;
  for (const auto d : ints) {
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(d.ptr(), &overflow);
    if (overflow != 0)
      throw ValueError(std::string(op) + ": shape: extents must be below 2**63, got " +
                       std::string(py::repr(ints)));
    out.push_back(v);
  }
  return out;
}

Tensor from_numpy(const py::array& array, const char* name, const Device& device, bool copy) {
  const DType dtype = dtype_of(array.dtype(), name);
  // Strided or Fortran-ordered input becomes one C-ordered copy; C-ordered input is used as it is.
  // (asarray, not ascontiguousarray, which turns a 0-d array into shape (1,).)
  auto contiguous = py::reinterpret_borrow<py::array>(
      py::module_::import("numpy").attr("asarray")(array, py::arg("order") = "C"));
  const Shape shape(contiguous.shape(), contiguous.shape() + contiguous.ndim());
  if (device.type == DeviceType::CPU && !copy)
    return Tensor::borrow(const_cast<void*>(contiguous.data()), shape, dtype, device, hold(contiguous));
  Tensor out = Tensor::empty(shape, dtype, device);
  const void* src = contiguous.data();
  py::gil_scoped_release release;
  copy_bytes(device, out.raw(), Device{}, src, out.nbytes());
  return out;
}

py::array to_numpy(const Tensor& t) {
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
  py::array out(numpy_dtype(t.dtype()), shape);
  void* dst = out.mutable_data();
  {
    py::gil_scoped_release release;
    copy_bytes(Device{}, dst, t.device(), t.raw(), t.nbytes());
  }
  return out;
}

OpCall::OpCall(const std::string& device, std::initializer_list<py::handle> args) {
  for (const auto& a : args) {
    if (py::isinstance<Tensor>(a)) {
      device_ = a.cast<const Tensor&>().device();
      tensor_mode_ = true;
      return;
    }
  }
  device_ = parse_device(device);
}

Tensor OpCall::arg(const py::handle& obj, const char* name, DType dtype) {
  if (py::isinstance<Tensor>(obj)) {
    const Tensor& t = obj.cast<const Tensor&>();
    if (t.dtype() != dtype)
      throw TypeError(std::string(name) + ": expected " + dtype_name(dtype) + ", got " + dtype_name(t.dtype()));
    if (t.device().str() != device_.str())
      throw ValueError(std::string(name) + " is on " + t.device().str() + " but this op runs on " +
                       device_.str() + " (move it with .to('" + device_.str() + "'))");
    return t;
  }
  if (!py::isinstance<py::array>(obj))
    throw TypeError(std::string(name) + ": expected a NumPy array or gputrain.Tensor, got " +
                    std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
  auto array = py::reinterpret_borrow<py::array>(obj);
  const std::string given = py::str(array.dtype());
  if (given != dtype_name(dtype))
    throw TypeError(std::string(name) + ": expected " + dtype_name(dtype) + ", got " + given +
                    " (convert with .astype(numpy." + dtype_name(dtype) + "))");
  return from_numpy(array, name, device_, false);
}

Tensor OpCall::optional_arg(const py::handle& obj, const char* name, DType dtype) {
  return obj.is_none() ? Tensor() : arg(obj, name, dtype);
}

py::object OpCall::result(const Tensor& t) const {
  if (tensor_mode_) return py::cast(t);
  if (t.device().type == DeviceType::CPU && t.dtype() != DType::BFloat16) {
    // A fresh CPU result is handed to NumPy without a copy: the array's base owns the tensor. (A copy
    // of a large result costs as much as a fast kernel: 64 MiB of dense_grad's dkernel, page faults
    // of a new array included, took longer than the GEMM that made it.)
    auto* owner = new Tensor(t);
    py::capsule base(owner, [](void* p) { delete static_cast<Tensor*>(p); });
    std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
    return py::array(numpy_dtype(t.dtype()), shape, t.raw(), base);
  }
  return to_numpy(t);
}

void bind_tensor(py::module_& m) {
  using py::arg;
  py::class_<Tensor>(m, "Tensor",
                     "An array on a device (CPU, CUDA or HIP GPU); create one with gputrain.tensor().")
      .def_property_readonly("shape", [](const Tensor& t) { return shape_tuple(t.shape()); })
      .def_property_readonly("dtype", [](const Tensor& t) { return std::string(dtype_name(t.dtype())); })
      .def_property_readonly("device", [](const Tensor& t) { return t.device().str(); })
      .def_property_readonly("ndim", &Tensor::ndim)
      .def_property_readonly("size", &Tensor::numel)
      .def_property_readonly("nbytes", &Tensor::nbytes)
      .def_property_readonly("read_only", &Tensor::read_only,
                             "True when the memory was lent for reading only (a read-only array shared "
                             "through DLPack): ops do not update it in place.")
      .def("numpy", &to_numpy, "A NumPy copy of the tensor, on the host.")
      .def("reshape", [](const Tensor& t, const py::object& shape) { return t.reshape(shape_arg(shape, "reshape")); },
           arg("shape"), "This tensor's memory viewed with another shape of as many elements (no copy).")
      .def("to",
           [](const Tensor& t, const py::object& device, const py::object& copy, const py::object& non_blocking) {
             const Device d = parse_device(resolve_device(device));
             const bool c = flag_arg(copy, "copy", "to"), nb = flag_arg(non_blocking, "non_blocking", "to");
             py::gil_scoped_release release;
             return t.to(d, c, nb);
           },
           arg("device"), arg("copy") = false, arg("non_blocking") = false,
           "This tensor on `device`: itself if it is already there (unless copy=True), else a copy.\n\n"
           "non_blocking=True, for a tensor in page-locked memory (see pin_memory) going to the GPU it was\n"
           "pinned for, returns before the data has moved: the copy runs on the device's copy stream, and work\n"
           "later given to the device waits for it. Do not write the source until the copy is done\n"
           "(gputrain.synchronize(device), or reading the result back). Other copies are synchronous.")
      .def("pin_memory",
           [](const Tensor& t, const py::object& device) {
             const std::string gpu = resolve_device(device);
             if (gpu == "cpu")
               throw ValueError("pin_memory: page-locked memory serves copies to a GPU, and the device is cpu; "
                                "name a GPU, for example device='cuda:0'");
             if (t.device().type != DeviceType::CPU)
               throw ValueError("pin_memory: the tensor is on " + t.device().str() +
                                "; only host (cpu) tensors can be page-locked");
             Tensor out = Tensor::pinned_empty(t.shape(), t.dtype(), parse_device(gpu));
             py::gil_scoped_release release;
             std::memcpy(out.raw(), t.raw(), t.nbytes());
             return out;
           },
           arg("device") = py::none(),
           "A copy of this host tensor in page-locked (pinned) memory, which `.to(gpu, non_blocking=True)`\n"
           "copies from without the host waiting. `device`: the GPU it is for (default: the default device).")
      .def("is_pinned", &Tensor::is_pinned, "True for a host tensor in page-locked memory (from pin_memory).")
      .def("__repr__", [](const Tensor& t) {
        std::string body;
        if (t.dtype() == DType::BFloat16 || t.numel() == 0) {
          body = "shape=" + std::string(py::repr(shape_tuple(t.shape())));
        } else {
          body = py::str(py::module_::import("numpy").attr("array2string")(
              to_numpy(t), py::arg("separator") = ", ", py::arg("prefix") = "gputrain.Tensor(",
              py::arg("threshold") = 100));
        }
        return "gputrain.Tensor(" + body + ", dtype=" + dtype_name(t.dtype()) + ", device='" + t.device().str() +
               "')";
      })
      .def("__len__", [](const Tensor& t) {
        if (t.ndim() == 0) throw TypeError("len() of a 0-d tensor");
        return t.dim(0);
      })
      .def("__dlpack_device__", [](const Tensor& t) {
        const DLDevice d = dl_device(t.device());
        return py::make_tuple(d.device_type, d.device_id);
      })
      .def("__dlpack__",
           [](const Tensor& t, py::object stream, py::object max_version, py::object dl_device_arg,
              py::object copy) {
             if (!stream.is_none() && (!py::isinstance<py::int_>(stream) || py::isinstance<py::bool_>(stream)))
               throw TypeError("__dlpack__: stream must be None or an int, got " +
                               std::string(py::str(py::type::handle_of(stream).attr("__name__"))));
             if (!copy.is_none() && !py::isinstance<py::bool_>(copy))
               throw TypeError("__dlpack__: copy must be None or a bool, got " +
                               std::string(py::str(py::type::handle_of(copy).attr("__name__"))));
             const bool versioned = !max_version.is_none() && int_pair_arg(max_version, "max_version").first >= 1;
             if (!dl_device_arg.is_none()) {
               const auto wanted = int_pair_arg(dl_device_arg, "dl_device");
               const DLDevice d = dl_device(t.device());
               if (wanted.first != d.device_type || wanted.second != d.device_id)
                 throw py::buffer_error("__dlpack__: export to another device is not supported; use .to()");
             }
             if (!copy.is_none() && copy.cast<bool>()) return export_dlpack(t.to(t.device(), true), versioned);
             // Our kernels run on the device's legacy default stream: wait for them before a consumer
             // reads on its own stream (-1 means the consumer needs no synchronisation).
             if (!stream.is_none() && !py::int_(-1).equal(stream)) synchronize(t.device());
             return export_dlpack(t, versioned);
           },
           py::kw_only(), arg("stream") = py::none(), arg("max_version") = py::none(),
           arg("dl_device") = py::none(), arg("copy") = py::none())
      .def_property_readonly("__array_interface__", [](const Tensor& t) {
        return array_interface(t, "__array_interface__", DeviceType::CPU);
      })
      .def_property_readonly("__cuda_array_interface__", [](const Tensor& t) {
        return array_interface(t, "__cuda_array_interface__", DeviceType::CUDA);
      })
      .def("__array__",
           [](const Tensor& t, py::object dtype, py::object copy) -> py::object {
             if (t.device().type != DeviceType::CPU)
               throw TypeError("the tensor is on " + t.device().str() +
                               ": NumPy cannot read GPU memory; copy it with .numpy()");
             py::object array = to_numpy(t);
             if (!dtype.is_none()) array = array.attr("astype")(dtype);
             return array;
           },
           arg("dtype") = py::none(), py::kw_only(), arg("copy") = py::none());

  m.def("tensor_from_numpy",
        [](const py::array& array, const std::string& device) {
          return from_numpy(array, "data", parse_device(device), true);
        },
        arg("array"), arg("device"));
  m.def("empty",
        [](const py::object& shape, const std::string& dtype, const std::string& device) {
          return Tensor::empty(shape_arg(shape, "empty"), dtype_from_name(dtype), parse_device(device));
        },
        arg("shape"), arg("dtype"), arg("device"));
  m.def("zeros",
        [](const py::object& shape, const std::string& dtype, const std::string& device) {
          return Tensor::zeros(shape_arg(shape, "zeros"), dtype_from_name(dtype), parse_device(device));
        },
        arg("shape"), arg("dtype"), arg("device"));
  m.def("from_dlpack_capsule", &import_dlpack, arg("capsule"),
        "A tensor sharing the memory of an unconsumed DLPack capsule.");
}

}  // namespace gt::py_bridge
