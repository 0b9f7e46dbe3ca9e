// Group commit of concurrent appends, first stage: the queue and the sequencer.
//
// Appenders queue Requests; the sequencer thread takes every queued request (up to
// max_group_events), resolves idempotency for the whole group (the keys of groups still
// being written, then one MultiGet, plus an in-group map), assigns sequences, chains
// hashes and builds one WriteBatch, all on a tentative head that assumes every group handed
// off commits. The committer thread (rocks_ledger_commit.cc) writes it with sync=true and
// only then completes the callers, while the sequencer prepares the next group. A failed
// write completes every caller of its group, and of any group prepared on top of it, with
// the error; the sequencer then restarts from the durable head, so the ledger is unchanged.
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
  std::thread committer([this] { CommitterLoop(); });
  std::vector<Request> group;
  for (;;) {
    // Take the next group only once the committer holds the previous one, and while it
    // writes that one only if plenty is queued: preparing ahead pays when groups are large
    // and the writer is CPU-bound (an import), while with a few small appends in flight
    // (single-event HTTP posts) what arrives during the write makes the next group larger,
    // which is what amortises the fsync. (Preparing ahead regardless gave 20 instead of 28
    // events per commit and 5% fewer events/s on single-event posts from 64 connections.)
    WaitForHandOffSlot();
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      if (writable_.load()) {
        queue_cv_.wait(lock, [&] {
          return stopping_ || !writable_.load() ||
                 (!queue_.empty() &&
                  (queued_events_ >= options_.prepare_ahead_events || !committer_busy_.load()));
        });
      } else {
        // Not writable (full disk, RocksDB background error): probe for recovery with
        // backoff even when nobody appends, so the state (and /readyz) clears by itself.
        queue_cv_.wait_for(lock, retry_delay_, [&] { return stopping_ || !queue_.empty(); });
      }
      if (queue_.empty()) {
        if (stopping_) break;  // stopping, and everything queued has been handed off
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
    SettleInFlight();
    std::optional<PreparedGroup> prepared = PrepareGroup(group);
    group.clear();
    if (prepared) HandOff(std::move(*prepared));
  }
  {
    std::lock_guard<std::mutex> lock(commit_mu_);
    committer_stop_ = true;
  }
  commit_cv_.notify_all();
  committer.join();  // it commits the group it holds first
}

void RocksLedger::WaitForHandOffSlot() {
  std::unique_lock<std::mutex> lock(commit_mu_);
  commit_cv_.wait(lock, [&] { return !handoff_.has_value(); });
}

void RocksLedger::HandOff(PreparedGroup group) {
  {
    std::unique_lock<std::mutex> lock(commit_mu_);
    commit_cv_.wait(lock, [&] { return !handoff_.has_value(); });
    handoff_ = std::move(group);
  }
  commit_cv_.notify_all();
}

void RocksLedger::SettleInFlight() {
  std::unique_lock<std::mutex> lock(commit_mu_);
  if (poison_) {
    // A write failed. Once the committer has failed every group prepared on top of it,
    // the durable state is the whole truth again.
    commit_cv_.wait(lock, [&] { return !handoff_.has_value() && !committing_; });
    poison_.reset();
    next_dead_letter_id_ = durable_next_dead_letter_id_;
    lock.unlock();
    tentative_head_ = Head();
    in_flight_ids_.clear();
    in_flight_groups_.clear();
    recent_raws_.clear();
    recent_raws_order_.clear();
    return;
  }
  const std::uint64_t settled = settled_token_;
  lock.unlock();
  // A settled group's keys are in RocksDB now, and its write happened before this point,
  // so the MultiGet that follows sees them.
  while (!in_flight_groups_.empty() && in_flight_groups_.front().token <= settled) {
    for (const std::string& key : in_flight_groups_.front().keys) in_flight_ids_.erase(key);
    in_flight_groups_.pop_front();
  }
}

