// Exceptions thrown by dispatch; cpp/bindings/module.cpp turns each into the Python type named beside it.
#pragma once
#include <stdexcept>
#include <string>

namespace gt {

struct ValueError : std::invalid_argument {  // ValueError
  using std::invalid_argument::invalid_argument;
};
struct TypeError : std::invalid_argument {  // TypeError
  using std::invalid_argument::invalid_argument;
};
struct StateError : std::runtime_error {  // RuntimeError: a call out of order (pybind11's default)
  using std::runtime_error::runtime_error;
};
struct GpuError : std::runtime_error {  // gputrain.GPUError
  using std::runtime_error::runtime_error;
};
struct DeviceUnavailable : std::runtime_error {  // gputrain.DeviceUnavailableError
  using std::runtime_error::runtime_error;
};
struct OutOfMemory : std::runtime_error {  // gputrain.OutOfMemoryError (a MemoryError)
  using std::runtime_error::runtime_error;
};

}  // namespace gt
