/* A fake libcuda.so.1 for the probe's tests: the driver-API calls the probe may make, answering from
 * the script (fake_script.h). CUDA device i is scripted device gpu.<cuda.map[i]> (default gpu.i), so
 * a test can make CUDA see fewer devices than NVML, as CUDA_VISIBLE_DEVICES does. Calls that would
 * create a context are exported too, and only log, so a test can prove the probe never makes them. */
#include "fake_script.h"

typedef int CUresult;
typedef int CUdevice;
static int initialized = 0;

static int mapped(int ordinal) {
  const char* map = fake_get("cuda.map");
  if (!map) return ordinal;
  int i = 0;
  for (const char* p = map; *p; i++) {
    if (i == ordinal) return atoi(p);
    const char* comma = strchr(p, ',');
    if (!comma) break;
    p = comma + 1;
  }
  return -1;
}

#define SCRIPTED(call)                                  \
  do {                                                  \
    int code_ = fake_scripted("cuda", call);            \
    if (code_) return code_;                            \
  } while (0)
#define NEEDS_INIT() \
  do {               \
    if (!initialized) return 3; /* CUDA_ERROR_NOT_INITIALIZED */ \
  } while (0)

CUresult cuInit(unsigned int flags) {
  (void)flags;
  fake_load_script();
  initialized = 0;
  SCRIPTED("cuInit");
  int code = (int)fake_int("cuda.init", 0);
  initialized = code == 0;
  return code;
}

CUresult cuDriverGetVersion(int* version) {
  SCRIPTED("cuDriverGetVersion");
  *version = (int)fake_int("cuda.driver_version", 12020);
  return 0;
}

CUresult cuDeviceGetCount(int* count) {
  NEEDS_INIT();
  SCRIPTED("cuDeviceGetCount");
  *count = (int)fake_int("cuda.count", 0);
  return 0;
}

CUresult cuDeviceGet(CUdevice* device, int ordinal) {
  NEEDS_INIT();
  SCRIPTED("cuDeviceGet");
  if (ordinal < 0 || ordinal >= fake_int("cuda.count", 0) || mapped(ordinal) < 0) return 101;
  *device = mapped(ordinal);
  return 0;
}

CUresult cuDeviceGetName(char* name, int len, CUdevice dev) {
  NEEDS_INIT();
  SCRIPTED("cuDeviceGetName");
  const char* v = fake_device_get(dev, "name");
  snprintf(name, (size_t)len, "%s", v ? v : "Fake GPU");
  return 0;
}

CUresult cuDeviceGetAttribute(int* value, int attribute, CUdevice dev) {
  NEEDS_INIT();
  SCRIPTED("cuDeviceGetAttribute");
  long long cc = fake_device_int(dev, "cc", 75);
  switch (attribute) {
    case 13: *value = (int)fake_device_int(dev, "clock_khz", 1590000); return 0;
    case 16: *value = (int)fake_device_int(dev, "sms", 40); return 0;
    case 75: *value = (int)(cc / 10); return 0;
    case 76: *value = (int)(cc % 10); return 0;
    default: *value = 0; return 0;
  }
}

CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice dev) {
  NEEDS_INIT();
  SCRIPTED("cuDeviceTotalMem_v2");
  *bytes = (size_t)fake_device_int(dev, "memory", 16LL << 30);
  return 0;
}

CUresult cuDeviceGetPCIBusId(char* bus, int len, CUdevice dev) {
  NEEDS_INIT();
  SCRIPTED("cuDeviceGetPCIBusId");
  const char* v = fake_device_get(dev, "pci");
  snprintf(bus, (size_t)len, "%s", v ? v : "0000:00:04.0");
  return 0;
}

/* The UUID is scripted as nvidia-smi prints it (GPU-8-4-4-4-12 hex digits); the driver hands out the
 * 16 raw bytes. */
static CUresult uuid_bytes(unsigned char* out, CUdevice dev) {
  const char* v = fake_device_get(dev, "uuid");
  if (!v || strncmp(v, "GPU-", 4) != 0) return 999;
  int n = 0;
  for (const char* p = v + 4; *p && n < 16; p++) {
    if (*p == '-') continue;
    unsigned hi, lo;
    if (sscanf(p, "%1x", &hi) != 1 || !p[1] || sscanf(p + 1, "%1x", &lo) != 1) return 999;
    out[n++] = (unsigned char)(hi << 4 | lo);
    p++;
  }
  return n == 16 ? 0 : 999;
}

CUresult cuDeviceGetUuid(unsigned char* uuid, CUdevice dev) {
  NEEDS_INIT();
  SCRIPTED("cuDeviceGetUuid");
  return uuid_bytes(uuid, dev);
}

CUresult cuDeviceGetUuid_v2(unsigned char* uuid, CUdevice dev) {
  NEEDS_INIT();
  SCRIPTED("cuDeviceGetUuid_v2");
  return uuid_bytes(uuid, dev);
}

CUresult cuGetErrorName(CUresult error, const char** text) {
  fake_note("cuGetErrorName");
  const char* v = NULL;
  char key[64];
  snprintf(key, sizeof key, "cuda.error_name.%d", error);
  v = fake_get(key);
  if (!v) return 1; /* CUDA_ERROR_INVALID_VALUE: an unknown code, as the real driver answers */
  *text = v;
  return 0;
}

/* Calls that create or use a context: the probe must never make them. */
CUresult cuCtxCreate_v2(void** ctx, unsigned int flags, CUdevice dev) {
  (void)ctx, (void)flags, (void)dev;
  fake_note("cuCtxCreate_v2");
  return 0;
}

CUresult cuDevicePrimaryCtxRetain(void** ctx, CUdevice dev) {
  (void)ctx, (void)dev;
  fake_note("cuDevicePrimaryCtxRetain");
  return 0;
}

CUresult cuMemGetInfo_v2(size_t* free_bytes, size_t* total) {
  (void)free_bytes, (void)total;
  fake_note("cuMemGetInfo_v2");
  return 0;
}
