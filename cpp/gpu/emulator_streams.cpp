// The CPU emulator's streams, events and page-locked host memory (see emulator.h). The legacy default
// stream (null) runs everything at once, like every other emulated call. A created stream — the
// non-blocking copy stream — queues its asynchronous copies and runs them as late as a correct program
// could notice: when an event recorded after them is waited for (event synchronize, stream wait), on the
// second query of a pending event, and at device synchronisation. A program that reads a copy's
// destination without waiting for its event therefore sees stale data, and one that writes a copy's
// pinned source before the copy has run is reported (a GPU may have sent either bytes): the failures a
// GPU shows only sometimes show every time.
// Graphs: between cudaStreamBeginCapture and cudaStreamEndCapture a stream records its work instead of
// running it; an instantiated graph runs the records in order at each cudaGraphLaunch (on the legacy
// stream: at once). What the capturing thread sends to another stream meanwhile, or allocates, is
// reported: on a GPU it would run once, now, and be missing from every replay.
// GT_EMU_GRAPHS=uninstantiable makes cudaGraphInstantiateWithFlags fail, as a runtime without graph
// support would, so that the callers' fallback is tested.
#if defined(GT_GPU_EMULATION)
#include <atomic>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <string>
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
  bool capturing = false;
  std::vector<std::function<void()>> captured;
};

struct Graph {
  std::vector<std::function<void()>> work;
};

thread_local Stream* thread_capture = nullptr;  // the stream this thread is capturing, if any
std::atomic<uint64_t> kernel_launches{0}, graph_launches{0};

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

void report_outside_capture(const char* what) {
  if (thread_capture != nullptr)
    record_failure((std::string(what) + " while this thread captures a graph on another stream: a GPU would "
                    "run it once, now, and never replay it").c_str());
}

bool capture(cudaStream_t stream, std::function<void()> work) {
  Stream* s = static_cast<Stream*>(stream);
  if (s == nullptr || !s->capturing) {
    if (s != thread_capture) report_outside_capture("work on the legacy stream or an uncaptured stream");
    return false;
  }
  s->captured.push_back(std::move(work));
  return true;
}

Counters counters() { return Counters{kernel_launches.load(), graph_launches.load()}; }
void count_kernel_launch() { ++kernel_launches; }

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
  if (capture(stream, [=]() { std::memmove(dst, src, nbytes); })) return cudaSuccess;
  if (kind == cudaMemcpyDeviceToDevice)
    return refuse("cudaMemcpyAsync: device-to-device copies on a created stream are emulated only in graphs");
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

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  std::lock_guard<std::mutex> lock(mutex);
  Stream* s = static_cast<Stream*>(stream);
  if (s->capturing) return refuse("cudaStreamDestroy: the stream is still being captured");
  run_until(s, s->enqueued);  // a GPU finishes a destroyed stream's work before releasing it
  for (auto it = streams.begin(); it != streams.end(); ++it)
    if (*it == s) {
      streams.erase(it);
      break;
    }
  delete s;
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* ptr, int value, size_t nbytes, cudaStream_t stream) {
  if (capture(stream, [=]() { std::memset(ptr, value, nbytes); })) return cudaSuccess;
  if (stream != nullptr) return refuse("cudaMemsetAsync: only the legacy stream and captures are emulated");
  std::memset(ptr, value, nbytes);
  return cudaSuccess;
}

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode) {
  Stream* s = static_cast<Stream*>(stream);
  if (s == nullptr) return refuse("cudaStreamBeginCapture: the legacy stream cannot be captured");
  if (mode != cudaStreamCaptureModeThreadLocal)
    return refuse("cudaStreamBeginCapture: only thread-local capture is emulated");
  if (thread_capture != nullptr || s->capturing)
    return refuse("cudaStreamBeginCapture: a capture is already under way");
  s->capturing = true;
  s->captured.clear();
  thread_capture = s;
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  Stream* s = static_cast<Stream*>(stream);
  *graph = nullptr;
  if (s == nullptr || !s->capturing || thread_capture != s)
    return refuse("cudaStreamEndCapture: this thread is not capturing that stream");
  s->capturing = false;
  thread_capture = nullptr;
  *graph = new Graph{std::move(s->captured)};
  s->captured.clear();
  return cudaSuccess;
}

cudaError_t cudaGraphInstantiateWithFlags(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  *exec = nullptr;
  const char* mode = std::getenv("GT_EMU_GRAPHS");
  if (mode != nullptr && std::string(mode) == "uninstantiable") {
    record_failure("cudaGraphInstantiateWithFlags: graphs are not supported (GT_EMU_GRAPHS=uninstantiable)");
    return cudaErrorNotSupported;
  }
  *exec = new Graph(*static_cast<Graph*>(graph));
  return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  if (stream != nullptr) return refuse("cudaGraphLaunch: only launches on the legacy stream are emulated");
  report_outside_capture("cudaGraphLaunch");
  ++graph_launches;
  for (const auto& work : static_cast<Graph*>(exec)->work) work();
  return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete static_cast<Graph*>(exec);
  return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete static_cast<Graph*>(graph);
  return cudaSuccess;
}
#endif  // GT_GPU_EMULATION
