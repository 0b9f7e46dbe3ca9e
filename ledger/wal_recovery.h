// Watching RocksDB's write-ahead-log recovery, so the ledger can tell a torn tail from damage,
// name the file and the byte where replay stopped, and decide whether to open (docs/ledger.md,
// "Damaged storage"). Private to ledger/.
//
// RocksDB's WAL format (db/log_format.h in RocksDB, stable since LevelDB): the file is a run of
// 32 KiB blocks; each logical record (one WriteBatch) is cut into fragments, each with a
// 7-byte header (crc32c, length, type); a block tail shorter than a header is zero padding.
// WalRecordEnds recomputes where each replayed record ends from the batch sizes RocksDB hands
// to its WalFilter, which gives the exact offset of the first record that did not replay.
#pragma once

#include <rocksdb/env.h>
#include <rocksdb/wal_filter.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "ledger/ledger.h"

namespace waybill::ledger {

// A rocksdb::Logger that forwards everything to `inner` (may be null) and remembers the first
// "FILE.log: dropping N bytes; REASON" warning RocksDB's recovery writes. Thread-safe
// (RocksDB logs from its background threads too).
class RecoveryLog final : public rocksdb::Logger {
 public:
  explicit RecoveryLog(std::shared_ptr<rocksdb::Logger> inner);
  using rocksdb::Logger::Logv;
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override;
  void Logv(const char* format, va_list ap) override;
  // The first dropped WAL range logged, with file, dropped_bytes and reason set (offset 0).
  std::optional<WalDamage> damage() const;

 private:
  std::shared_ptr<rocksdb::Logger> inner_;
  mutable std::mutex mu_;
  std::optional<WalDamage> damage_;  // guarded by mu_
};

// A WalFilter that changes nothing and records, per WAL file, the byte offset just past the
// last record replayed. Used by RocksDB's recovery on the opening thread only.
class WalRecordEnds final : public rocksdb::WalFilter {
 public:
  WalProcessingOption LogRecordFound(unsigned long long log_number,
                                     const std::string& log_file_name,
                                     const rocksdb::WriteBatch& batch,
                                     rocksdb::WriteBatch* new_batch, bool* batch_changed) override;
  const char* Name() const override { return "waybill.WalRecordEnds"; }
  // Offset just past the last replayed record of `file` (a path as RocksDB names it; matched
  // by file name); 0 when none of its records replayed.
  std::uint64_t EndOf(const std::string& file) const;

 private:
  std::map<std::string, std::uint64_t> ends_;  // file name (no dir) -> end offset
};

// Whether a process holds RocksDB's lock on `data_dir` (an fcntl lock on DATA_DIR/LOCK),
// without taking it. False when there is no LOCK file.
bool DataDirLocked(const std::string& data_dir);

// The user-facing account of `damage`: the file, the byte, the reason and how many bytes
// cannot be replayed.
std::string DescribeWalDamage(const WalDamage& damage);

// "000123.sst" (with its path) when RocksDB's status message names a table file, else "".
std::string TableFileIn(const std::string& rocksdb_message);

}  // namespace waybill::ledger
