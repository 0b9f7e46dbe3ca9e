// Projection storage: atomic batches and reads over the views and outbox families.
#include <rocksdb/write_batch.h>

#include "ledger/rocks_ledger.h"

namespace waybill::ledger {
namespace {

rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

const char* SpaceName(AuxSpace space) { return space == AuxSpace::kViews ? "views" : "outbox"; }

}  // namespace

bool RocksLedger::WaitForHeadAfter(std::uint64_t seq, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(head_mu_);
  return head_cv_.wait_for(lock, timeout, [&] { return head_.seq > seq; });
}

Status RocksLedger::WriteAux(const AuxBatch& batch) {
  if (options_.mode == OpenMode::kReadOnly) {
    return Status::Unsupported("the ledger in " + data_dir() +
                               " is open read-only; projections cannot be written");
  }
  if (batch.empty()) return Status::Ok();
  DisableRocksPerfCounters();
  rocksdb::WriteBatch wb;
  for (const auto& w : batch.writes()) {
    rocksdb::ColumnFamilyHandle* cf = AuxCf(w.space);
    rocksdb::Status s;
    switch (w.op) {
      case AuxBatch::Write::Op::kPut:
        s = wb.Put(cf, w.key, w.value);
        break;
      case AuxBatch::Write::Op::kDelete:
        s = wb.Delete(cf, w.key);
        break;
      case AuxBatch::Write::Op::kDeleteRange:
        s = wb.DeleteRange(cf, w.key, w.value);
        break;
    }
    if (!s.ok()) return Status::Internal("building a projection batch: " + s.ToString());
  }
  // The same free-space guard as appends (rocks_ledger_space.cc): the caller retries.
  if (Status st = CheckWritable(wb.GetDataSize()); !st.ok()) {
    NoteWrite(st);
    return st;
  }
  rocksdb::WriteOptions wo;
  wo.sync = false;
  rocksdb::Status s = db_->Write(wo, &wb);
  if (!s.ok()) {
    Status st = Status::IoError("writing projections to " + data_dir() + ": " + s.ToString());
    NoteWrite(st);
    return st;
  }
  NoteWrite(Status::Ok());
  return Status::Ok();
}

Result<std::string> RocksLedger::GetAux(AuxSpace space, std::string_view key) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), AuxCf(space), ToSlice(key), &value);
  if (s.IsNotFound()) return Status::NotFound(std::string(SpaceName(space)) + " key not found");
  if (!s.ok())
    return Status::IoError(std::string("reading ") + SpaceName(space) + ": " + s.ToString());
  return value;
}

Result<std::vector<std::optional<std::string>>> RocksLedger::MultiGetAux(
    AuxSpace space, const std::vector<std::string>& keys) const {
  std::vector<std::optional<std::string>> out(keys.size());
  if (keys.empty()) return out;
  DisableRocksPerfCounters();
  std::vector<rocksdb::Slice> slices;
  slices.reserve(keys.size());
  for (const auto& k : keys) slices.emplace_back(k);
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  db_->MultiGet(rocksdb::ReadOptions(), AuxCf(space), keys.size(), slices.data(), values.data(),
                statuses.data());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].ok()) {
      out[i].emplace(values[i].data(), values[i].size());
    } else if (!statuses[i].IsNotFound()) {
      return Status::IoError(std::string("reading ") + SpaceName(space) + ": " +
                             statuses[i].ToString());
    }
  }
  return out;
}

Status RocksLedger::ScanAux(
    AuxSpace space, std::string_view begin, std::string_view end,
    const std::function<bool(std::string_view, std::string_view)>& fn) const {
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper;
  if (!end.empty()) {
    upper = ToSlice(end);
    ro.iterate_upper_bound = &upper;
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, AuxCf(space)));
  for (it->Seek(ToSlice(begin)); it->Valid(); it->Next()) {
    const rocksdb::Slice k = it->key(), v = it->value();
    if (!fn(std::string_view(k.data(), k.size()), std::string_view(v.data(), v.size()))) break;
  }
  if (!it->status().ok()) {
    return Status::IoError(std::string("scanning ") + SpaceName(space) + ": " +
                           it->status().ToString());
  }
  return Status::Ok();
}

}  // namespace waybill::ledger
