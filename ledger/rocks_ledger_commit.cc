// The committer: the second stage of group commit.
//
// The sequencer (rocks_ledger_write.cc) hands over one prepared group at a time; the
// committer writes its WriteBatch with sync=true, publishes the new head and only then
// completes the group's callers. Groups are written strictly in the order they were
// prepared, one after another, so the log never holds a group without the ones it was
// chained on. While group N is being written the sequencer prepares group N+1 (its
// idempotency MultiGet, sequences, hashes and batch), which on the X12 import was a third
// of the single writer's time.
//
// A failed write fails its group and "poisons" the pipeline: a group prepared on top of it
// (it may name the failed group's sequences as its duplicates' originals, and chains on its
// hashes) is failed with the same error, until the sequencer has reset its tentative state
// to the durable one. So the ledger is unchanged by a failed group, as with one writer.
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>

#include "ledger/rocks_ledger.h"

namespace waybill::ledger {

void RocksLedger::CommitterLoop() {
  DisableRocksPerfCounters();
  std::unique_lock<std::mutex> lock(commit_mu_);
  for (;;) {
    commit_cv_.wait(lock, [&] { return handoff_.has_value() || committer_stop_; });
    if (!handoff_) return;  // stopping, and every handed-off group is settled
    PreparedGroup group = std::move(*handoff_);
    handoff_.reset();
    committing_ = true;
    committer_busy_.store(true);
    const std::optional<Status> poisoned = poison_;
    lock.unlock();
    commit_cv_.notify_all();  // the hand-off slot is free
    CommitPrepared(group, poisoned);
    lock.lock();
    committing_ = false;
    settled_token_ = group.token;
    commit_cv_.notify_all();
    lock.unlock();
    // The sequencer may be waiting for an idle committer before taking a small group.
    committer_busy_.store(false);
    { std::lock_guard<std::mutex> queue_lock(queue_mu_); }
    queue_cv_.notify_all();
    lock.lock();
  }
}

void RocksLedger::CommitPrepared(PreparedGroup& group, const std::optional<Status>& poisoned) {
  Status failure = poisoned.value_or(Status::Ok());
  std::chrono::steady_clock::duration write_time{};
  if (failure.ok() && group.write_needed) {
    if (options_.TEST_fail_write) {
      if (auto msg = options_.TEST_fail_write()) failure = Status::IoError(*msg);
    }
    // Full disk: refused before RocksDB sees it (rocks_ledger_space.cc).
    if (failure.ok()) failure = CheckWritable(group.batch.GetDataSize());
    if (failure.ok()) {
      rocksdb::WriteOptions wo;
      wo.sync = true;
      const auto write_start = std::chrono::steady_clock::now();
      rocksdb::Status s = db_->Write(wo, &group.batch);
      write_time = std::chrono::steady_clock::now() - write_start;
      if (!s.ok()) {
        failure = Status::IoError("ledger write failed, nothing from this batch was stored: " +
                                  s.ToString());
      }
    }
    if (!failure.ok()) {
      // Nothing was written: the head and counters stay as they were.
      if (failure.code() == ErrorCode::kIoError) NoteWrite(failure);
      std::lock_guard<std::mutex> lock(commit_mu_);
      poison_ = failure;
    }
  }
  if (!failure.ok()) {
    for (auto& r : group.requests) r.done(failure);
    return;
  }
  if (!group.write_needed) {
    // Every event was a duplicate; their originals are durable now (an original in the
    // group just before this one was written first).
    RecordGroup(0, group.duplicates, 0, std::nullopt);
  } else {
    NoteWrite(Status::Ok());
    RecordGroup(group.stored, group.duplicates, group.dead_letters,
                std::chrono::duration<double>(write_time).count());
    {
      std::lock_guard<std::mutex> lock(commit_mu_);
      durable_next_dead_letter_id_ = group.next_dead_letter_id;
    }
    {
      std::lock_guard<std::mutex> lock(head_mu_);
      head_ = group.head;
    }
    head_cv_.notify_all();
  }
  for (std::size_t g = 0; g < group.requests.size(); ++g) {
    group.requests[g].done(std::move(group.results[g]));
  }
}

// Committer thread only: every field has this one writer, so load + store is enough and
// readers never see a torn value.
void RocksLedger::RecordGroup(std::uint64_t stored, std::uint64_t duplicates,
                              std::uint64_t dead_letters, std::optional<double> commit_seconds) {
  constexpr auto kRelaxed = std::memory_order_relaxed;
  auto bump = [](std::atomic<std::uint64_t>& a, std::uint64_t n) {
    if (n != 0) a.store(a.load(kRelaxed) + n, kRelaxed);
  };
  bump(figures_.events, stored);
  bump(figures_.duplicates, duplicates);
  bump(figures_.dead_letters, dead_letters);
  if (!commit_seconds) return;  // nothing was written: not a commit
  bump(figures_.commits, 1);
  const auto bucket = [](const auto& bounds, double v) {
    return static_cast<std::size_t>(std::lower_bound(bounds.begin(), bounds.end(), v) -
                                    bounds.begin());
  };
  bump(figures_.commit_seconds[bucket(kCommitSecondsBounds, *commit_seconds)], 1);
  figures_.commit_seconds_sum.store(figures_.commit_seconds_sum.load(kRelaxed) + *commit_seconds,
                                    kRelaxed);
  bump(figures_.commit_events[bucket(kCommitEventsBounds, static_cast<double>(stored))], 1);
  bump(figures_.commit_events_sum, stored);
}

WriterFigures RocksLedger::writer_figures() const {
  constexpr auto kRelaxed = std::memory_order_relaxed;
  WriterFigures f;
  f.events = figures_.events.load(kRelaxed);
  f.duplicates = figures_.duplicates.load(kRelaxed);
  f.dead_letters = figures_.dead_letters.load(kRelaxed);
  f.commits = figures_.commits.load(kRelaxed);
  for (std::size_t i = 0; i < f.commit_seconds_buckets.size(); ++i) {
    f.commit_seconds_buckets[i] = figures_.commit_seconds[i].load(kRelaxed);
  }
  f.commit_seconds_sum = figures_.commit_seconds_sum.load(kRelaxed);
  for (std::size_t i = 0; i < f.commit_events_buckets.size(); ++i) {
    f.commit_events_buckets[i] = figures_.commit_events[i].load(kRelaxed);
  }
  f.commit_events_sum = figures_.commit_events_sum.load(kRelaxed);
  f.write_errors = write_errors_.load(kRelaxed);
  f.writable = writable_.load(kRelaxed);
  return f;
}

}  // namespace waybill::ledger
