#include "server/memory_trimmer.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
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

TEST_CASE("the trimmer returns tcmalloc's freed memory above its reserve to the system") {
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
  // tcmalloc kept (most of) what was freed; its own scavenger may have returned some.
  REQUIRE(held > options.keep_free_bytes + 64 * kMiB);

  const std::size_t released = trimmer.TrimOnce();
  const std::uint64_t rss_trimmed = RssKib();
  MESSAGE("released " << released / kMiB << " MiB; RSS now " << rss_trimmed << " KiB");
  // What lies above the reserve (give or take the test's own allocations since).
  CHECK(released + kMiB >= held - options.keep_free_bytes);
  CHECK(released <= held);
  CHECK(trimmer.released_total() >= released);
  CHECK(MemoryTrimmer::FreeBytes() <= options.keep_free_bytes);
  CHECK(rss_trimmed + released / 1024 / 2 < rss_held);  // the pages really left the process
  CHECK(trimmer.TrimOnce() == 0);                       // within the reserve: nothing more
}

TEST_CASE("the allocator's in-use figure follows what the program holds") {
  if (!MemoryTrimmer::Supported()) {
    CHECK(MemoryTrimmer::InUseBytes() == 0);
    return;
  }
  const std::size_t before = MemoryTrimmer::InUseBytes();
  std::vector<std::unique_ptr<char[]>> blocks;
  for (int i = 0; i < 16; ++i) blocks.push_back(std::make_unique<char[]>(4 * kMiB));
  const std::size_t holding = MemoryTrimmer::InUseBytes();
  CHECK(holding >= before + 60 * kMiB);
  blocks.clear();
  CHECK(MemoryTrimmer::InUseBytes() + 60 * kMiB <= holding);
}

// Run's policy against a simulated allocator (the real one scavenges on its own schedule).
TEST_CASE("Run releases what stayed free a whole interval, never what is reused within it") {
  enum Mode { kChurn, kIdle };
  std::atomic<int> mode{kChurn};
  std::atomic<std::size_t> free_now{300 * kMiB};
  std::atomic<std::uint64_t> samples{0}, released{0};
  MemoryTrimmerOptions options;
  options.keep_free_bytes = 16 * kMiB;
  options.interval = std::chrono::milliseconds(40);
  options.free_bytes = [&]() -> std::size_t {
    const std::uint64_t n = samples.fetch_add(1);
    // Under churn the free pages are taken again between samples; idle, they stay free.
    if (mode.load() == kChurn && n % 2 == 1) return 8 * kMiB;
    return free_now.load();
  };
  options.release = [&](std::size_t bytes) {
    released += bytes;
    free_now -= std::min(bytes, free_now.load());
  };
  MemoryTrimmer trimmer(options);
  std::jthread runner([&](std::stop_token s) { trimmer.Run(s); });

  // Churn over several intervals: the low-water mark stays under the reserve.
  while (samples.load() < 60) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(released.load() == 0);
  CHECK(trimmer.released_total() == 0);

  // Idle: within two intervals everything above the reserve goes back, once.
  mode = kIdle;
  for (int i = 0; i < 400 && released.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CHECK(released.load() == 300 * kMiB - options.keep_free_bytes);
  CHECK(free_now.load() == options.keep_free_bytes);
  const std::uint64_t at = samples.load();
  while (samples.load() < at + 25) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(released.load() == 300 * kMiB - options.keep_free_bytes);  // nothing more to give
  CHECK(trimmer.released_total() == released.load());

  const auto asked = std::chrono::steady_clock::now();
  runner.request_stop();
  runner.join();  // the wait wakes on the stop request
  CHECK(std::chrono::steady_clock::now() - asked < std::chrono::seconds(2));
}

}  // namespace waybill::server
