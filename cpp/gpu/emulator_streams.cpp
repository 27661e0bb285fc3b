// The CPU emulator's streams, events and page-locked host memory (see emulator.h). The legacy default
// stream (null) runs everything at once, like every other emulated call. A created stream — the
// non-blocking copy stream — queues its asynchronous copies and runs them as late as a correct program
// could notice: when an event recorded after them is waited for (event synchronize, stream wait), on the
// second query of a pending event, and at device synchronisation. A program that reads a copy's
// destination without waiting for its event therefore sees stale data, and one that writes a copy's
// pinned source before the copy has run is reported (a GPU may have sent either bytes): the failures a
// GPU shows only sometimes show every time.
#if defined(GT_GPU_EMULATION)
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <vector>

#include "gpu/emulator.h"

namespace gt::emu {
namespace {

struct Copy {
  void* dst;
  const void* src;
  size_t nbytes;
  uint64_t ticket;          // position in its stream
  std::vector<char> bytes;  // the source when the copy was enqueued, to catch a write before it ran
};

struct Stream {
  std::deque<Copy> queued;
  uint64_t enqueued = 0;  // tickets handed out
  uint64_t completed = 0;
};

struct Event {
  Stream* stream = nullptr;  // null: never recorded, or recorded on the legacy stream (complete)
  uint64_t ticket = 0;
  bool queried = false;  // a pending event said "not ready" once since it was recorded
};

std::mutex mutex;  // the producer and training threads both call in
std::vector<Stream*> streams;
std::map<const char*, size_t> pinned;  // page-locked blocks by address

// Runs the stream's copies up to `ticket`; false when one found its source written since it was queued.
bool run_until(Stream* stream, uint64_t ticket) {
  bool ok = true;
  while (!stream->queued.empty() && stream->queued.front().ticket <= ticket) {
    const Copy& c = stream->queued.front();
    if (std::memcmp(c.bytes.data(), c.src, c.nbytes) != 0) {
      record_failure("the page-locked source of a queued asynchronous copy was written before the copy "
                     "ran (wait for an event recorded after the copy first)");
      ok = false;
    }
    std::memmove(c.dst, c.src, c.nbytes);
    stream->completed = c.ticket;
    stream->queued.pop_front();
  }
  if (stream->completed < ticket) stream->completed = ticket;
  return ok;
}

bool complete(const Event* e) { return e->stream == nullptr || e->stream->completed >= e->ticket; }

cudaError_t run_event(Event* e) {
  return complete(e) || run_until(e->stream, e->ticket) ? cudaSuccess : cudaErrorLaunchFailure;
}

// The pinned block holding [p, p + n), or pinned.end().
std::map<const char*, size_t>::iterator pinned_block(const void* p, size_t n) {
  const char* c = static_cast<const char*>(p);
  auto it = pinned.upper_bound(c);
  if (it == pinned.begin()) return pinned.end();
  --it;
  return c + n <= it->first + it->second ? it : pinned.end();
}

cudaError_t refuse(const char* why) {
  record_failure(why);
  return cudaErrorLaunchFailure;
}

}  // namespace

bool run_all_streams() {
  std::lock_guard<std::mutex> lock(mutex);
  bool ok = true;
  for (Stream* s : streams) ok = run_until(s, s->enqueued) && ok;
  return ok;
}

}  // namespace gt::emu

using namespace gt::emu;

cudaError_t cudaHostAlloc(void** ptr, size_t nbytes, unsigned) {
  *ptr = std::aligned_alloc(256, (nbytes + 255) / 256 * 256 + 256);
  if (*ptr == nullptr) return cudaErrorMemoryAllocation;
  std::lock_guard<std::mutex> lock(mutex);
  pinned[static_cast<const char*>(*ptr)] = nbytes;
  return cudaSuccess;
}

cudaError_t cudaFreeHost(void* ptr) {
  std::lock_guard<std::mutex> lock(mutex);
  auto it = pinned.find(static_cast<const char*>(ptr));
  if (it == pinned.end()) return refuse("cudaFreeHost: not a pointer from cudaHostAlloc");
  for (Stream* s : streams)
    for (const Copy& c : s->queued)
      if (c.src >= ptr && static_cast<const char*>(c.src) < it->first + it->second)
        return refuse("cudaFreeHost: an asynchronous copy still reads this memory");  // kept, not freed
  pinned.erase(it);
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned) {
  std::lock_guard<std::mutex> lock(mutex);
  streams.push_back(new Stream);
  *stream = streams.back();
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t nbytes, cudaMemcpyKind kind,
                            cudaStream_t stream) {
  if (stream == nullptr) return cudaMemcpy(dst, src, nbytes, kind);
  std::lock_guard<std::mutex> lock(mutex);
  // CUDA would quietly copy pageable memory synchronously; here it is a bug in the caller, which meant
  // the copy to overlap.
  if (kind == cudaMemcpyHostToDevice && pinned_block(src, nbytes) == pinned.end())
    return refuse("cudaMemcpyAsync: the host source is not page-locked (cudaHostAlloc)");
  Stream* s = static_cast<Stream*>(stream);
  const char* bytes = static_cast<const char*>(src);
  s->queued.push_back(Copy{dst, src, nbytes, ++s->enqueued, std::vector<char>(bytes, bytes + nbytes)});
  return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned) {
  *event = new Event;
  return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  // The work before a pending event still runs (later); only the marker goes.
  std::lock_guard<std::mutex> lock(mutex);
  delete static_cast<Event*>(event);
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  std::lock_guard<std::mutex> lock(mutex);
  Event* e = static_cast<Event*>(event);
  Stream* s = static_cast<Stream*>(stream);
  e->stream = s;
  e->ticket = s ? s->enqueued : 0;
  e->queried = false;
  return cudaSuccess;
}

cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t event, unsigned) {
  // The legacy stream runs its next work at once, so it can only wait by running the event's work now;
  // a queued stream could wait later, but now is as good an order.
  std::lock_guard<std::mutex> lock(mutex);
  return run_event(static_cast<Event*>(event));
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  std::lock_guard<std::mutex> lock(mutex);
  return run_event(static_cast<Event*>(event));
}

cudaError_t cudaEventQuery(cudaEvent_t event) {
  std::lock_guard<std::mutex> lock(mutex);
  Event* e = static_cast<Event*>(event);
  if (complete(e)) return cudaSuccess;
  if (!e->queried) {  // "not ready" once, so callers meet that answer; then the work is done
    e->queried = true;
    return cudaErrorNotReady;
  }
  return run_event(e);
}
#endif  // GT_GPU_EMULATION
