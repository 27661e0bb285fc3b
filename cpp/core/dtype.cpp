// DType names and sizes.
#include "core/dtype.h"

#include "core/errors.h"

namespace gt {

namespace {
struct DTypeInfo {
  DType dtype;
  const char* name;
  size_t size;
};
constexpr DTypeInfo kDTypes[] = {
    {DType::Float32, "float32", 4}, {DType::Float16, "float16", 2}, {DType::BFloat16, "bfloat16", 2},
    {DType::Int32, "int32", 4},     {DType::Int64, "int64", 8},     {DType::UInt8, "uint8", 1},
};
}  // namespace

size_t dtype_size(DType dtype) { return kDTypes[static_cast<int>(dtype)].size; }
const char* dtype_name(DType dtype) { return kDTypes[static_cast<int>(dtype)].name; }

DType dtype_from_name(const std::string& name) {
  for (const auto& info : kDTypes)
    if (name == info.name) return info.dtype;
  throw ValueError("dtype: '" + name +
                   "' is not supported; expected float32, float16, bfloat16, int32, int64 or uint8");
}

}  // namespace gt
