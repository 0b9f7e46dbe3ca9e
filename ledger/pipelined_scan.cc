#include "ledger/pipelined_scan.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ledger/rocks_ledger.h"

namespace waybill::ledger {
namespace {

// Records copied out of the iterator: keys and values packed into one buffer.
struct Block {
  std::string bytes;
  std::vector<std::uint32_t> ends;  // key end, value end, key end, value end, ...
  void Clear() {
    bytes.clear();
    ends.clear();
  }
};

constexpr std::size_t kBlockBytes = 256 << 10;
constexpr std::size_t kMaxQueuedBlocks = 4;

}  // namespace

Status PipelinedScan(std::unique_ptr<rocksdb::Iterator> it, std::string_view start,
                     const std::function<bool(std::string_view, std::string_view)>& consume) {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::unique_ptr<Block>> full;    // guarded by mu
  std::vector<std::unique_ptr<Block>> spare;  // guarded by mu
  bool done = false;                          // guarded by mu: the reader finished
  bool stop = false;                          // guarded by mu: the consumer wants no more
  rocksdb::Status read_status;                // guarded by mu

  std::thread reader([&] {
    DisableRocksPerfCounters();
    std::unique_ptr<Block> block = std::make_unique<Block>();
    auto hand_over = [&]() -> bool {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return stop || full.size() < kMaxQueuedBlocks; });
      if (stop) return false;
      full.push_back(std::move(block));
      if (!spare.empty()) {
        block = std::move(spare.back());
        spare.pop_back();
      } else {
        block = std::make_unique<Block>();
      }
      cv.notify_all();
      return true;
    };
    bool go_on = true;
    for (it->Seek(rocksdb::Slice(start.data(), start.size())); go_on && it->Valid(); it->Next()) {
      const rocksdb::Slice k = it->key(), v = it->value();
      block->bytes.append(k.data(), k.size());
      block->ends.push_back(static_cast<std::uint32_t>(block->bytes.size()));
      block->bytes.append(v.data(), v.size());
      block->ends.push_back(static_cast<std::uint32_t>(block->bytes.size()));
      if (block->bytes.size() >= kBlockBytes) go_on = hand_over();
    }
    if (go_on && !block->ends.empty()) hand_over();
    std::lock_guard<std::mutex> lock(mu);
    read_status = it->status();
    done = true;
    cv.notify_all();
  });

  for (;;) {
    std::unique_ptr<Block> block;
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return done || !full.empty(); });
      if (full.empty()) break;  // done and drained
      block = std::move(full.front());
      full.pop_front();
      cv.notify_all();
    }
    bool keep_going = true;
    std::uint32_t begin = 0;
    for (std::size_t i = 0; keep_going && i + 1 < block->ends.size(); i += 2) {
      const std::string_view all(block->bytes);
      const std::string_view key = all.substr(begin, block->ends[i] - begin);
      const std::string_view value =
          all.substr(block->ends[i], block->ends[i + 1] - block->ends[i]);
      begin = block->ends[i + 1];
      try {
        keep_going = consume(key, value);
      } catch (...) {
        // Stop and join the reader before the exception leaves: a joinable std::thread
        // going out of scope would terminate the process.
        {
          std::lock_guard<std::mutex> lock(mu);
          stop = true;
          cv.notify_all();
        }
        reader.join();
        throw;
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    block->Clear();
    spare.push_back(std::move(block));
    if (!keep_going) {
      stop = true;
      cv.notify_all();
      break;
    }
  }
  reader.join();
  if (!read_status.ok() && !stop) {
    return read_status.IsCorruption() ? Status::Corruption(read_status.ToString())
                                      : Status::IoError(read_status.ToString());
  }
  return Status::Ok();
}

}  // namespace waybill::ledger
