// A range scan whose RocksDB iteration runs on its own thread while the caller's thread
// consumes the records: on two cores, iterating blocks and decoding events overlap, which
// is what lets a full replay decode about twice as fast as one thread could.
//
// Thread-safety: one call runs one helper thread, joined before it returns. `consume` runs on
// the caller's thread only.
#pragma once

#include <rocksdb/iterator.h>

#include <functional>
#include <memory>
#include <string_view>

#include "schemas/result.h"

namespace waybill::ledger {

// Seeks `it` to `start` and hands every (key, value) to `consume`, in order, until the
// iterator ends or `consume` returns false. The views are valid only during the call.
// Returns the iterator's error, if any. An exception thrown by `consume` stops the scan and
// propagates to the caller.
[[nodiscard]] Status PipelinedScan(
    std::unique_ptr<rocksdb::Iterator> it, std::string_view start,
    const std::function<bool(std::string_view key, std::string_view value)>& consume);

}  // namespace waybill::ledger
