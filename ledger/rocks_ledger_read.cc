// Readers: ranges, shipments, recorded time, raw messages, dead letters, verify and stats.
// All of them read RocksDB directly and run concurrently with the writer.
#include <filesystem>

#include "ledger/key_layout.h"
#include "ledger/pipelined_scan.h"
#include "ledger/record_format.h"
#include "ledger/rocks_ledger.h"
#include "ledger/wal_recovery.h"
#include "schemas/sha256.h"

namespace waybill::ledger {
namespace {

Status IoStatus(const rocksdb::Status& s, const std::string& what) {
  if (s.IsCorruption()) return Status::Corruption(what + ": " + s.ToString());
  return Status::IoError(what + ": " + s.ToString());
}

// A read error, naming the damaged table file first when RocksDB names one.
std::string Unreadable(const rocksdb::Status& s) {
  const std::string message = s.ToString();
  const std::string file = TableFileIn(message);
  return file.empty() ? message : "table file " + file + " is damaged: " + message;
}

}  // namespace

Status RocksLedger::ReadRange(std::uint64_t from, std::uint64_t to,
                              const std::function<bool(const Event&)>& fn) const {
  if (from == 0) from = 1;
  if (to < from) return Status::Ok();
  DisableRocksPerfCounters();
  const std::string start = SeqKey(from);
  std::string end;
  rocksdb::Slice end_slice;
  rocksdb::ReadOptions ro;
  ro.readahead_size = 2 << 20;
  ro.fill_cache = false;
  if (to != UINT64_MAX) {
    end = SeqKey(to + 1);
    end_slice = end;
    ro.iterate_upper_bound = &end_slice;
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf_[kEvents]));
  Event event;
  Status decode_error;
  auto consume = [&](std::string_view key, std::string_view value) {
    Status st = DecodeRecord(value, &event);
    if (!st.ok()) {
      decode_error =
          Status::Corruption("event " + std::to_string(GetU64BE(key.data())) + ": " + st.message());
      return false;
    }
    return fn(event);
  };
  // Long scans overlap iteration and decoding on two threads; short ones stay inline.
  constexpr std::uint64_t kPipelineFrom = 4096;
  if (to - from >= kPipelineFrom) {
    Status st = PipelinedScan(std::move(it), start, consume);
    if (!decode_error.ok()) return decode_error;
    if (!st.ok()) return Status(st.code(), "reading events: " + st.message());
    return Status::Ok();
  }
  for (it->Seek(start); it->Valid(); it->Next()) {
    const rocksdb::Slice k = it->key(), v = it->value();
    if (!consume(std::string_view(k.data(), k.size()), std::string_view(v.data(), v.size()))) {
      return decode_error;
    }
  }
  if (!it->status().ok()) return IoStatus(it->status(), "reading events");
  return Status::Ok();
}

Result<Event> RocksLedger::Get(std::uint64_t seq) const {
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_[kEvents], SeqKey(seq), &value);
  if (s.IsNotFound()) return Status::NotFound("no event with sequence " + std::to_string(seq));
  if (!s.ok()) return IoStatus(s, "reading event " + std::to_string(seq));
  Event event;
  Status st = DecodeRecord(std::string_view(value.data(), value.size()), &event);
  if (!st.ok()) return Status::Corruption("event " + std::to_string(seq) + ": " + st.message());
  return event;
}

