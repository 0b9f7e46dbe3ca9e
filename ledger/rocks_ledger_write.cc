// The single writer: group commit of concurrent appends.
//
// Appenders queue Requests; the writer thread takes every queued request (up to
// max_group_events), resolves idempotency for the whole group with one MultiGet plus an
// in-group map, assigns sequences, chains hashes, writes one WriteBatch with sync=true and
// only then completes the callers. A failed write completes every caller of the group with
// the error and leaves the in-memory head where it was, so the ledger is unchanged.
#include <pthread.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <unordered_map>
#include <unordered_set>

#include "ledger/key_layout.h"
#include "ledger/record_format.h"
#include "ledger/rocks_ledger.h"
#include "schemas/event_codec.h"
#include "schemas/sha256.h"

namespace waybill::ledger {

PreparedRaw PrepareRaw(std::string_view bytes, std::string_view format,
                       const std::optional<std::string>& partner,
                       const std::optional<std::string>& origin, UnixNanos received_at) {
  PreparedRaw raw;
  raw.hash = Sha256Of(bytes);
  raw.record = EncodeRawRecord(bytes, format, partner, origin, received_at);
  return raw;
}

PreparedEvent PrepareEvent(const Event& event, int raw_index) {
  PreparedEvent p;
  p.event_id = event.event_id;
  p.shipment_id = event.shipment_id;
  if (event.order_id) p.order_id = *event.order_id;
  EncodeEventContent(event, &p.content);
  p.content_digest = Sha256Of(p.content);
  p.raw_index = raw_index;
  return p;
}

void RocksLedger::StartWriter() {
  writer_ = std::thread([this] { WriterLoop(); });
}

namespace {

// A restore request (PreparedEvent::expected) goes to the writer alone; the writer tells it
// by its first event, so its shape is checked here, on the producer's thread.
bool IsRestoreRequest(const AppendBatch& batch) {
  return !batch.events.empty() && batch.events.front().expected.has_value();
}

Status CheckRestoreShape(const AppendBatch& batch) {
  const bool restore = IsRestoreRequest(batch);
  for (const auto& e : batch.events) {
    if (e.expected.has_value() != restore) {
      return Status::Invalid(
          "a batch mixes events with and without an expected ledger position (event id \"" +
          e.event_id + "\"): a chain restore must give every event its position");
    }
  }
  if (restore && (!batch.dead_letters.empty() || !batch.dead_letter_updates.empty())) {
    return Status::Invalid("a chain restore batch cannot carry dead letters");
  }
  return Status::Ok();
}

// A restored event's position against the (tentative) head it would follow.
Status CheckExpectedPosition(const ExpectedPosition& want, const LedgerHead& head,
                             const Sha256& computed) {
  const std::string at = "restore of seq " + std::to_string(want.seq) + ": ";
  if (want.seq != head.seq + 1) {
    return Status::Invalid(at + "the next sequence of this ledger is " +
                           std::to_string(head.seq + 1));
  }
  if (want.recorded_at < head.recorded_at) {
    return Status::Invalid(at + "recorded_at " + std::to_string(want.recorded_at) +
                           " ns is before the head's (" + std::to_string(head.recorded_at) +
                           " ns at seq " + std::to_string(head.seq) + ")");
  }
  if (computed != want.hash) {
    return Status::Invalid(at + "the event hashes to " + ToHex(computed) + ", not the given " +
                           ToHex(want.hash) +
                           " (its content, recorded_at or the chain before it differ)");
  }
  return Status::Ok();
}

}  // namespace

void RocksLedger::AppendAsync(AppendBatch batch, std::function<void(Result<AppendResult>)> done) {
  const std::size_t n = batch.events.size() + batch.dead_letters.size();
  if (options_.mode != OpenMode::kReadWrite) {
    done(Status::Unsupported("ledger in " + data_dir() + " is open read-only"));
    return;
  }
  if (Status shape = CheckRestoreShape(batch); !shape.ok()) {
    done(std::move(shape));
    return;
  }
  std::unique_lock<std::mutex> lock(queue_mu_);
  // A single batch larger than the limit still goes in once the queue is empty.
  space_cv_.wait(lock, [&] {
    return stopping_ || queued_events_ == 0 || queued_events_ + n <= options_.max_pending_events;
  });
  if (stopping_) {
    lock.unlock();
    done(Status::Shutdown("ledger is closing; the batch was not appended"));
    return;
  }
  queued_events_ += n;
  queue_.push_back(Request{std::move(batch), std::move(done)});
  lock.unlock();
  queue_cv_.notify_one();
}

Result<AppendResult> RocksLedger::Append(AppendBatch batch) {
  std::promise<Result<AppendResult>> promise;
  auto future = promise.get_future();
  AppendAsync(std::move(batch),
              [&promise](Result<AppendResult> r) { promise.set_value(std::move(r)); });
  return future.get();
}

void RocksLedger::WriterLoop() {
  DisableRocksPerfCounters();
  std::vector<Request> group;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      if (writable_.load()) {
        queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty() || !writable_.load(); });
      } else {
        // Not writable (full disk, RocksDB background error): probe for recovery with
        // backoff even when nobody appends, so the state (and /readyz) clears by itself.
        queue_cv_.wait_for(lock, retry_delay_, [&] { return stopping_ || !queue_.empty(); });
      }
      if (queue_.empty()) {
        if (stopping_) return;  // stopping, and everything queued has been committed
        lock.unlock();
        ProbeRecovery(/*force=*/false);
        continue;
      }
      std::size_t taken = 0;
      while (!queue_.empty()) {
        const auto& b = queue_.front().batch;
        const std::size_t n = b.events.size() + b.dead_letters.size();
        // A restore request is a group of its own: its failure must fail it alone.
        const bool restore = IsRestoreRequest(b);
        if (!group.empty() && (restore || taken + n > options_.max_group_events)) break;
        taken += n;
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
        if (restore) break;
      }
      queued_events_ -= taken;
    }
    space_cv_.notify_all();
    ProbeRecovery(/*force=*/false);  // no-op while writable
    CommitGroup(group);
    group.clear();
  }
}

