#include "server/memory_trimmer.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace waybill::server {
namespace {

std::uint64_t RssKib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

// Allocates `count` blocks of `size` bytes, writes every page, and frees them: the allocator
// now holds them free.
void TouchAndFree(std::size_t count, std::size_t size) {
  std::vector<std::unique_ptr<char[]>> blocks;
  for (std::size_t i = 0; i < count; ++i) {
    blocks.emplace_back(new char[size]);
    std::memset(blocks.back().get(), static_cast<int>(i + 1), size);
  }
}

constexpr std::size_t kMiB = std::size_t{1} << 20;

}  // namespace

TEST_CASE(
    "the trimmer returns freed memory above its reserve to the system, and keeps the reserve") {
  MemoryTrimmerOptions options;
  options.keep_free_bytes = 32 * kMiB;
  MemoryTrimmer trimmer(options);
  if (!MemoryTrimmer::Supported()) {
    // glibc or a sanitizer's allocator: nothing to ask, nothing claimed.
    TouchAndFree(8, 4 * kMiB);
    CHECK(MemoryTrimmer::FreeBytes() == 0);
    CHECK(trimmer.TrimOnce() == 0);
    CHECK(trimmer.released_total() == 0);
    return;
  }
  (void)trimmer.TrimOnce();  // start from the reserve
  const std::uint64_t rss_before = RssKib();
  TouchAndFree(64, 4 * kMiB);  // 256 MiB touched, then freed
  const std::size_t held = MemoryTrimmer::FreeBytes();
  const std::uint64_t rss_held = RssKib();
  MESSAGE("RSS before " << rss_before << " KiB, after freeing 256 MiB " << rss_held
                        << " KiB, allocator holds " << held / kMiB << " MiB free");
  REQUIRE(held > 200 * kMiB);  // tcmalloc kept what was freed

  const std::size_t released = trimmer.TrimOnce();
  const std::uint64_t rss_trimmed = RssKib();
  MESSAGE("released " << released / kMiB << " MiB; RSS now " << rss_trimmed << " KiB");
  // What lies above the reserve (give or take the test's own allocations since).
  CHECK(released + kMiB >= held - options.keep_free_bytes);
  CHECK(released <= held);
  CHECK(trimmer.released_total() >= released);
  CHECK(MemoryTrimmer::FreeBytes() <= options.keep_free_bytes);
  CHECK(rss_trimmed + 150 * 1024 < rss_held);  // the pages really left the process
  CHECK(trimmer.TrimOnce() == 0);              // within the reserve: nothing more to do
}

TEST_CASE("Run trims on its interval and stops when asked") {
  MemoryTrimmerOptions options;
  options.keep_free_bytes = 16 * kMiB;
  options.interval = std::chrono::milliseconds(20);
  MemoryTrimmer trimmer(options);
  std::jthread runner([&](std::stop_token s) { trimmer.Run(s); });
  TouchAndFree(32, 4 * kMiB);
  if (MemoryTrimmer::Supported()) {
    for (int i = 0; i < 500 && MemoryTrimmer::FreeBytes() > options.keep_free_bytes; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(MemoryTrimmer::FreeBytes() <= options.keep_free_bytes);
    CHECK(trimmer.released_total() > 64 * kMiB);
  } else {
    CHECK(trimmer.released_total() == 0);
  }
  runner.request_stop();
  runner.join();  // returns promptly: the wait wakes on the stop request
}

}  // namespace waybill::server
