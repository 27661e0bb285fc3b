// Backend registration and status checking. Tables are registered once and never removed (the modules
// stay loaded for the life of the process), so plain pointers are safe to hand out. The CPU's table is
// there from the first lookup on; a GPU table is also kept by device type, for lookups without a lock.
#include "core/registry.h"

#include <atomic>
#include <map>
#include <mutex>

#include "core/errors.h"
#include "cpu/backend.h"

namespace gt {
namespace {

constexpr int kDeviceTypes = 3;  // DeviceType: CPU, CUDA, HIP

struct Registry {
  std::mutex mutex;  // guards by_name; by_type is read without it
  std::map<std::string, const GtBackendTable*> by_name;
  std::atomic<const GtBackendTable*> by_type[kDeviceTypes] = {};

  Registry() {
    const GtBackendTable* cpu = &cpu_backend::table();
    by_name["cpu"] = cpu;
    by_type[static_cast<int>(DeviceType::CPU)].store(cpu);
  }
};

Registry& registry() {
  static Registry r;
  return r;
}

int type_slot(const std::string& name) {
  if (name == "cuda") return static_cast<int>(DeviceType::CUDA);
  if (name == "hip") return static_cast<int>(DeviceType::HIP);
  return -1;
}

}  // namespace

void register_backend(const GtBackendTable* table) {
  if (table == nullptr) throw ValueError("backend table: null pointer");
  const std::string name = table->name ? table->name : "?";
  if (table->abi_version != GT_BACKEND_ABI_VERSION || table->struct_size != sizeof(GtBackendTable))
    throw ValueError("backend table '" + name + "': ABI version " + std::to_string(table->abi_version) +
                     " (size " + std::to_string(table->struct_size) + "), this _core expects version " +
                     std::to_string(GT_BACKEND_ABI_VERSION) + " (size " +
                     std::to_string(sizeof(GtBackendTable)) + "); rebuild gputrain as one package");
  if (name == "cpu") throw ValueError("backend table 'cpu': the CPU backend is built into _core");
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.by_name[name] = table;
  if (const int slot = type_slot(name); slot >= 0) r.by_type[slot].store(table, std::memory_order_release);
}

const GtBackendTable* find_backend(const std::string& name) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.by_name.find(name);
  return it == r.by_name.end() ? nullptr : it->second;
}

const GtBackendTable& backend_for(const Device& device) {
  const int slot = static_cast<int>(device.type);
  const GtBackendTable* table =
      slot >= 0 && slot < kDeviceTypes ? registry().by_type[slot].load(std::memory_order_acquire) : nullptr;
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
