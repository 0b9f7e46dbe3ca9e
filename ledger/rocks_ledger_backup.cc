// Checkpoints: the consistent on-disk copy `waybill backup` downloads (docs/operations.md).
#include <rocksdb/db.h>
#include <rocksdb/utilities/checkpoint.h>

#include <filesystem>
#include <vector>

#include "ledger/rocks_ledger.h"

namespace waybill::ledger {
namespace fs = std::filesystem;
namespace {

// RocksDB copies the live WAL into a checkpoint while the writer keeps appending, so the
// copy can end inside a record. That tail holds writes made after the checkpoint's point and
// is not part of it, but a read-write open refuses a torn tail after a clean stop (see
// docs/ledger.md, "Damaged storage"). Sealing replays the copy's WAL up to its last whole
// record, writes that into table files and leaves a WAL with no data: the backup then opens
// like any cleanly stopped data dir. (After recovering any WAL, RocksDB writes one empty
// batch carrying the recovered sequence into the new WAL, 19 bytes: no data, no torn tail.)
Status SealCheckpoint(const std::string& dir) {
  std::vector<std::string> names;
  rocksdb::DBOptions db_options;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(db_options, dir, &names);
  if (!s.ok()) return Status::IoError("listing column families of " + dir + ": " + s.ToString());
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const auto& name : names) families.emplace_back(name, rocksdb::ColumnFamilyOptions());
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  db_options.info_log_level = rocksdb::InfoLogLevel::ERROR_LEVEL;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::Open(db_options, dir, families, &handles, &raw);
  if (!s.ok()) return Status::IoError("sealing checkpoint in " + dir + ": " + s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::FlushOptions flush;
  s = db->Flush(flush, handles);
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  rocksdb::Status closed = db->Close();
  if (!s.ok()) return Status::IoError("sealing checkpoint in " + dir + ": " + s.ToString());
  if (!closed.ok()) {
    return Status::IoError("sealing checkpoint in " + dir + ": " + closed.ToString());
  }
  // RocksDB's own log of the sealing open is not part of the ledger.
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name == "LOG" || name.rfind("LOG.old", 0) == 0) fs::remove(it->path(), ec);
  }
  return Status::Ok();
}

}  // namespace

Result<LedgerHead> RocksLedger::CreateCheckpoint(const std::string& dir) const {
  if (options_.mode != OpenMode::kReadWrite) {
    return Status::Unsupported("a checkpoint needs the ledger open for writing (its holder)");
  }
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(db_.get(), &raw);
  if (!s.ok()) return Status::IoError("preparing a checkpoint: " + s.ToString());
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // log_size_for_flush 0: every family is flushed first, so the copy holds few WAL bytes;
  // RocksDB takes the file list with writes paused, so the families agree with each other
  // (and the head record rides in the same WriteBatch as its events).
  s = checkpoint->CreateCheckpoint(dir, /*log_size_for_flush=*/0);
  if (!s.ok()) return Status::IoError("creating checkpoint in " + dir + ": " + s.ToString());
  if (Status sealed = SealCheckpoint(dir); !sealed.ok()) {
    std::error_code ec;
    fs::remove_all(dir, ec);
    return sealed;
  }
  // The head is read from the copy itself: the live head may already be past it.
  LedgerOptions ro;
  ro.mode = OpenMode::kReadOnly;
  auto copy = Ledger::Open(dir, ro);
  if (!copy.ok()) {
    std::error_code ec;
    fs::remove_all(dir, ec);
    return Status(copy.status().code(),
                  "checkpoint in " + dir + " does not open: " + copy.status().message());
  }
  return (*copy)->Head();
}

}  // namespace waybill::ledger
