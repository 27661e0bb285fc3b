// Device names ("cpu", "cuda", "cuda:0", "hip:1") parsed and checked in one place.
#pragma once
#include <string>

namespace gt {

enum class DeviceType { CPU, CUDA, HIP };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;
  std::string str() const;  // canonical form: "cpu", "cuda:0", "hip:0"
  const char* backend() const;  // "cpu", "cuda", "hip"
};

// Throws ValueError naming the string when it is not a device name.
Device parse_device(const std::string& name);

}  // namespace gt
