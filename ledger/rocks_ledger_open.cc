// Opening and closing the RocksDB ledger: options per column family, the data dir's lock,
// format-version checks and the head.
#include <fcntl.h>
#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "ledger/key_layout.h"
#include "ledger/record_format.h"
#include "ledger/rocks_ledger.h"
#include "ledger/wal_recovery.h"

namespace waybill::ledger {
namespace fs = std::filesystem;
namespace {

constexpr const char* kPidFile = "waybill.pid";
// Block caches (data, index and filter blocks): the log's families share one, the views
// another, so an ingest burst does not evict the blocks portal reads need.
constexpr std::size_t kLogBlockCacheBytes = std::size_t{256} << 20;
constexpr std::size_t kViewsBlockCacheBytes = std::size_t{256} << 20;

// Fresh data (L0, L1) stays uncompressed: it is rewritten soon and compressing it costs the
// writer CPU on a two-core machine. Older levels, where most bytes end up, use LZ4.
void CompressOlderLevels(rocksdb::ColumnFamilyOptions* o) {
  o->compression_per_level = {rocksdb::kNoCompression,  rocksdb::kNoCompression,
                              rocksdb::kLZ4Compression, rocksdb::kLZ4Compression,
                              rocksdb::kLZ4Compression, rocksdb::kLZ4Compression,
                              rocksdb::kLZ4Compression};
}

// A block cache with few shards: a shard holds 1/2^bits of the capacity, and RocksDB's
// default (up to 64 shards) made them smaller than the index and filter blocks they held.
std::shared_ptr<rocksdb::Cache> NewBlockCache(std::size_t bytes) {
  return rocksdb::NewLRUCache(bytes, /*num_shard_bits=*/4, /*strict_capacity_limit=*/false,
                              /*high_pri_pool_ratio=*/0.5);
}

// Index and filter blocks live in a block cache, not beside each open table file: there
// they are held for as long as the file is open, so RSS grew with the ledger (about 8 bytes
// per event: 700 MiB after 90M events in the 30-minute soak). In a cache they are bounded
// and kept at high priority (evicted after data blocks). They are partitioned into blocks
// of about 4 KiB under a small top level that stays pinned: a whole filter of a 64 MiB
// table file is more than a megabyte, and with whole filters the soak's writer spent half
// its time re-reading and checksumming filters the cache had just evicted (every append
// probes each level's filter for its idempotency keys). One cache per process for the log's
// families, shared by every ledger opened in it. `filter` false: no bloom filter.
rocksdb::BlockBasedTableOptions LogTableOptions(bool filter = true) {
  static const std::shared_ptr<rocksdb::Cache> log_cache = NewBlockCache(kLogBlockCacheBytes);
  rocksdb::BlockBasedTableOptions t;
  if (filter) {
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    t.partition_filters = true;
  }
  t.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
  t.metadata_block_size = 4096;
  t.block_cache = log_cache;
  t.cache_index_and_filter_blocks = true;
  t.cache_index_and_filter_blocks_with_high_priority = true;
  t.pin_top_level_index_and_filter = true;
  t.pin_l0_filter_and_index_blocks_in_cache = true;
  return t;
}

rocksdb::ColumnFamilyOptions BaseCfOptions() {
  rocksdb::ColumnFamilyOptions o;
  o.write_buffer_size = 32 << 20;
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(LogTableOptions()));
  return o;
}

std::vector<rocksdb::ColumnFamilyDescriptor> ColumnFamilies(bool bulk_load) {
  rocksdb::ColumnFamilyOptions events = BaseCfOptions();
  events.write_buffer_size = 64 << 20;
  CompressOlderLevels(&events);
  // Events are read by sequence and every sequence read exists: a filter would only ever
  // answer "maybe", so it is not built (on a large ledger it was a quarter of the filters).
  events.table_factory.reset(rocksdb::NewBlockBasedTableFactory(LogTableOptions(false)));
  rocksdb::ColumnFamilyOptions raw = BaseCfOptions();
  CompressOlderLevels(&raw);
  // Raw messages are read by hash, for audits, and are nearly always there: no filter on the
  // last level, where most of them are.
  raw.optimize_filters_for_hits = true;
  raw.memtable_factory.reset(new rocksdb::VectorRepFactory());
  // Idempotency keys are random and looked up for every append (MultiGet), so they stay in
  // the default skiplist memtable, with a prefix bloom to answer "never seen" quickly. A
  // hash-skiplist memtable made inserts O(1) but its flush re-sorts everything into a
  // slower skiplist: measured over 1M events it cost 20% more CPU than it saved (and again,
  // against key-ordered inserts, no faster on the X12 import). The writer inserts each
  // group's keys in order (rocks_ledger_write.cc), which keeps the skiplist's cost down.
  // Its memtable is small: a random insert costs a cache miss per skiplist level, and a
  // 16 MiB table stays mostly in cache where a 64 MiB one did not (X12 import +6-12% over
  // three alternating runs; 8 and 4 MiB were no better and peaked higher). Level 1 is sized
  // to four flushes, as RocksDB advises, so a level-0 compaction does not rewrite a 256 MiB
  // level for every 64 MiB flushed.
  rocksdb::ColumnFamilyOptions idem = BaseCfOptions();
  idem.write_buffer_size = 16 << 20;
  idem.max_bytes_for_level_base = 64 << 20;
  idem.prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(8));
  idem.memtable_prefix_bloom_size_ratio = 0.1;
  rocksdb::ColumnFamilyOptions shipments = BaseCfOptions();
  shipments.prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(8));
  // Shipment index entries are written for every event and read by shipment queries (the
  // events of a shipment, as-of views, one-shipment rebuilds), also while ingest runs. They
  // stay in the default skiplist memtable, inserted in key order per group commit. A vector
  // memtable appends faster (X12 import ~12%), but every read of an unflushed one sorts a
  // copy of it: 110 ms per shipment query with 300k entries buffered. So only a bulk load,
  // which answers no queries, uses one (LedgerOptions::bulk_load).
  shipments.write_buffer_size = 16 << 20;
  if (bulk_load) shipments.memtable_factory.reset(new rocksdb::VectorRepFactory());
  // Views are rewritten on every fold of their shipment: fresh levels stay uncompressed
  // (snappy on every flush showed in the worker's profile).
  rocksdb::ColumnFamilyOptions views = BaseCfOptions();
  CompressOlderLevels(&views);
  // Portal reads (GET /v1/shipments/{id}) hit views at random; with RocksDB's default 8 MB
  // per-family cache almost every read went to the file (23% of a GET's CPU). One cache per
  // process, shared by every ledger opened in it, filled only as far as views are read.
  {
    static const std::shared_ptr<rocksdb::Cache> views_cache = NewBlockCache(kViewsBlockCacheBytes);
    rocksdb::BlockBasedTableOptions t = LogTableOptions();
    t.block_cache = views_cache;
    // The views' index and filter partitions stay pinned, held by their table readers: a
    // GET then finds them without a block-cache lookup per level (about 9% of a GET's CPU:
    // 57 -> 52 us per request, 27.1k -> 29.5k req/s, median of five alternating pairs).
    // They grow with the number of shipments, not of events: 4.8 bytes per view measured
    // (0.7 MiB for the HTTP benchmark's 150,000 views).
    t.metadata_cache_options.partition_pinning = rocksdb::PinningTier::kAll;
    views.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  }
  // Outbox entries are deleted soon after they are written: compressing them is wasted.
  // (An insert-hint prefix extractor for its increasing keys trips an assertion in Debian's
  // RocksDB 7.8 once published entries are deleted, so the default skiplist stays.)
  rocksdb::ColumnFamilyOptions outbox = BaseCfOptions();
  outbox.compression = rocksdb::kNoCompression;
  return {
      {kCfEvents, events},
      {kCfRaw, raw},
      {kCfIdempotency, idem},
      {kCfShipments, shipments},
      {kCfDeadLetters, BaseCfOptions()},
      {kCfViews, views},
      // `meta` is RocksDB's default family.
      {kCfOutbox, outbox},
      {rocksdb::kDefaultColumnFamilyName, BaseCfOptions()},
  };
}