Result<std::vector<Event>> RocksLedger::ReadShipment(std::string_view shipment_id,
                                                     std::uint64_t after_seq,
                                                     std::uint64_t through_seq) const {
  if (after_seq >= through_seq) return std::vector<Event>();
  const std::string prefix = ShipmentPrefix(shipment_id);
  std::vector<std::string> seq_keys;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_[kShipments]));
  std::string start = prefix;
  if (after_seq != 0) PutU64BE(after_seq + 1, &start);
  for (it->Seek(start); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (it->key().size() != prefix.size() + 8) {
      return Status::Corruption("shipment index key for \"" + std::string(shipment_id) +
                                "\" has the wrong length");
    }
    if (GetU64BE(it->key().data() + prefix.size()) > through_seq) break;
    seq_keys.emplace_back(it->key().data() + prefix.size(), 8);
  }
  if (!it->status().ok()) return IoStatus(it->status(), "reading shipment index");
  std::vector<rocksdb::Slice> keys(seq_keys.begin(), seq_keys.end());
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  if (!keys.empty()) {
    db_->MultiGet(rocksdb::ReadOptions(), cf_[kEvents], keys.size(), keys.data(), values.data(),
                  statuses.data(), /*sorted_input=*/true);
  }
  std::vector<Event> events(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const std::uint64_t seq = GetU64BE(seq_keys[i].data());
    if (!statuses[i].ok()) {
      return IoStatus(statuses[i], "reading event " + std::to_string(seq) + " of shipment \"" +
                                       std::string(shipment_id) + "\"");
    }
    Status st = DecodeRecord(std::string_view(values[i].data(), values[i].size()), &events[i]);
    if (!st.ok()) return Status::Corruption("event " + std::to_string(seq) + ": " + st.message());
  }
  return events;
}

Result<std::uint64_t> RocksLedger::FirstSeqRecordedAfter(UnixNanos t) const {
  // recorded_at never decreases with the sequence, so binary search over the headers.
  std::uint64_t lo = 1, hi = Head().seq + 1;  // answer in [lo, hi]
  std::string value;
  while (lo < hi) {
    const std::uint64_t mid = lo + (hi - lo) / 2;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_[kEvents], SeqKey(mid), &value);
    if (!s.ok()) return IoStatus(s, "reading event " + std::to_string(mid));
    RecordHeader h;
    std::string_view content;
    WAYBILL_RETURN_IF_ERROR(DecodeRecordHeader(value, &h, &content));
    if (h.recorded_at > t) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return lo;
}

Result<RawMessage> RocksLedger::GetRaw(const Sha256& hash) const {
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), cf_[kRaw],
               rocksdb::Slice(reinterpret_cast<const char*>(hash.data()), 32), &value);
  if (s.IsNotFound()) return Status::NotFound("no raw message with hash " + ToHex(hash));
  if (!s.ok()) return IoStatus(s, "reading raw message " + ToHex(hash));
  RawMessage raw;
  WAYBILL_RETURN_IF_ERROR(DecodeRawRecord(value, &raw));
  raw.hash = hash;
  return raw;
}

Result<VerifyReport> RocksLedger::Verify(std::uint64_t from, std::uint64_t to) const {
  const LedgerHead head = Head();
  auto report = VerifyChain(from, to);
  if (!report.ok() || !report->intact || from > 1 || to < head.seq) return report;
  // The whole ledger: what the chain walk cannot see. An intact prefix before WAL damage
  // verifies on its own; the damage is what follows it.
  if (wal_damage_ && !wal_damage_->after_crash) {
    report->intact = false;
    report->first_broken_seq = head.seq + 1;
    report->reason = DescribeWalDamage(*wal_damage_) + ": the events up to sequence " +
                     std::to_string(head.seq) +
                     " are intact; whatever was written after them is lost";
    return report;
  }
  if (std::optional<std::string> damage = DamagedTableFile()) {
    report->intact = false;
    report->first_broken_seq = 0;  // not in the chain: the events all read and verify
    report->reason = *damage + "; all " + std::to_string(report->events) +
                     " events read and verify, the damage is outside the chain";
  }
  return report;
}

