// The GPU backend's functions for the table's entries, declared from core/op_list.h (one per entry, of the
// entry's name and signature) in gt::gpu: the runtime's in runtime.cu, each kernel's beside it in its op
// family's .cu file. Also the device limits that launchers size grids with.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/backend_table.h"

namespace gt::gpu {

// Queried from the device on every launch that needs them (an attribute read, no synchronisation):
// the warp (wavefront) width is 32 on NVIDIA and RDNA, 64 on CDNA, never assumed.
struct DeviceLimits {
  int sm_count = 0;
  int warp_size = 0;
};
int device_limits(int device, DeviceLimits* limits);

// A definition whose signature differs from its entry's overloads this declaration instead of defining
// it, and the module then fails to load (undefined symbol): keep them identical.
#define GT_OP(Ret, Name, Params) Ret Name Params;
#include "core/op_list.h"

}  // namespace gt::gpu
