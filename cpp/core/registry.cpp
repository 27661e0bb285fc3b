// Backend registration and status checking. Tables are registered once by the Python loader and never
// removed (the modules stay loaded for the life of the process), so plain pointers are safe to hand out.
#include "core/registry.h"

#include <map>
#include <mutex>

#include "core/errors.h"

namespace gt {
namespace {
std::mutex registry_mutex;
std::map<std::string, const GtBackendTable*>& tables() {
  static std::map<std::string, const GtBackendTable*> registered;
  return registered;
}
}  // namespace

void register_backend(const GtBackendTable* table) {
  if (table == nullptr) throw ValueError("backend table: null pointer");
  if (table->abi_version != GT_BACKEND_ABI_VERSION || table->struct_size != sizeof(GtBackendTable))
    throw ValueError("backend table '" + std::string(table->name ? table->name : "?") +
                     "': ABI version " + std::to_string(table->abi_version) + " (size " +
                     std::to_string(table->struct_size) + "), this _core expects version " +
                     std::to_string(GT_BACKEND_ABI_VERSION) + " (size " +
                     std::to_string(sizeof(GtBackendTable)) + "); rebuild gputrain as one package");
  std::lock_guard<std::mutex> lock(registry_mutex);
  tables()[table->name] = table;
}

const GtBackendTable* find_backend(const std::string& name) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  auto it = tables().find(name);
  return it == tables().end() ? nullptr : it->second;
}

const GtBackendTable& backend_for(const Device& device) {
  const GtBackendTable* table = find_backend(device.backend());
  if (table == nullptr)
    throw DeviceUnavailable(device.str() + ": the " + device.backend() +
                            " backend is not loaded (see gputrain.doctor())");
  int count = 0;
  check_status(*table, table->device_count(&count), "device_count");
  if (device.index >= count)
    throw DeviceUnavailable(device.str() + ": only " + std::to_string(count) + " " +
                            device.backend() + " device(s) present");
  return *table;
}

void check_status(const GtBackendTable& table, int status, const char* what) {
  if (status == GT_OK) return;
  const std::string message = std::string(table.name) + " " + what + ": " + table.last_error();
  switch (status) {
    case GT_ERR_NO_DEVICE: throw DeviceUnavailable(message);
    case GT_ERR_OUT_OF_MEMORY: throw OutOfMemory(message);
    default: throw GpuError(message);
  }
}

}  // namespace gt
