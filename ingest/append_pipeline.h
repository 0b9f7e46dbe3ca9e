// Keeps several AppendBatches in flight to the ledger's writer while the caller parses the
// next ones, and tallies the outcome. This is what lets parsing (caller's thread) and group
// commit (writer thread) overlap, which is most of import throughput on two cores.
//
// Thread-safety: Submit and Finish are called from one producer thread; completions arrive
// on the ledger's writer thread and are folded in under a mutex.
#pragma once

#include <condition_variable>
#include <mutex>

#include "ingest/import_summary.h"
#include "ledger/ledger.h"

namespace waybill::ingest {

// Where each event and dead letter of a batch came from, for reporting rejects.
struct BatchOrigins {
  std::vector<Reject> dead_letters;  // one per AppendBatch::dead_letters; id filled on commit
};

class AppendPipeline {
 public:
  // `max_in_flight` batches may be queued at the writer at once. The ledger must outlive it.
  explicit AppendPipeline(ledger::Ledger& ledger, std::size_t max_in_flight = 4);
  ~AppendPipeline();  // waits for everything submitted

  // Queues a batch; blocks while max_in_flight batches are unfinished.
  void Submit(ledger::AppendBatch batch, BatchOrigins origins);

  // Waits for every submitted batch. Returns the summary, or the first append error (the
  // batches that failed were not stored; the ones that succeeded were).
  [[nodiscard]] Result<ImportSummary> Finish();

 private:
  ledger::Ledger& ledger_;
  const std::size_t max_in_flight_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t in_flight_ = 0;  // guarded by mu_
  ImportSummary summary_;      // guarded by mu_
  Status first_error_;         // guarded by mu_
};

}  // namespace waybill::ingest
