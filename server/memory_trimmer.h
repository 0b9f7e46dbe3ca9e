// Hands memory the allocator holds free back to the operating system, so a burst of large
// requests (16 MiB bodies, dead letters shown whole) does not leave `waybill serve` at its
// peak RSS for good.
//
// Why: tcmalloc (linked into every executable, see the root CMakeLists.txt) keeps freed
// pages in its page heap and returns them only as later frees come by; a server that goes
// quiet after a burst would hold them indefinitely. Returning every free page at once
// (TCMALLOC_AGGRESSIVE_DECOMMIT) cost the X12 import 28% of its throughput, so the trimmer
// leaves a working reserve in place and, once per interval, releases what lay above it for
// the whole interval.
// glibc and the sanitizers' allocators return large blocks themselves: with them the
// trimmer is a no-op (Supported() is false).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <stop_token>

namespace waybill::server {

struct MemoryTrimmerOptions {
  // Free bytes the allocator may keep for reuse (they cost RSS, not CPU).
  std::size_t keep_free_bytes = std::size_t{64} << 20;
  std::chrono::milliseconds interval{1000};
  // The allocator's free bytes and its release call. Unset: tcmalloc's (FreeBytes() and
  // MallocExtension_ReleaseToSystem), or nothing when it is not linked. Tests set both.
  std::function<std::size_t()> free_bytes;
  std::function<void(std::size_t)> release;
};

class MemoryTrimmer {
 public:
  explicit MemoryTrimmer(MemoryTrimmerOptions options = {});

  // Whether this process's allocator can be asked to release memory (tcmalloc is linked).
  static bool Supported();
  // Bytes the allocator holds free and still mapped (0 when unsupported). Thread-safe.
  static std::size_t FreeBytes();
  // Bytes the program has allocated and not freed, as tcmalloc counts them; 0 without it.
  // RSS less this and FreeBytes() is the allocator's other overhead (per-thread and central
  // free lists, partly used spans, metadata). Thread-safe.
  static std::size_t InUseBytes();

  // Releases the free bytes above keep_free_bytes; returns how many it asked to release.
  // Call from one thread at a time (Run's, or a test's).
  std::size_t TrimOnce();
  // Until `stop` is requested, samples the free bytes ten times per interval and at its end
  // releases what stayed free throughout (the low-water mark) above keep_free_bytes.
  // Returns at once when there is no allocator to ask (unsupported, no hooks given).
  void Run(std::stop_token stop);

  // Bytes released so far. Thread-safe.
  std::uint64_t released_total() const { return released_total_.load(std::memory_order_relaxed); }

 private:
  std::size_t ReleaseAbove(std::size_t free_bytes);

  MemoryTrimmerOptions options_;
  bool active_;  // an allocator to ask: tcmalloc, or the options' hooks
  std::atomic<std::uint64_t> released_total_{0};
};

}  // namespace waybill::server
