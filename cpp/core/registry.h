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

// Device memory that returns itself to the backend when it goes out of scope.
class DeviceBuffer {
 public:
  DeviceBuffer(const GtBackendTable& table, int device, size_t nbytes);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* get() const { return ptr_; }
  size_t size() const { return nbytes_; }

 private:
  const GtBackendTable& table_;
  int device_;
  size_t nbytes_;
  void* ptr_ = nullptr;
};

}  // namespace gt