void RocksLedger::CommitGroup(std::vector<Request>& group) {
  // 0. A request that updates a dead letter that does not exist fails alone, before it can
  // take part in the group's idempotency or sequences.
  std::erase_if(group, [&](Request& r) {
    for (const auto& dl : r.batch.dead_letter_updates) {
      if (dl.id == 0 || dl.id >= next_dead_letter_id_) {
        r.done(Status::NotFound("dead letter " + std::to_string(dl.id) + " does not exist"));
        return true;
      }
    }
    return false;
  });
  if (group.empty()) return;

  // 1. Idempotency: one MultiGet for the group's distinct event ids.
  std::vector<const PreparedEvent*> events;
  for (auto& r : group) {
    for (auto& e : r.batch.events) events.push_back(&e);
  }
  std::unordered_map<std::string_view, std::size_t> first_in_group;
  first_in_group.reserve(events.size());
  std::vector<std::string> key_storage;
  std::vector<std::size_t> lookup_of;  // event index -> index into keys, or SIZE_MAX
  key_storage.reserve(events.size());
  lookup_of.assign(events.size(), SIZE_MAX);
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (first_in_group.emplace(events[i]->event_id, i).second) {
      lookup_of[i] = key_storage.size();
      key_storage.push_back(IdempotencyKey(events[i]->event_id));
    }
  }
  std::vector<rocksdb::Slice> keys(key_storage.begin(), key_storage.end());
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  if (!keys.empty()) {
    db_->MultiGet(rocksdb::ReadOptions(), cf_[kIdempotency], keys.size(), keys.data(),
                  values.data(), statuses.data());
  }

  // 2. Sequences, hashes and the batch. `head` is tentative until the write succeeds.
  LedgerHead head = Head();
  UnixNanos recorded_at = std::max(clock_->Now(), last_recorded_at_);
  std::uint64_t next_dl = next_dead_letter_id_;
  std::vector<AppendResult> results(group.size());
  rocksdb::WriteBatch wb;
  Status failure;
  std::vector<AppendOutcome> outcome_of(events.size());
  std::unordered_set<std::string_view> raws_written;
  std::string record;
  std::size_t ei = 0;
  std::size_t updates = 0;
  std::uint64_t stored = 0, duplicates = 0;                    // for writer_figures()
  std::vector<std::pair<std::size_t, std::uint64_t>> new_ids;  // (index into keys, seq)
  new_ids.reserve(keys.size());
  std::vector<std::string> shipment_keys;  // of the stored events
  shipment_keys.reserve(keys.size());
  for (std::size_t g = 0; g < group.size() && failure.ok(); ++g) {
    AppendBatch& batch = group[g].batch;
    std::vector<bool> raw_used(batch.raws.size(), false);
    for (auto& e : batch.events) {
      AppendOutcome& out = outcome_of[ei];
      const std::size_t lk = lookup_of[ei];
      if (e.expected && (lk == SIZE_MAX || statuses[lk].ok())) {
        failure = Status::Invalid("restore of seq " + std::to_string(e.expected->seq) +
                                  ": event id \"" + e.event_id + "\" is already " +
                                  (lk == SIZE_MAX ? "earlier in this batch" : "in the ledger"));
        break;
      }
      if (lk == SIZE_MAX) {
        out = outcome_of[first_in_group[e.event_id]];
        out.duplicate = true;
        ++duplicates;
      } else if (statuses[lk].ok()) {
        if (values[lk].size() != 8) {
          failure = Status::Corruption("idempotency entry for event id \"" + e.event_id + "\" is " +
                                       std::to_string(values[lk].size()) + " bytes");
          break;
        }
        out = {GetU64BE(values[lk].data()), true};
        ++duplicates;
      } else if (!statuses[lk].IsNotFound()) {
        failure = Status::IoError("idempotency lookup: " + statuses[lk].ToString());
        break;
      } else {
        RecordHeader h;
        h.seq = head.seq + 1;
        h.recorded_at = e.expected ? e.expected->recorded_at : recorded_at;
        h.prev_hash = head.hash;
        h.hash = ChainHash(h.seq, h.recorded_at, h.prev_hash, e.content_digest);
        if (e.expected) {
          failure = CheckExpectedPosition(*e.expected, head, h.hash);
          if (!failure.ok()) break;
        }
        record.clear();
        EncodeRecord(h, e.content, &record);
        const std::string seq_key = SeqKey(h.seq);
        rocksdb::Status s = wb.Put(cf_[kEvents], seq_key, record);
        shipment_keys.push_back(ShipmentKey(e.shipment_id, h.seq));
        new_ids.emplace_back(lk, h.seq);
        if (!s.ok()) {
          failure = Status::Internal("building write batch: " + s.ToString());
          break;
        }
        head = {h.seq, h.hash, h.recorded_at};
        out = {h.seq, false};
        ++stored;
        if (e.raw_index >= 0 && static_cast<std::size_t>(e.raw_index) < raw_used.size()) {
          raw_used[e.raw_index] = true;
        }
      }
      results[g].events.push_back(out);
      ++ei;
    }
    // Raw messages are kept when at least one of their events was stored; a message whose
    // events were all duplicates is already in the ledger (or its twin is).
    for (std::size_t r = 0; r < batch.raws.size() && failure.ok(); ++r) {
      const PreparedRaw& raw = batch.raws[r];
      std::string_view key(reinterpret_cast<const char*>(raw.hash.data()), raw.hash.size());
      if (!raw_used[r] || recent_raws_.contains(std::string(key)) ||
          !raws_written.insert(key).second) {
        continue;
      }
      rocksdb::Status s = wb.Put(cf_[kRaw], key, raw.record);
      if (!s.ok()) failure = Status::Internal("building write batch: " + s.ToString());
    }
    for (auto& dl : batch.dead_letters) {
      dl.id = next_dl++;
      rocksdb::Status s = wb.Put(cf_[kDeadLetters], SeqKey(dl.id), EncodeDeadLetter(dl));
      if (!s.ok()) {
        failure = Status::Internal("building write batch: " + s.ToString());
        break;
      }
      results[g].dead_letter_ids.push_back(dl.id);
    }
    for (const auto& dl : batch.dead_letter_updates) {
      rocksdb::Status s = wb.Put(cf_[kDeadLetters], SeqKey(dl.id), EncodeDeadLetter(dl));
      if (!s.ok()) {
        failure = Status::Internal("building write batch: " + s.ToString());
        break;
      }
      ++updates;
    }
  }

  // 3. Idempotency and shipment-index entries go in in key order. Their keys start with a
  // hash, so in arrival order every insert searched the memtable's skiplist from the top;
  // sorted, each one starts from where the previous one left off (RocksDB keeps that splice
  // between inserts). On the 1M X12 import the idempotency family's skiplist search fell
  // from 12% to 6% of all CPU samples. The batch is applied atomically, so the order of its
  // entries changes nothing else.
  if (failure.ok() && !shipment_keys.empty()) {
    // (A bulk load's vector memtable sorts once, at flush.)
    if (!options_.bulk_load) std::sort(shipment_keys.begin(), shipment_keys.end());
    for (const std::string& key : shipment_keys) {
      rocksdb::Status s = wb.Put(cf_[kShipments], key, "");
      if (!s.ok()) {
        failure = Status::Internal("building write batch: " + s.ToString());
        break;
      }
    }
  }
  if (failure.ok() && !new_ids.empty()) {
    std::sort(new_ids.begin(), new_ids.end(), [&](const auto& a, const auto& b) {
      return key_storage[a.first] < key_storage[b.first];
    });
    std::string seq_key;
    for (const auto& [lk, seq] : new_ids) {
      seq_key.clear();
      PutU64BE(seq, &seq_key);
      rocksdb::Status s = wb.Put(cf_[kIdempotency], key_storage[lk], seq_key);
      if (!s.ok()) {
        failure = Status::Internal("building write batch: " + s.ToString());
        break;
      }
    }
  }

  // 4. The head and counters ride in the same batch; then one synced write.
  if (failure.ok()) {
    std::string head_value;
    PutU64BE(head.seq, &head_value);
    head_value.append(reinterpret_cast<const char*>(head.hash.data()), head.hash.size());
    PutI64BE(head.recorded_at, &head_value);
    std::string dl_value;
    PutU64BE(next_dl, &dl_value);
    rocksdb::Status s = wb.Put(cf_[kMeta], std::string(kMetaHead), head_value);
    if (s.ok()) s = wb.Put(cf_[kMeta], std::string(kMetaNextDeadLetterId), dl_value);
    if (!s.ok()) failure = Status::Internal("building write batch: " + s.ToString());
  }
  // A group of nothing but duplicates changes nothing: their originals are already durable.
  const bool nothing_new =
      head.seq == Head().seq && next_dl == next_dead_letter_id_ && updates == 0;
  if (failure.ok() && nothing_new) {
    RecordGroup(0, duplicates, 0, std::nullopt);
    for (std::size_t g = 0; g < group.size(); ++g) group[g].done(std::move(results[g]));
    return;
  }
  if (failure.ok() && options_.TEST_fail_write) {
    if (auto msg = options_.TEST_fail_write()) failure = Status::IoError(*msg);
  }
  // Full disk: refused before RocksDB sees it (rocks_ledger_space.cc).
  if (failure.ok()) failure = CheckWritable(wb.GetDataSize());
  std::chrono::steady_clock::duration write_time{};
  if (failure.ok()) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    const auto write_start = std::chrono::steady_clock::now();
    rocksdb::Status s = db_->Write(wo, &wb);
    write_time = std::chrono::steady_clock::now() - write_start;
    if (!s.ok()) {
      failure = Status::IoError("ledger write failed, nothing from this batch was stored: " +
                                s.ToString());
    }
  }

  if (!failure.ok()) {
    // Nothing was written: the head, counters and recent raws above stay as they were.
    if (failure.code() == ErrorCode::kIoError) NoteWrite(failure);
    for (auto& r : group) r.done(failure);
    return;
  }
  NoteWrite(Status::Ok());
  RecordGroup(stored, duplicates, next_dl - next_dead_letter_id_,
              std::chrono::duration<double>(write_time).count());
  next_dead_letter_id_ = next_dl;
  last_recorded_at_ = head.recorded_at;
  constexpr std::size_t kRecentRaws = 1024;
  for (std::string_view key : raws_written) {
    if (recent_raws_.emplace(key).second) recent_raws_order_.emplace_back(key);
  }
  while (recent_raws_order_.size() > kRecentRaws) {
    recent_raws_.erase(recent_raws_order_.front());
    recent_raws_order_.pop_front();
  }
  {
    std::lock_guard<std::mutex> lock(head_mu_);
    head_ = head;
  }
  head_cv_.notify_all();
  for (std::size_t g = 0; g < group.size(); ++g) group[g].done(std::move(results[g]));
}

// Writer thread only: every field has this one writer, so load + store is enough and
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
