// See step_graph.h.
#include "core/step_graph.h"

#include <exception>

#include "core/kernel_calls.h"
#include "core/registry.h"

namespace gt {

StepGraph::~StepGraph() {
  if (graph_ != nullptr) (void)table_->graph_destroy(device_.index, graph_);  // a destructor does not throw
}

bool StepGraph::capture(const Device& device, const std::function<void()>& body) {
  const GtBackendTable& table = backend_for(device);
  table_ = &table;
  device_ = device;
  void* stream = nullptr;
  if (table.graph_capture_begin(device.index, &stream) != GT_OK) {
    failure_ = table.last_error();
    return false;
  }
  try {
    kernels::StreamScope scope(stream);
    body();
  } catch (const std::exception& e) {  // a kernel call the capture refused
    failure_ = e.what();
    void* partial = nullptr;
    if (table.graph_capture_end(device.index, stream, &partial) == GT_OK)
      (void)table.graph_destroy(device.index, partial);
    return false;
  }
  if (table.graph_capture_end(device.index, stream, &graph_) != GT_OK) {
    failure_ = table.last_error();
    graph_ = nullptr;
    return false;
  }
  return true;
}

void StepGraph::launch() {
  check_status(*table_, table_->graph_launch(device_.index, graph_), "training step (graph launch)");
}

}  // namespace gt
