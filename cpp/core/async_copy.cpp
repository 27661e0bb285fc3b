// Events, asynchronous copies and page-locked memory through a GPU backend's table.
#include "core/async_copy.h"

#include <string>

#include "core/errors.h"
#include "core/registry.h"

namespace gt {
namespace {
const GtBackendTable& gpu_backend(const Device& gpu, const char* what) {
  if (gpu.type == DeviceType::CPU)
    throw ValueError(std::string(what) + ": name a GPU (such as 'cuda:0'), not cpu");
  return backend_for(gpu);
}
}  // namespace

GpuEvent::GpuEvent(const Device& gpu) : table_(&gpu_backend(gpu, "event")), device_(gpu.index) {
  check_status(*table_, table_->event_create(device_, &event_), "event_create");
}

GpuEvent::~GpuEvent() {
  if (event_ != nullptr) table_->event_destroy(device_, event_);  // allowed while pending
}

void GpuEvent::record(GtStreamKind stream) {
  check_status(*table_, table_->event_record(device_, event_, stream), "event_record");
  recorded_ = true;
}

void GpuEvent::make_wait(GtStreamKind stream) const {
  if (!recorded_) return;
  check_status(*table_, table_->stream_wait_event(device_, stream, event_), "stream_wait_event");
}

void GpuEvent::synchronize() const {
  if (!recorded_) return;
  check_status(*table_, table_->event_synchronize(device_, event_), "event_synchronize");
}

bool GpuEvent::done() const {
  if (!recorded_) return true;
  int done = 0;
  check_status(*table_, table_->event_query(device_, event_, &done), "event_query");
  return done != 0;
}

void copy_to_device_async(const Device& gpu, void* dst, const void* pinned_src, size_t nbytes) {
  if (nbytes == 0) return;
  const GtBackendTable& table = gpu_backend(gpu, "copy_to_device_async");
  check_status(table, table.copy_to_device_async(gpu.index, dst, pinned_src, nbytes),
               "copy_to_device_async");
}

PinnedBuffer::PinnedBuffer(const Device& gpu, size_t nbytes)
    : device_(gpu), table_(&gpu_backend(gpu, "pinned memory")), nbytes_(nbytes), reads_done_(gpu) {
  const int status = table_->host_alloc_pinned(gpu.index, nbytes == 0 ? 1 : nbytes, &data_);
  if (status == GT_ERR_OUT_OF_MEMORY)
    throw OutOfMemory(gpu.str() + ": cannot pin " + std::to_string(nbytes) +
                      " bytes of host memory: " + table_->last_error());
  check_status(*table_, status, "host_alloc_pinned");
}

PinnedBuffer::~PinnedBuffer() {
  try {
    reads_done_.synchronize();
  } catch (...) {
    // A failed device (a sticky error) has no copy left running; freeing is still right.
  }
  table_->host_free_pinned(device_.index, data_);
}

}  // namespace gt
