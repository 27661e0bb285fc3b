// The GPU backends registered by their modules, and checked calls into their C tables.
#pragma once
#include <string>

#include "core/backend_table.h"
#include "core/device.h"

namespace gt {

// Stores `table` under its name; ValueError if its ABI version is not ours.
void register_backend(const GtBackendTable* table);
// The table for a GPU device, or DeviceUnavailable when its module is not registered or the index
// is past the device count.
const GtBackendTable& backend_for(const Device& device);
// Null when the backend is not registered.
const GtBackendTable* find_backend(const std::string& name);

// Turns a table's status into the matching C++ exception, naming the operation.
void check_status(const GtBackendTable& table, int status, const char* what);

}  // namespace gt
