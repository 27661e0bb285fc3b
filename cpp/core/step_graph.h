// A training step's GPU work recorded once as a graph and replayed with one launch per step (CUDA and
// HIP graphs through the backend table). Capture runs the step's body with the capture stream current
// (kernels::StreamScope), so every kernel call of the body is recorded instead of run; the body must
// not allocate, and what changes between steps must be read from device memory (GtStepScalars).
#pragma once
#include <functional>
#include <string>

#include "core/backend_table.h"
#include "core/device.h"

namespace gt {

class StepGraph {
 public:
  StepGraph() = default;
  ~StepGraph();
  StepGraph(const StepGraph&) = delete;
  StepGraph& operator=(const StepGraph&) = delete;

  // Records body()'s work on `device` (a GPU). True when the graph is ready to launch; false when the
  // runtime refused (failure() says why), in which case none of the body's work has run or will.
  bool capture(const Device& device, const std::function<void()>& body);
  const std::string& failure() const { return failure_; }
  // Runs the recorded work once on the device's compute stream; GpuError on failure.
  void launch();

 private:
  const GtBackendTable* table_ = nullptr;  // registered tables live as long as the process
  Device device_;
  void* graph_ = nullptr;
  std::string failure_;
};

}  // namespace gt