// The pid file: "<pid>\n<holder>\n", holder as in LedgerOptions::holder.
std::pair<std::string, std::string> ReadPidFile(const std::string& dir) {
  std::ifstream in(fs::path(dir) / kPidFile);
  std::string pid, holder;
  std::getline(in, pid);
  std::getline(in, holder);
  return {pid, holder};
}

}  // namespace

Result<std::unique_ptr<Ledger>> Ledger::Open(const std::string& data_dir,
                                             const LedgerOptions& options) {
  std::unique_ptr<RocksLedger> ledger(new RocksLedger(data_dir, options));
  WAYBILL_RETURN_IF_ERROR(ledger->OpenDb());
  WAYBILL_RETURN_IF_ERROR(ledger->LoadMeta());
  if (options.mode == OpenMode::kReadWrite) {
    WAYBILL_RETURN_IF_ERROR(ledger->CheckAtStartup());
    ledger->StartWriter();
  }
  return std::unique_ptr<Ledger>(std::move(ledger));
}

RocksLedger::RocksLedger(std::string data_dir, LedgerOptions options)
    : Ledger(std::move(data_dir)), options_(std::move(options)) {
  clock_ = options_.clock != nullptr ? options_.clock : &system_clock_;
}

namespace {

// One attempt at opening the DB, with its own recovery watchers.
struct OpenAttempt {
  rocksdb::Status status;
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  std::shared_ptr<RecoveryLog> log;
  std::unique_ptr<WalRecordEnds> ends;

