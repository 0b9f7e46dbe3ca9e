// Storage the ledger lends to projections: the `views` and `outbox` column families.
//
// projections/ owns the key layout and record formats inside these families (documented in
// projections/store_layout.h); the ledger only provides atomic batches and reads, so views,
// a worker's checkpoint and its outbox entries are committed together in one WriteBatch and
// stay consistent with each other after a crash.
// Thread-safety: AuxBatch is a plain value, built by one thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace waybill::ledger {

enum class AuxSpace : std::uint8_t { kViews, kOutbox };

// One atomic group of writes to the auxiliary families.
class AuxBatch {
 public:
  struct Write {
    enum class Op : std::uint8_t { kPut, kDelete, kDeleteRange } op;
    AuxSpace space;
    std::string key;
    std::string value;  // kPut: the value; kDeleteRange: the exclusive end key
  };
  void Put(AuxSpace space, std::string key, std::string value) {
    writes_.push_back({Write::Op::kPut, space, std::move(key), std::move(value)});
  }
  void Delete(AuxSpace space, std::string key) {
    writes_.push_back({Write::Op::kDelete, space, std::move(key), {}});
  }
  // Deletes every key in [begin, end).
  void DeleteRange(AuxSpace space, std::string begin, std::string end) {
    writes_.push_back({Write::Op::kDeleteRange, space, std::move(begin), std::move(end)});
  }
  bool empty() const { return writes_.empty(); }
  std::size_t size() const { return writes_.size(); }
  const std::vector<Write>& writes() const { return writes_; }

 private:
  std::vector<Write> writes_;
};

}  // namespace waybill::ledger
