#include "server/memory_trimmer.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <utility>

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

std::size_t MemoryTrimmer::InUseBytes() {
#if WAYBILL_HAS_TCMALLOC
  std::size_t bytes = 0;
  if (MallocExtension_GetNumericProperty("generic.current_allocated_bytes", &bytes)) return bytes;
#endif
  return 0;
}

MemoryTrimmer::MemoryTrimmer(MemoryTrimmerOptions options)
    : options_(std::move(options)),
      active_(Supported() || (options_.free_bytes && options_.release)) {
  if (!options_.free_bytes) options_.free_bytes = &FreeBytes;
  if (!options_.release) {
    options_.release = [](std::size_t bytes) {
#if WAYBILL_HAS_TCMALLOC
      MallocExtension_ReleaseToSystem(bytes);
#else
      (void)bytes;
#endif
    };
  }
}

std::size_t MemoryTrimmer::TrimOnce() { return ReleaseAbove(options_.free_bytes()); }

std::size_t MemoryTrimmer::ReleaseAbove(std::size_t free_bytes) {
  if (!active_ || free_bytes <= options_.keep_free_bytes) return 0;
  const std::size_t excess = free_bytes - options_.keep_free_bytes;
  options_.release(excess);
  released_total_.fetch_add(excess, std::memory_order_relaxed);
  return excess;
}

void MemoryTrimmer::Run(std::stop_token stop) {
  if (!active_) return;
  constexpr int kSamplesPerInterval = 10;
  const auto sample_every =
      std::max(options_.interval / kSamplesPerInterval, std::chrono::milliseconds(1));
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock<std::mutex> lock(mu);
  while (!stop.stop_requested()) {
    // Only what stayed free the whole interval goes back: under steady load the free pages
    // are reused within the interval, and returning them would only make the next
    // allocations fault them in again.
    std::size_t low_water = SIZE_MAX;
    for (int i = 0; i < kSamplesPerInterval && !stop.stop_requested(); ++i) {
      cv.wait_for(lock, stop, sample_every, [] { return false; });
      low_water = std::min(low_water, options_.free_bytes());
    }
    if (stop.stop_requested()) break;
    (void)ReleaseAbove(low_water);
  }
}

}  // namespace waybill::server