  // The WAL damage this attempt's recovery logged, with the offset where replay stopped.
  std::optional<WalDamage> Damage() const {
    std::optional<WalDamage> d = log->damage();
    if (d) d->offset = ends->EndOf(d->file);
    return d;
  }
  void Close() {
    if (db == nullptr) return;
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    db->Close().PermitUncheckedError();
    delete db;
    db = nullptr;
  }
};

OpenAttempt TryOpen(rocksdb::DBOptions o, const std::string& dir,
                    const std::vector<rocksdb::ColumnFamilyDescriptor>& descriptors,
                    rocksdb::WALRecoveryMode mode, bool read_only,
                    std::shared_ptr<rocksdb::Logger> inner_log) {
  OpenAttempt a;
  a.log = std::make_shared<RecoveryLog>(std::move(inner_log));
  a.ends = std::make_unique<WalRecordEnds>();
  o.info_log = a.log;
  o.wal_filter = a.ends.get();
  o.wal_recovery_mode = mode;
  a.status = read_only ? rocksdb::DB::OpenForReadOnly(o, dir, descriptors, &a.handles, &a.db)
                       : rocksdb::DB::Open(o, dir, descriptors, &a.handles, &a.db);
  return a;
}

std::string WhatToDo(const std::string& dir) {
  return "run `waybill verify --data-dir " + dir +
         "` to see the intact part, then restore the data dir from a backup (`waybill "
         "restore`) or keep only the intact part (docs/operations.md, \"Damaged data dir\")";
}

// Writes the pid file and syncs it: after a power cut, its presence is what tells the next
// open that the last stop was not clean (see OpenForWriting).
void WritePidFile(const std::string& dir, const std::string& holder) {
  const std::string path = (fs::path(dir) / kPidFile).string();
  const std::string content = std::to_string(getpid()) + "\n" + holder + "\n";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;  // only a diagnostic aid: opening goes on without it
  if (::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size())) {
    ::fsync(fd);
  }
  ::close(fd);
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);  // the new entry
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

}  // namespace

void RocksLedger::Warn(const std::string& message) const {
  if (options_.on_warning) {
    options_.on_warning(message);
  } else {
    std::cerr << "waybill: warning: " << message << std::endl;
  }
}

Status RocksLedger::OpenDb() {
  const bool read_only = options_.mode == OpenMode::kReadOnly;
  std::error_code ec;
  if (!fs::exists(fs::path(data_dir()) / "CURRENT", ec)) {
    if (read_only || !options_.create_if_missing) {
      return Status::NotFound("no ledger in data dir " + data_dir() +
                              " (create one with `waybill import` or `waybill serve`)");
    }
    fs::create_directories(data_dir(), ec);
    if (ec) return Status::IoError("cannot create data dir " + data_dir() + ": " + ec.message());
  }

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = options_.create_if_missing && !read_only;
  db_options.create_missing_column_families = !read_only;
  // One writer thread inserts every batch (group commit), so concurrent memtable writes
  // would only add their synchronisation.
  db_options.allow_concurrent_memtable_write = false;
  db_options.max_background_jobs = 2;
  db_options.keep_log_file_num = 4;
  // `meta` is rewritten by every group but stays tiny, so it would pin every WAL file until
  // RocksDB forced a flush; this bound keeps the WAL (and crash recovery) short.
  db_options.max_total_wal_size = 256 << 20;
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  if (!read_only) ConfigureWriteErrors(&db_options);  // full disk: rocks_ledger_space.cc

  const auto descriptors = ColumnFamilies(options_.bulk_load && !read_only);
  if (!read_only) return OpenForWriting(db_options, descriptors);
  if (options_.inspect && !DataDirLocked(data_dir())) return OpenAtRest(db_options, descriptors);

  db_options.max_open_files = -1;  // required by secondary instances
  const char* tmpdir = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmpdir != nullptr ? tmpdir : "/tmp") + "/waybill-secondary-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  char* made = mkdtemp(buf.data());
  if (made == nullptr) {
    return Status::IoError("cannot create a temporary dir in " + pattern + ": " +
                           std::strerror(errno));
  }
  secondary_dir_ = made;
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s = rocksdb::DB::OpenAsSecondary(db_options, data_dir(), secondary_dir_,
                                                   descriptors, &handles, &db);
  if (s.IsCorruption()) {
    return Status::Corruption("cannot read ledger in " + data_dir() + ": " + s.ToString());
  }
  if (!s.ok()) return Status::IoError("cannot open ledger in " + data_dir() + ": " + s.ToString());
  db_.reset(db);
  cf_ = handles;  // descriptors are listed in Cf order
  return Status::Ok();
}

