// Device name parsing: "<backend>" or "<backend>:<index>", case-insensitive backend, index >= 0.
#include "core/device.h"

#include <cctype>

#include "core/errors.h"

namespace gt {

const char* Device::backend() const {
  switch (type) {
    case DeviceType::CUDA: return "cuda";
    case DeviceType::HIP: return "hip";
    default: return "cpu";
  }
}

std::string Device::str() const {
  if (type == DeviceType::CPU) return "cpu";
  return std::string(backend()) + ":" + std::to_string(index);
}

Device parse_device(const std::string& name) {
  auto bad = [&](const std::string& why) {
    return ValueError("device: '" + name + "' is not a device name (" + why +
                      "); expected 'cpu', 'cuda', 'cuda:N', 'hip' or 'hip:N'");
  };
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto colon = lower.find(':');
  const std::string kind = lower.substr(0, colon);
  Device d;
  if (kind == "cpu") d.type = DeviceType::CPU;
  else if (kind == "cuda") d.type = DeviceType::CUDA;
  else if (kind == "hip" || kind == "rocm") d.type = DeviceType::HIP;
  else throw bad("unknown backend '" + kind + "'");
  if (colon == std::string::npos) return d;
  const std::string index = lower.substr(colon + 1);
  if (index.empty() || index.size() > 6) throw bad("index must be a small non-negative integer");
  for (char c : index)
    if (!std::isdigit(static_cast<unsigned char>(c))) throw bad("index must be a non-negative integer");
  d.index = std::stoi(index);
  if (d.type == DeviceType::CPU && d.index != 0) throw bad("there is one CPU device, cpu:0");
  return d;
}

}  // namespace gt
