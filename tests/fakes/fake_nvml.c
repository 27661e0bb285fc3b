/* A fake libnvidia-ml.so.1 for the probe's tests: the NVML calls the probe makes, answering from the
 * script (fake_script.h). NVML device i is scripted device gpu.i; the count is nvml.count. Processes
 * are scripted as gpu.<i>.procs=pid:bytes,pid:- where '-' is NVML_VALUE_NOT_AVAILABLE. */
#include "fake_script.h"

typedef int nvmlReturn_t;
typedef void* nvmlDevice_t;
static int initialized = 0;

typedef struct {
  unsigned long long total, free, used;
} Memory;
typedef struct {
  unsigned int gpu, memory;
} Utilization;
typedef struct {
  char busIdLegacy[16];
  unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
  char busId[32];
} PciInfo;
typedef struct {
  unsigned int pid;
  unsigned long long usedGpuMemory;
  unsigned int gpuInstanceId, computeInstanceId;
} ProcessInfo;

#define SCRIPTED(call)                       \
  do {                                       \
    int code_ = fake_scripted("nvml", call); \
    if (code_) return code_;                 \
  } while (0)
#define NEEDS_INIT() \
  do {               \
    if (!initialized) return 1; /* NVML_ERROR_UNINITIALIZED */ \
  } while (0)

static int index_of(nvmlDevice_t device) { return (int)(long)device - 1; }

nvmlReturn_t nvmlInit_v2(void) {
  fake_load_script();
  initialized = 0;
  SCRIPTED("nvmlInit_v2");
  int code = (int)fake_int("nvml.init", 0);
  initialized = code == 0;
  return code;
}

nvmlReturn_t nvmlShutdown(void) {
  fake_note("nvmlShutdown");
  initialized = 0;
  return 0;
}

const char* nvmlErrorString(nvmlReturn_t result) {
  (void)result;
  return "fake NVML error";
}

nvmlReturn_t nvmlSystemGetDriverVersion(char* version, unsigned int length) {
  NEEDS_INIT();
  SCRIPTED("nvmlSystemGetDriverVersion");
  const char* v = fake_get("nvml.driver");
  snprintf(version, length, "%s", v ? v : "535.104.05");
  return 0;
}

nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int* version) {
  NEEDS_INIT();
  SCRIPTED("nvmlSystemGetCudaDriverVersion_v2");
  *version = (int)fake_int("nvml.cuda_version", 12020);
  return 0;
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int* count) {
  NEEDS_INIT();
  SCRIPTED("nvmlDeviceGetCount_v2");
  *count = (unsigned)fake_int("nvml.count", 0);
  return 0;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t* device) {
  NEEDS_INIT();
  SCRIPTED("nvmlDeviceGetHandleByIndex_v2");
  if (index >= (unsigned)fake_int("nvml.count", 0)) return 2;
  *device = (nvmlDevice_t)(long)(index + 1);
  return 0;
}

static nvmlReturn_t copy_text(int gpu, const char* field, const char* fallback, char* out, unsigned int length) {
  const char* v = fake_device_get(gpu, field);
  snprintf(out, length, "%s", v ? v : fallback);
  return 0;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char* name, unsigned int length) {
  NEEDS_INIT();
  SCRIPTED("nvmlDeviceGetName");
  return copy_text(index_of(device), "name", "Fake GPU", name, length);
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char* uuid, unsigned int length) {
  NEEDS_INIT();
  SCRIPTED("nvmlDeviceGetUUID");
  return copy_text(index_of(device), "uuid", "GPU-00000000-0000-0000-0000-000000000000", uuid, length);
}

nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, PciInfo* pci) {
  NEEDS_INIT();
  SCRIPTED("nvmlDeviceGetPciInfo_v3");
  memset(pci, 0, sizeof *pci);
  const char* v = fake_device_get(index_of(device), "pci");
  /* NVML writes the domain with eight hex digits. */
  snprintf(pci->busId, sizeof pci->busId, "0000%s", v ? v : "0000:00:04.0");
  return 0;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, Memory* memory) {
  NEEDS_INIT();
  SCRIPTED("nvmlDeviceGetMemoryInfo");
  int gpu = index_of(device);
  memory->total = (unsigned long long)fake_device_int(gpu, "memory", 16LL << 30);
  memory->free = (unsigned long long)fake_device_int(gpu, "free", (long long)memory->total);
  memory->used = memory->total - memory->free;
  return 0;
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, Utilization* util) {
  NEEDS_INIT();
  SCRIPTED("nvmlDeviceGetUtilizationRates");
  util->gpu = (unsigned)fake_device_int(index_of(device), "util", 0);
  util->memory = 0;
  return 0;
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, int sensor, unsigned int* temp) {
  NEEDS_INIT();
  SCRIPTED("nvmlDeviceGetTemperature");
  if (sensor != 0) return 2;
  *temp = (unsigned)fake_device_int(index_of(device), "temp", 40);
  return 0;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int* milliwatts) {
  NEEDS_INIT();
  SCRIPTED("nvmlDeviceGetPowerUsage");
  *milliwatts = (unsigned)fake_device_int(index_of(device), "power_mw", 30000);
  return 0;
}

nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device, unsigned int* milliwatts) {
  NEEDS_INIT();
  SCRIPTED("nvmlDeviceGetEnforcedPowerLimit");
  *milliwatts = (unsigned)fake_device_int(index_of(device), "power_limit_mw", 70000);
  return 0;
}

nvmlReturn_t nvmlDeviceGetMaxClockInfo(nvmlDevice_t device, int type, unsigned int* mhz) {
  NEEDS_INIT();
  SCRIPTED("nvmlDeviceGetMaxClockInfo");
  if (type != 1) return 2;
  *mhz = (unsigned)fake_device_int(index_of(device), "max_sm_clock", 1590);
  return 0;
}

/* The scripted list, or gpu.<i>.many_procs=N synthetic processes (pid 1000+k holding (k+1) MiB), for
 * lists longer than a script line. */
static nvmlReturn_t processes(const char* field, nvmlDevice_t device, unsigned int* count, ProcessInfo* infos) {
  int gpu = index_of(device);
  unsigned many = (unsigned)fake_device_int(gpu, "many_procs", 0);
  unsigned n = 0, capacity = many ? many : 64;
  ProcessInfo* parsed = calloc(capacity, sizeof *parsed);
  if (!parsed) return 20; /* NVML_ERROR_MEMORY */
  if (many && strcmp(field, "procs") == 0) {
    for (; n < many; n++) {
      parsed[n].pid = 1000 + n;
      parsed[n].usedGpuMemory = (unsigned long long)(n + 1) << 20;
    }
  }
  const char* list = many ? NULL : fake_device_get(gpu, field);
  for (const char* p = list; p && *p && n < capacity;) {
    parsed[n].pid = (unsigned)strtoul(p, NULL, 10);
    const char* colon = strchr(p, ':');
    parsed[n].usedGpuMemory = colon && colon[1] != '-' ? strtoull(colon + 1, NULL, 10) : ~0ULL;
    n++;
    const char* comma = strchr(p, ',');
    if (!comma) break;
    p = comma + 1;
  }
  for (unsigned k = 0; k < n; k++) parsed[k].gpuInstanceId = parsed[k].computeInstanceId = 0xFFFFFFFFu;
  nvmlReturn_t code = 0;
  if (*count < n) {
    code = 7; /* NVML_ERROR_INSUFFICIENT_SIZE, with the size needed */
  } else {
    memcpy(infos, parsed, n * sizeof *parsed);
  }
  *count = n;
  free(parsed);
  return code;
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int* count, ProcessInfo* infos) {
  NEEDS_INIT();
  SCRIPTED("nvmlDeviceGetComputeRunningProcesses_v3");
  return processes("procs", device, count, infos);
}

nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t device, unsigned int* count, ProcessInfo* infos) {
  NEEDS_INIT();
  SCRIPTED("nvmlDeviceGetGraphicsRunningProcesses_v3");
  return processes("graphics_procs", device, count, infos);
}