// The WAL is replayed in kAbsoluteConsistency mode first, which refuses any damage, torn tail
// included, and changes nothing on disk when it refuses. A torn tail is then accepted only
// after a crash: the pid file is removed by a clean close, so finding one (while we hold the
// lock) means its process died, and a record it was still writing had not been synced, so
// was never acknowledged. After a clean close, the WAL holds acknowledged writes RocksDB has
// not flushed, and a torn or damaged tail means they are lost: refuse.
Status RocksLedger::OpenForWriting(const rocksdb::DBOptions& db_options,
                                   const std::vector<rocksdb::ColumnFamilyDescriptor>& cfs) {
  std::error_code ec;
  const bool pid_file_before = fs::exists(fs::path(data_dir()) / kPidFile, ec);
  std::shared_ptr<rocksdb::Logger> file_log;  // RocksDB's own DATA_DIR/LOG
  // (Not while another process holds the data dir: creating it rotates that process's LOG.)
  if (!DataDirLocked(data_dir())) {
    rocksdb::CreateLoggerFromOptions(data_dir(), db_options, &file_log).PermitUncheckedError();
  }

  OpenAttempt a = TryOpen(db_options, data_dir(), cfs,
                          rocksdb::WALRecoveryMode::kAbsoluteConsistency, false, file_log);
  if (a.status.IsCorruption() && a.Damage()) {
    WalDamage damage = *a.Damage();
    // Only a live process holds the lock; the failed open released ours, so a pid file found
    // before it was a dead process's.
    const bool crashed = pid_file_before;
    if (crashed) {
      OpenAttempt b =
          TryOpen(db_options, data_dir(), cfs,
                  rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords, false, file_log);
      if (b.status.ok()) {
        damage.torn_tail = damage.after_crash = true;
        auto [pid, holder] = ReadPidFile(data_dir());
        Warn(DescribeWalDamage(damage) + ": the last record was being written when " +
             (holder.empty() ? "the previous process" : holder) +
             (pid.empty() ? "" : " (pid " + pid + ")") +
             " died, so it was never acknowledged; dropped it and opened the ledger");
        wal_damage_ = damage;
        a = std::move(b);
      }
    } else {
      // Classify without touching anything: a read-only replay that tolerates a torn tail.
      OpenAttempt probe =
          TryOpen(db_options, data_dir(), cfs,
                  rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords, true, nullptr);
      damage.torn_tail = probe.status.ok();
      probe.Close();
    }
    if (!a.status.ok()) {
      return Status::Corruption(
          "cannot open ledger in " + data_dir() + ": " + DescribeWalDamage(damage) + ". " +
          (damage.torn_tail ? "The last shutdown was clean (no waybill.pid was left), so the "
                              "missing bytes held acknowledged writes. "
                            : "") +
          "The ledger is not opened, so nothing acknowledged is dropped silently: " +
          WhatToDo(data_dir()));
    }
  }
  if (!a.status.ok()) {
    const std::string message = a.status.ToString();
    if (a.status.IsIOError() && message.find("lock") != std::string::npos) {
      auto [pid, holder] = ReadPidFile(data_dir());
      if (holder.empty()) holder = "another waybill process";
      return Status::Busy("data dir " + data_dir() + " is held by " + holder +
                          (pid.empty() ? "" : " (pid " + pid + ")") +
                          "; this command needs write access: stop that process first, or use "
                          "an online command (`waybill rebuild` and `waybill republish` reach a "
                          "running `waybill serve` by themselves)");
    }
    if (a.status.IsCorruption()) {
      const std::string file = TableFileIn(message);
      return Status::Corruption("cannot open ledger in " + data_dir() + ": " +
                                (file.empty() ? "" : file + " is damaged: ") + message + "; " +
                                WhatToDo(data_dir()));
    }
    return Status::IoError("cannot open ledger in " + data_dir() + ": " + message);
  }
  db_.reset(a.db);
  cf_ = a.handles;  // descriptors are listed in Cf order
  wal_filter_ = std::move(a.ends);
  wrote_pid_file_ = true;
  WritePidFile(data_dir(), options_.holder);
  return Status::Ok();
}

