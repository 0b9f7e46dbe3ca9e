#include "server/memory_trimmer.h"

#include <condition_variable>
#include <mutex>

#if WAYBILL_HAS_TCMALLOC
#include <gperftools/malloc_extension_c.h>
#endif

namespace waybill::server {

bool MemoryTrimmer::Supported() { return WAYBILL_HAS_TCMALLOC != 0; }

std::size_t MemoryTrimmer::FreeBytes() {
#if WAYBILL_HAS_TCMALLOC
  std::size_t free_bytes = 0;
  // Free pages still mapped: what releasing would take out of RSS.
  if (MallocExtension_GetNumericProperty("tcmalloc.pageheap_free_bytes", &free_bytes)) {
    return free_bytes;
  }
#endif
  return 0;
}

std::size_t MemoryTrimmer::TrimOnce() {
  const std::size_t free_bytes = FreeBytes();
  if (free_bytes <= options_.keep_free_bytes) return 0;
  const std::size_t excess = free_bytes - options_.keep_free_bytes;
#if WAYBILL_HAS_TCMALLOC
  MallocExtension_ReleaseToSystem(excess);
#endif
  released_total_.fetch_add(excess, std::memory_order_relaxed);
  return excess;
}

void MemoryTrimmer::Run(std::stop_token stop) {
  if (!Supported()) return;
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock<std::mutex> lock(mu);
  while (!stop.stop_requested()) {
    cv.wait_for(lock, stop, options_.interval, [] { return false; });
    if (stop.stop_requested()) break;
    (void)TrimOnce();
  }
}

}  // namespace waybill::server