std::optional<std::string> RocksLedger::DamagedTableFile() const {
  rocksdb::Status s = db_->VerifyChecksum();
  // A reader beside a running server (a RocksDB secondary) checks the table files of the
  // ledger as it stood when the reader last caught up, and reopens each by name. The
  // server's compactions delete files whose data they moved: a missing file is damage only
  // if the writer's current file list still names it.
  for (int attempt = 0; attempt < 3 && s.IsPathNotFound() && !secondary_dir_.empty(); ++attempt) {
    if (!db_->TryCatchUpWithPrimary().ok()) break;
    s = db_->VerifyChecksum();
  }
  if (s.ok()) return std::nullopt;
  const std::string message = s.ToString();
  const std::string file = TableFileIn(message);
  if (file.empty()) return "table files do not verify: " + message;
  std::string family;
  std::vector<rocksdb::LiveFileMetaData> files;
  db_->GetLiveFilesMetaData(&files);
  const std::string name = std::filesystem::path(file).filename().string();
  for (const auto& f : files) {
    if (std::filesystem::path(f.name).filename().string() == name) family = f.column_family_name;
  }
  return "table file " + file + (family.empty() ? "" : " (column family " + family + ")") +
         " is damaged: " + message;
}

Result<VerifyReport> RocksLedger::VerifyChain(std::uint64_t from, std::uint64_t to) const {
  VerifyReport report;
  const LedgerHead stored_head = Head();
  if (from == 0) from = 1;
  to = std::min(to, stored_head.seq);
  auto broken = [&report](std::uint64_t seq, std::string reason) {
    report.intact = false;
    report.first_broken_seq = seq;
    report.reason = std::move(reason);
    return report;
  };
  Sha256 expected_prev{};
  if (from > 1) {
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_[kEvents], SeqKey(from - 1), &value);
    if (!s.ok())
      return broken(from - 1, "cannot read the event before the range: " + Unreadable(s));
    RecordHeader h;
    std::string_view content;
    Status st = DecodeRecordHeader(value, &h, &content);
    if (!st.ok()) return broken(from - 1, st.message());
    expected_prev = h.hash;
    report.head = {h.seq, h.hash, h.recorded_at};
  }
  if (from > to) return report;

  rocksdb::ReadOptions ro;
  ro.readahead_size = 2 << 20;
  ro.fill_cache = false;
  ro.verify_checksums = true;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf_[kEvents]));
  std::uint64_t expected_seq = from;
  for (it->Seek(SeqKey(from)); it->Valid() && expected_seq <= to; it->Next(), ++expected_seq) {
    if (it->key().size() != 8) return broken(expected_seq, "malformed event key");
    const std::uint64_t key_seq = GetU64BE(it->key().data());
    if (key_seq != expected_seq) {
      return broken(expected_seq,
                    "event is missing (next stored is " + std::to_string(key_seq) + ")");
    }
    RecordHeader h;
    std::string_view content;
    const rocksdb::Slice v = it->value();
    Status st = DecodeRecordHeader(std::string_view(v.data(), v.size()), &h, &content);
    if (!st.ok()) return broken(expected_seq, st.message());
    if (h.seq != key_seq) {
      return broken(expected_seq, "record says sequence " + std::to_string(h.seq));
    }
    if (h.prev_hash != expected_prev) {
      return broken(expected_seq, "prev_hash " + ToHex(h.prev_hash) +
                                      " does not match the previous event's hash " +
                                      ToHex(expected_prev));
    }
    if (h.recorded_at < report.head.recorded_at) {
      return broken(expected_seq, "recorded_at goes backwards");
    }
    const Sha256 computed = ChainHash(h.seq, h.recorded_at, h.prev_hash, Sha256Of(content));
    if (computed != h.hash) {
      return broken(expected_seq, "stored hash " + ToHex(h.hash) +
                                      " does not match the recomputed " + ToHex(computed));
    }
    expected_prev = h.hash;
    report.head = {h.seq, h.hash, h.recorded_at};
    ++report.events;
  }
  if (!it->status().ok()) return broken(expected_seq, "cannot read: " + Unreadable(it->status()));
  if (expected_seq <= to) return broken(expected_seq, "event is missing");
  if (to == stored_head.seq && report.head.hash != stored_head.hash) {
    return broken(stored_head.seq, "the ledger head in meta does not match the last event");
  }
  return report;
}