// A read-only replay, as a writer's recovery would do it, that reports damage instead of
// failing: kAbsoluteConsistency first; on damage, a torn tail is what
// kTolerateCorruptedTailRecords accepts; anything else is served as the point-in-time prefix
// before the damage (kPointInTimeRecovery). Nothing on disk changes.
Status RocksLedger::OpenAtRest(const rocksdb::DBOptions& db_options,
                               const std::vector<rocksdb::ColumnFamilyDescriptor>& cfs) {
  std::error_code ec;
  const bool pid_file = fs::exists(fs::path(data_dir()) / kPidFile, ec);
  OpenAttempt a = TryOpen(db_options, data_dir(), cfs,
                          rocksdb::WALRecoveryMode::kAbsoluteConsistency, true, nullptr);
  if (a.status.IsCorruption() && a.Damage()) {
    WalDamage damage = *a.Damage();
    OpenAttempt b = TryOpen(db_options, data_dir(), cfs,
                            rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords, true, nullptr);
    if (b.status.ok()) {
      damage.torn_tail = true;
      damage.after_crash = pid_file;  // nobody holds the lock: its writer is dead
    } else {
      b = TryOpen(db_options, data_dir(), cfs, rocksdb::WALRecoveryMode::kPointInTimeRecovery, true,
                  nullptr);
    }
    if (b.status.ok()) {
      if (damage.after_crash) {
        Warn(DescribeWalDamage(damage) +
             ": a write interrupted by a crash, never acknowledged; the next `waybill serve` "
             "drops it");
      }
      wal_damage_ = damage;
      a = std::move(b);
    } else {
      return Status::Corruption("cannot read ledger in " + data_dir() + ": " +
                                DescribeWalDamage(damage) + "; then: " + b.status.ToString());
    }
  }
  if (a.status.IsCorruption()) {
    return Status::Corruption("cannot read ledger in " + data_dir() + ": " + a.status.ToString());
  }
  if (!a.status.ok()) {
    return Status::IoError("cannot open ledger in " + data_dir() + ": " + a.status.ToString());
  }
  db_.reset(a.db);
  cf_ = a.handles;
  wal_filter_ = std::move(a.ends);
  return Status::Ok();
}

Status RocksLedger::CheckAtStartup() {
  if (options_.startup_check == StartupCheck::kOff) return Status::Ok();
  const LedgerHead head = Head();
  const std::uint64_t from = head.seq > kStartupChainTail ? head.seq - kStartupChainTail + 1 : 1;
  auto report = VerifyChain(from, head.seq);
  if (!report.ok()) return report.status();
  if (!report->intact) {
    return Status::Corruption(
        "ledger in " + data_dir() + " does not verify at sequence " +
        std::to_string(report->first_broken_seq) + ": " + report->reason +
        "; the server does not start on a broken chain: " + WhatToDo(data_dir()));
  }
  if (options_.startup_check == StartupCheck::kFull) {
    if (std::optional<std::string> damage = DamagedTableFile()) {
      return Status::Corruption(
          "ledger in " + data_dir() + ": " + *damage +
          "; the server does not start on damaged storage: " + WhatToDo(data_dir()));
    }
  }
  return Status::Ok();
}

