// Training steps as graphs: a plan captures its step's kernels once on a capture stream and replays them
// with one launch per step, so a small model's step costs one launch instead of dozens. The values that
// change between steps live in device memory (GtStepScalars), written before each replay by a one-thread
// kernel whose argument carries them.
#include "gpu/check.h"
#include "gpu/kernels.h"

namespace gt::gpu {
namespace {

__global__ void write_step_scalars_kernel(GtStepScalars* dst, GtStepScalars value) { *dst = value; }

}  // namespace

int write_step_scalars(int device, GtStepScalars* dst, GtStepScalars value, void* stream) {
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_LAUNCH(write_step_scalars_kernel, 1, 1, static_cast<cudaStream_t>(stream))(dst, value);
  GT_GPU_CHECK_LAUNCH(write_step_scalars_kernel);
  return GT_OK;
}

int graph_capture_begin(int device, void** stream) {
  *stream = nullptr;
  GT_GPU_CHECK(cudaSetDevice(device));
  cudaStream_t s = nullptr;
  // Non-blocking: the legacy default stream, which other threads keep using, must not join the capture.
  GT_GPU_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  // Thread-local: the data-loading thread goes on copying and recording events meanwhile.
  const cudaError_t err = cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal);
  if (err != cudaSuccess) {
    (void)cudaStreamDestroy(s);
    return fail(err, "cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal)", __FILE__, __LINE__);
  }
  *stream = s;
  return GT_OK;
}

int graph_capture_end(int device, void* stream, void** graph) {
  *graph = nullptr;
  auto s = static_cast<cudaStream_t>(stream);
  // The capture ends and its stream goes whatever happens next, so the thread can launch again.
  cudaGraph_t captured = nullptr;
  const cudaError_t ended = cudaStreamEndCapture(s, &captured);
  (void)cudaStreamDestroy(s);
  if (ended != cudaSuccess || captured == nullptr) {
    if (captured != nullptr) (void)cudaGraphDestroy(captured);
    return fail(ended != cudaSuccess ? ended : cudaErrorStreamCaptureUnsupported,
                "cudaStreamEndCapture(stream, &graph)", __FILE__, __LINE__);
  }
  const cudaError_t set = cudaSetDevice(device);
  cudaGraphExec_t exec = nullptr;
  const cudaError_t made = set != cudaSuccess ? set : cudaGraphInstantiateWithFlags(&exec, captured, 0);
  (void)cudaGraphDestroy(captured);  // the executable graph does not need it
  if (made != cudaSuccess)
    return fail(made, "cudaSetDevice + cudaGraphInstantiateWithFlags(&exec, graph, 0)", __FILE__, __LINE__);
  *graph = exec;
  return GT_OK;
}

int graph_launch(int device, void* graph) {
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_GPU_CHECK(cudaGraphLaunch(static_cast<cudaGraphExec_t>(graph), nullptr));
  return GT_OK;
}

int graph_destroy(int device, void* graph) {
  GT_GPU_CHECK(cudaSetDevice(device));
  GT_GPU_CHECK(cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(graph)));
  return GT_OK;
}

}  // namespace gt::gpu