std::optional<RocksLedger::PreparedGroup> RocksLedger::PrepareGroup(std::vector<Request>& group) {
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
  if (group.empty()) return std::nullopt;

  // 1. Idempotency: the group's distinct event ids are looked up among the in-flight
  // groups' (not yet in RocksDB), the rest with one MultiGet.
  std::vector<const PreparedEvent*> events;
  for (auto& r : group) {
    for (auto& e : r.batch.events) events.push_back(&e);
  }
  std::unordered_map<std::string_view, std::size_t> first_in_group;
  first_in_group.reserve(events.size());
  std::vector<std::string> key_storage;
  std::vector<std::size_t> lookup_of;  // event index -> index into key_storage, or SIZE_MAX
  key_storage.reserve(events.size());
  lookup_of.assign(events.size(), SIZE_MAX);
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (first_in_group.emplace(events[i]->event_id, i).second) {
      lookup_of[i] = key_storage.size();
      key_storage.push_back(IdempotencyKey(events[i]->event_id));
    }
  }
  // found_seq[k]: the stored sequence of key_storage[k]'s event, 0 when it is new.
  std::vector<std::uint64_t> found_seq(key_storage.size(), 0);
  std::vector<rocksdb::Slice> keys;
  std::vector<std::size_t> storage_of_key;  // index into keys -> index into key_storage
  keys.reserve(key_storage.size());
  storage_of_key.reserve(key_storage.size());
  for (std::size_t k = 0; k < key_storage.size(); ++k) {
    if (auto it = in_flight_ids_.find(key_storage[k]); it != in_flight_ids_.end()) {
      found_seq[k] = it->second;
    } else {
      storage_of_key.push_back(k);
      keys.emplace_back(key_storage[k]);
    }
  }
  Status failure;
  if (!keys.empty()) {
    std::vector<rocksdb::PinnableSlice> values(keys.size());
    std::vector<rocksdb::Status> statuses(keys.size());
    db_->MultiGet(rocksdb::ReadOptions(), cf_[kIdempotency], keys.size(), keys.data(),
                  values.data(), statuses.data());
    for (std::size_t i = 0; i < keys.size() && failure.ok(); ++i) {
      if (statuses[i].IsNotFound()) continue;
      const std::size_t k = storage_of_key[i];
      if (!statuses[i].ok()) {
        failure = Status::IoError("idempotency lookup: " + statuses[i].ToString());
      } else if (values[i].size() != 8) {
        failure =
            Status::Corruption("idempotency entry for event id \"" + key_storage[k].substr(8) +
                               "\" is " + std::to_string(values[i].size()) + " bytes");
      } else {
        found_seq[k] = GetU64BE(values[i].data());
      }
    }
  }

  // 2. Sequences, hashes and the batch, on the tentative head.
  LedgerHead head = tentative_head_;
  UnixNanos recorded_at = std::max(clock_->Now(), last_recorded_at_);
  std::uint64_t next_dl = next_dead_letter_id_;
  PreparedGroup prepared;
  prepared.results.resize(group.size());
  rocksdb::WriteBatch& wb = prepared.batch;
  std::vector<AppendOutcome> outcome_of(events.size());
  std::unordered_set<std::string_view> raws_written;
  std::string record;
  std::size_t ei = 0;
  std::size_t updates = 0;
  std::uint64_t stored = 0, duplicates = 0;                    // for writer_figures()
  std::vector<std::pair<std::size_t, std::uint64_t>> new_ids;  // (index into key_storage, seq)
  new_ids.reserve(key_storage.size());
  std::vector<std::string> shipment_keys;  // of the stored events
  shipment_keys.reserve(key_storage.size());
  for (std::size_t g = 0; g < group.size() && failure.ok(); ++g) {
    AppendBatch& batch = group[g].batch;
    std::vector<bool> raw_used(batch.raws.size(), false);
    for (auto& e : batch.events) {
      AppendOutcome& out = outcome_of[ei];
      const std::size_t lk = lookup_of[ei];
      const bool known = lk != SIZE_MAX && found_seq[lk] != 0;
      if (e.expected && (lk == SIZE_MAX || known)) {
        failure = Status::Invalid("restore of seq " + std::to_string(e.expected->seq) +
                                  ": event id \"" + e.event_id + "\" is already " +
                                  (lk == SIZE_MAX ? "earlier in this batch" : "in the ledger"));
        break;
      }
      if (lk == SIZE_MAX) {
        out = outcome_of[first_in_group[e.event_id]];
        out.duplicate = true;
        ++duplicates;
      } else if (known) {
        out = {found_seq[lk], true};
        ++duplicates;
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
      prepared.results[g].events.push_back(out);
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
      prepared.results[g].dead_letter_ids.push_back(dl.id);
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

  // 4. The head and counters ride in the same batch.
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
  if (!failure.ok()) {
    // Nothing was handed off: the tentative state stays as it was.
    if (failure.code() == ErrorCode::kIoError) NoteWrite(failure);
    for (auto& r : group) r.done(failure);
    return std::nullopt;
  }

  // 5. The tentative state moves on as if the group commits; the committer's failure
  // resets it (SettleInFlight).
  // A group of nothing but duplicates changes nothing, but is still completed by the
  // committer, after any in-flight group holding their originals.
  prepared.write_needed =
      head.seq != tentative_head_.seq || next_dl != next_dead_letter_id_ || updates != 0;
  prepared.token = next_token_++;
  prepared.head = head;
  prepared.next_dead_letter_id = next_dl;
  prepared.stored = stored;
  prepared.duplicates = duplicates;
  prepared.dead_letters = next_dl - next_dead_letter_id_;
  if (prepared.write_needed) {
    tentative_head_ = head;
    next_dead_letter_id_ = next_dl;
    last_recorded_at_ = head.recorded_at;
  }
  if (!new_ids.empty()) {
    InFlightGroup& in_flight = in_flight_groups_.emplace_back();
    in_flight.token = prepared.token;
    in_flight.keys.reserve(new_ids.size());
    for (const auto& [lk, seq] : new_ids) in_flight.keys.push_back(std::move(key_storage[lk]));
    // Views are taken only now: the vector no longer grows, so its strings stay put.
    for (std::size_t i = 0; i < new_ids.size(); ++i) {
      in_flight_ids_.emplace(in_flight.keys[i], new_ids[i].second);
    }
  }
  constexpr std::size_t kRecentRaws = 1024;
  for (std::string_view key : raws_written) {
    if (recent_raws_.emplace(key).second) recent_raws_order_.emplace_back(key);
  }
  while (recent_raws_order_.size() > kRecentRaws) {
    recent_raws_.erase(recent_raws_order_.front());
    recent_raws_order_.pop_front();
  }
  prepared.requests = std::move(group);
  return prepared;
}

}  // namespace waybill::ledger
