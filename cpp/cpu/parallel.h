// OpenMP loops whose bodies may throw. An exception that leaves an OpenMP region ends the process
// (std::terminate), so an allocation failing inside one (std::bad_alloc when memory runs out) would
// abort Python instead of raising MemoryError. parallel_for runs each iteration inside try, keeps the
// first exception, skips the iterations not yet started, and rethrows it on the calling thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace gt::cpu {

// body(i) for i in [0, count), statically scheduled on `threads` threads (0: OpenMP's default).
template <class Body>
void parallel_for(int64_t count, int threads, Body&& body) {
#ifdef _OPENMP
  if (threads <= 0) threads = omp_get_max_threads();
#endif
  std::exception_ptr failure;
  std::atomic<bool> failed{false};
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && count > 1)
  for (int64_t i = 0; i < count; ++i) {
    if (failed.load(std::memory_order_relaxed)) continue;
    try {
      body(i);
    } catch (...) {
#pragma omp critical(gt_cpu_parallel_failure)
      if (!failure) failure = std::current_exception();
      failed.store(true, std::memory_order_relaxed);
    }
  }
  if (failure) std::rethrow_exception(failure);
}

}  // namespace gt::cpu