Result<LedgerStats> RocksLedger::Stats() const {
  LedgerStats stats;
  stats.head = Head();
  stats.events = stats.head.seq;
  {
    // Skip-scan: one Seek per shipment, past all of its index entries. Crosses hash
    // buckets, so it needs total-order iteration.
    rocksdb::ReadOptions ro;
    ro.total_order_seek = true;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf_[kShipments]));
    it->SeekToFirst();
    while (it->Valid()) {
      ++stats.shipments;
      const rocksdb::Slice k = it->key();
      if (k.size() < 9) return Status::Corruption("malformed shipment index key");
      std::string next(k.data(), k.size() - 9);
      next.push_back('\x01');
      it->Seek(next);
    }
    if (!it->status().ok()) return IoStatus(it->status(), "counting shipments");
  }
  {
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), cf_[kDeadLetters]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ++stats.dead_letters;
      DeadLetter dl;
      const rocksdb::Slice v = it->value();
      WAYBILL_RETURN_IF_ERROR(DecodeDeadLetter(std::string_view(v.data(), v.size()), &dl));
      if (dl.state == DeadLetterState::kPending) ++stats.dead_letters_pending;
    }
    if (!it->status().ok()) return IoStatus(it->status(), "counting dead letters");
  }
  std::uint64_t raw = 0;
  if (db_->GetIntProperty(cf_[kRaw], "rocksdb.estimate-num-keys", &raw)) stats.raw_messages = raw;
  std::error_code ec;
  // The data dir's own files only: RocksDB keeps its tables and WAL at the top level, and
  // subdirectories hold backup checkpoints whose hard links would count the same bytes twice.
  for (const auto& entry : std::filesystem::directory_iterator(data_dir(), ec)) {
    if (entry.is_regular_file(ec)) stats.size_bytes += entry.file_size(ec);
  }
  return stats;
}

MemoryFigures RocksLedger::memory_figures() const {
  MemoryFigures m;
  for (rocksdb::ColumnFamilyHandle* cf : cf_) {
    std::uint64_t v = 0;
    if (db_->GetIntProperty(cf, "rocksdb.size-all-mem-tables", &v)) m.memtables += v;
    if (db_->GetIntProperty(cf, "rocksdb.estimate-table-readers-mem", &v)) m.table_readers += v;
  }
  // The log's families share one cache and the views have their own
  // (ledger/rocks_ledger_open.cc): each counted once.
  for (rocksdb::ColumnFamilyHandle* cf : {cf_[kEvents], cf_[kViews]}) {
    std::uint64_t v = 0;
    if (db_->GetIntProperty(cf, "rocksdb.block-cache-usage", &v)) m.block_cache += v;
  }
  return m;
}

Result<std::vector<DeadLetterSummary>> RocksLedger::ListDeadLetters(std::uint64_t after_id,
                                                                    std::size_t limit) const {
  std::vector<DeadLetterSummary> out;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), cf_[kDeadLetters]));
  for (it->Seek(SeqKey(after_id + 1)); it->Valid() && out.size() < limit; it->Next()) {
    DeadLetterSummary dl;
    const rocksdb::Slice v = it->value();
    WAYBILL_RETURN_IF_ERROR(DecodeDeadLetterSummary(std::string_view(v.data(), v.size()), &dl));
    out.push_back(std::move(dl));
  }
  if (!it->status().ok()) return IoStatus(it->status(), "reading dead letters");
  return out;
}

Result<DeadLetter> RocksLedger::GetDeadLetter(std::uint64_t id) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_[kDeadLetters], SeqKey(id), &value);
  if (s.IsNotFound()) return Status::NotFound("no dead letter with id " + std::to_string(id));
  if (!s.ok()) return IoStatus(s, "reading dead letter " + std::to_string(id));
  DeadLetter dl;
  WAYBILL_RETURN_IF_ERROR(DecodeDeadLetter(value, &dl));
  return dl;
}

}  // namespace waybill::ledger
