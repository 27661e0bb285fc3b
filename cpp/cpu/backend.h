// The CPU as a backend: its table of core/op_list.h's entries, the same C ABI that the GPU modules
// register, built into _core and registered before anything can ask for it (core/registry.cpp).
#pragma once

#include "core/backend_table.h"

namespace gt::cpu_backend {

// Every entry set, each a thin adapter over the cpu:: kernels (cpp/cpu/backend.cpp).
const GtBackendTable& table();

}  // namespace gt::cpu_backend
