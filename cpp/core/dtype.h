// Element types a tensor can hold: float32 for compute; integers for labels and data; float16 and
// bfloat16 as storage types.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace gt {

enum class DType : uint8_t { Float32, Float16, BFloat16, Int32, Int64, UInt8 };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);  // "float32", ...
// ValueError for a name that is not one of dtype_name's.
DType dtype_from_name(const std::string& name);

}  // namespace gt
