// Per-device allocators and copies between devices.
#include "core/memory.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/registry.h"

namespace gt {
namespace {

std::mutex allocators_mutex;

bool env_flag(const char* name, bool fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  std::string v(value);
  for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
  if (v == "0" || v == "false" || v == "no" || v == "off") return false;
  throw ValueError(std::string(name) + "='" + value + "': expected true or false");
}

// 0 when unset. Digits, point, exponent and sign only before strtod: python/gputrain/settings.py judges
// the value (for the doctor) by the same rule, and strtod alone would also take spaces, hex and "nan".
double env_fraction(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return 0.0;
  char* end = nullptr;
  const double f = std::strtod(value, &end);
  if (std::strspn(value, "0123456789.eE+-") != std::strlen(value) || end == value || *end != '\0' ||
      !(f > 0.0 && f <= 1.0))
    throw ValueError(std::string(name) + "='" + value + "': expected a number in (0, 1]");
  return f;
}

// The environment's policy for every GPU, read once per process (at the first GPU allocation), as the
// settings table says. An invalid value is kept as its message, which each GPU allocation then raises:
// a typo must not leave the user training with a policy they did not ask for.
struct EnvPolicy {
  bool growth = true;
  double fraction = 0.0;  // 0: no limit
  std::string error;
};

const EnvPolicy& env_policy() {
  static const EnvPolicy policy = [] {
    EnvPolicy p;
    try {
      p.growth = env_flag("GPUTRAIN_GPU_ALLOW_GROWTH", true);
      p.fraction = env_fraction("GPUTRAIN_GPU_MEMORY_FRACTION");
    } catch (const ValueError& e) {
      p.error = e.what();
    }
    return p;
  }();
  return policy;
}

std::unique_ptr<CachingAllocator> make_gpu_allocator(const Device& device) {
  const GtBackendTable& table = backend_for(device);
  const int index = device.index;
  RawMemory raw;
  raw.device_name = device.str();
  raw.allocate = [&table, index](size_t nbytes) -> void* {
    void* ptr = nullptr;
    const int status = table.allocate(index, nbytes, &ptr);
    if (status == GT_ERR_OUT_OF_MEMORY) return nullptr;
    check_status(table, status, "allocate");
    return ptr;
  };
  raw.release = [&table, index](void* ptr, size_t) { table.release(index, ptr); };
  raw.mem_info = [&table, index](size_t* free_bytes, size_t* total_bytes) {
    return table.mem_info(index, free_bytes, total_bytes) == GT_OK;
  };
  const EnvPolicy& policy = env_policy();
  if (!policy.error.empty()) throw ValueError(policy.error);
  auto allocator = std::make_unique<CachingAllocator>(std::move(raw));
  allocator->set_growth(policy.growth);
  if (policy.fraction > 0.0) {
    size_t free_bytes = 0, total_bytes = 0;
    check_status(table, table.mem_info(index, &free_bytes, &total_bytes), "mem_info");
    allocator->set_limit(static_cast<size_t>(policy.fraction * static_cast<double>(total_bytes)));
  }
  return allocator;
}

}  // namespace

CachingAllocator& gpu_allocator(const Device& device) {
  if (device.type == DeviceType::CPU) throw ValueError("cpu: host memory has no caching allocator");
  // Allocators live until the process ends: tensors freed during interpreter teardown still use them.
  static auto* allocators = new std::map<std::string, std::unique_ptr<CachingAllocator>>();
  std::lock_guard<std::mutex> lock(allocators_mutex);
  auto& slot = (*allocators)[device.str()];
  if (!slot) slot = make_gpu_allocator(device);
  return *slot;
}

std::shared_ptr<Storage> allocate_storage(const Device& device, size_t nbytes) {
  auto storage = std::make_shared<Storage>();
  storage->device = device;
  storage->nbytes = nbytes;
  if (device.type == DeviceType::CPU) {
    // A cache line (a full AVX-512 vector) at least. Blocks of 32 MiB and more are mapped afresh by
    // glibc on every allocation (its mmap threshold stops growing there) and page-fault in full on first
    // touch, 4 KiB at a time: they start on a 2 MiB boundary and ask for transparent huge pages
    // (measured: a 45 MB max-pool gradient 32 ms -> 11-13 ms, a 128 MiB copy 105-111 ms -> 25-34 ms).
    // Only whole 2 MiB pages inside the block become huge, so it takes no more memory than before.
    constexpr size_t kLine = 64, kHugePage = size_t(2) << 20, kHugeFrom = size_t(32) << 20;
    const size_t padded = (std::max<size_t>(nbytes, 1) + kLine - 1) / kLine * kLine;
    const bool huge = padded >= kHugeFrom;
    void* ptr = nullptr;
    if (posix_memalign(&ptr, huge ? kHugePage : kLine, padded) != 0)
      throw OutOfMemory("cpu out of memory: cannot allocate " + std::to_string(nbytes) + " bytes");
#ifdef MADV_HUGEPAGE
    if (huge) madvise(ptr, padded, MADV_HUGEPAGE);  // advice only: without THP nothing changes
#endif
    storage->data = ptr;
    storage->release = [ptr]() { std::free(ptr); };
    return storage;
  }
  CachingAllocator& allocator = gpu_allocator(device);
  void* ptr = allocator.allocate(nbytes);
  storage->data = ptr;
  storage->release = [&allocator, ptr]() { allocator.deallocate(ptr); };
  return storage;
}

void copy_bytes(const Device& dst_device, void* dst, const Device& src_device, const void* src,
                size_t nbytes) {
  if (nbytes == 0) return;
  const bool dst_cpu = dst_device.type == DeviceType::CPU;
  const bool src_cpu = src_device.type == DeviceType::CPU;
  if (dst_cpu && src_cpu) {
    std::memcpy(dst, src, nbytes);
  } else if (src_cpu) {
    const GtBackendTable& table = backend_for(dst_device);
    check_status(table, table.copy_to_device(dst_device.index, dst, src, nbytes), "copy to device");
  } else if (dst_cpu) {
    const GtBackendTable& table = backend_for(src_device);
    check_status(table, table.copy_to_host(src_device.index, dst, src, nbytes), "copy to host");
  } else if (dst_device.type == src_device.type) {
    const GtBackendTable& table = backend_for(dst_device);
    check_status(table,
                 table.copy_device_to_device(dst_device.index, dst, src_device.index, src, nbytes),
                 "copy between devices");
  } else {
    std::vector<char> staging(nbytes);  // CUDA and HIP memory cannot see each other
    copy_bytes(Device{}, staging.data(), src_device, src, nbytes);
    copy_bytes(dst_device, dst, Device{}, staging.data(), nbytes);
  }
}

}  // namespace gt