Status RocksLedger::ReadHeadFromDb(LedgerHead* head, std::uint64_t* next_dead_letter_id) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_[kMeta], std::string(kMetaHead), &value);
  if (s.ok()) {
    if (value.size() != 8 + 32 + 8) {
      return Status::Corruption("ledger head record in meta is " + std::to_string(value.size()) +
                                " bytes, expected 48");
    }
    head->seq = GetU64BE(value.data());
    std::copy(value.begin() + 8, value.begin() + 40, head->hash.begin());
    head->recorded_at = GetI64BE(value.data() + 40);
  } else if (!s.IsNotFound()) {
    return Status::IoError("reading ledger head: " + s.ToString());
  }
  s = db_->Get(rocksdb::ReadOptions(), cf_[kMeta], std::string(kMetaNextDeadLetterId), &value);
  if (s.ok() && value.size() == 8) {
    *next_dead_letter_id = GetU64BE(value.data());
  } else if (!s.ok() && !s.IsNotFound()) {
    return Status::IoError("reading dead-letter counter: " + s.ToString());
  }
  return Status::Ok();
}

Status RocksLedger::LoadMeta() {
  std::string version;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), cf_[kMeta], std::string(kMetaFormatVersion), &version);
  if (s.IsNotFound()) {
    if (options_.mode == OpenMode::kReadOnly) {
      return Status::NotFound("data dir " + data_dir() + " holds no Waybill ledger");
    }
    s = db_->Put(rocksdb::WriteOptions(), cf_[kMeta], std::string(kMetaFormatVersion),
                 std::to_string(kFormatVersion));
    if (!s.ok()) return Status::IoError("writing format version: " + s.ToString());
  } else if (!s.ok()) {
    return Status::IoError("reading format version: " + s.ToString());
  } else {
    std::uint32_t stored = static_cast<std::uint32_t>(std::strtoul(version.c_str(), nullptr, 10));
    if (stored > kFormatVersion) {
      return Status::Unsupported("data dir " + data_dir() + " has ledger format " + version +
                                 ", newer than this binary's " + std::to_string(kFormatVersion) +
                                 "; upgrade waybill");
    }
    if (stored < kFormatVersion && options_.mode != OpenMode::kReadOnly) {
      // Every older record stays readable as it is; the stamp keeps an older binary from
      // opening a dir that may now hold records it cannot read.
      s = db_->Put(rocksdb::WriteOptions(), cf_[kMeta], std::string(kMetaFormatVersion),
                   std::to_string(kFormatVersion));
      if (!s.ok()) return Status::IoError("writing format version: " + s.ToString());
    }
  }

  LedgerHead head;
  std::uint64_t next_dl = 1;
  WAYBILL_RETURN_IF_ERROR(ReadHeadFromDb(&head, &next_dl));
  // The head is written in the same batch as the events, so the last event key must be it.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_[kEvents]));
  it->SeekToLast();
  std::uint64_t last = it->Valid() ? GetU64BE(it->key().data()) : 0;
  if (!it->status().ok()) return Status::IoError("reading last event: " + it->status().ToString());
  if (last != head.seq) {
    return Status::Corruption("ledger head says sequence " + std::to_string(head.seq) +
                              " but the last stored event is " + std::to_string(last) +
                              "; run `waybill verify` to locate the damage");
  }
  next_dead_letter_id_ = next_dl;
  durable_next_dead_letter_id_ = next_dl;  // no committer runs yet: no lock needed
  last_recorded_at_ = head.recorded_at;
  tentative_head_ = head;
  std::lock_guard<std::mutex> lock(head_mu_);
  head_ = head;
  return Status::Ok();
}

Status RocksLedger::CatchUp() {
  if (secondary_dir_.empty()) return Status::Ok();  // the writer, or an at-rest snapshot
  rocksdb::Status s = db_->TryCatchUpWithPrimary();
  if (!s.ok()) return Status::IoError("catching up with the writer: " + s.ToString());
  LedgerHead head;
  std::uint64_t next_dl = 1;
  WAYBILL_RETURN_IF_ERROR(ReadHeadFromDb(&head, &next_dl));
  {
    std::lock_guard<std::mutex> lock(head_mu_);
    head_ = head;
  }
  head_cv_.notify_all();
  return Status::Ok();
}

RocksLedger::~RocksLedger() {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  space_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (db_) {
    for (auto* h : cf_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    db_->Close().PermitUncheckedError();
    db_.reset();
  }
  if (wrote_pid_file_) {  // never another process's: an open that failed wrote none
    std::error_code ec;
    fs::remove(fs::path(data_dir()) / kPidFile, ec);
  }
  if (!secondary_dir_.empty()) {
    std::error_code ec;
    fs::remove_all(secondary_dir_, ec);
  }
}

LedgerHead RocksLedger::Head() const {
  std::lock_guard<std::mutex> lock(head_mu_);
  return head_;
}

}  // namespace waybill::ledger
