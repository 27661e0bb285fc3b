// The backends' kernel tables: the CPU's, built into _core and present from the start, and the GPU
// modules' registered by them; checked calls into any of them.
#pragma once
#include <string>

#include "core/backend_table.h"
#include "core/device.h"

namespace gt {

// Stores a GPU module's `table` under its name; ValueError if its ABI version is not ours, or if it
// would replace the CPU's.
void register_backend(const GtBackendTable* table);
// The table for a device (the CPU's for "cpu"), or DeviceUnavailable when its module is not registered
// or the index is past the device count. Cheap (no lock): dispatch calls it for every kernel.
const GtBackendTable& backend_for(const Device& device);
// Null when the backend is not registered.
const GtBackendTable* find_backend(const std::string& name);

// Turns a table's status into the matching C++ exception, naming the operation.
void check_status(const GtBackendTable& table, int status, const char* what);

}  // namespace gt
