// Keeps several AppendBatches in flight to the ledger's writer while the caller parses the
// next ones, and tallies the outcome. This is what lets parsing (caller's thread) and group
// commit (writer thread) overlap, which is most of import throughput on two cores.
//
// Thread-safety: Submit and Finish are called from one producer thread; completions arrive
// on the ledger's writer thread and are folded in under a mutex.
#pragma once

#include <condition_variable>
#include <functional>
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
  // Up to `max_events_in_flight` events (and dead letters) may be queued at the writer at
  // once, however they are split into batches: many small documents then still fill large
  // group commits. The ledger must outlive the pipeline.
  explicit AppendPipeline(ledger::Ledger& ledger, std::size_t max_events_in_flight = 8192);
  ~AppendPipeline();  // waits for everything submitted (and for a FinishAsync callback)

  // Also report every event's outcome (ImportSummary::events, in submission order). Call
  // before the first Submit.
  void RecordEvents() { record_events_ = true; }

  // Queues a batch; blocks while the events in flight would exceed the limit (a batch larger
  // than the limit waits for an empty pipeline, then goes alone).
  void Submit(ledger::AppendBatch batch, BatchOrigins origins);

  // Waits for every submitted batch. Returns the summary, or the first append error (the
  // batches that failed were not stored; the ones that succeeded were).
  [[nodiscard]] Result<ImportSummary> Finish();

  // Like Finish without blocking: `done` runs once every submitted batch is settled, on the
  // ledger's writer thread (or on this thread when nothing is in flight), so it must be quick
  // and hand real work elsewhere. Call once, after the last Submit; the pipeline must outlive
  // the call of `done` (the destructor waits for it).
  void FinishAsync(std::function<void(Result<ImportSummary>)> done);

 private:
  // The summary so far with the per-batch event outcomes merged in order.
  Result<ImportSummary> TakeResult();

  ledger::Ledger& ledger_;
  const std::size_t max_events_in_flight_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t in_flight_ = 0;         // batches, guarded by mu_
  std::size_t events_in_flight_ = 0;  // guarded by mu_
  ImportSummary summary_;             // guarded by mu_
  bool record_events_ = false;
  std::uint64_t batches_submitted_ = 0;  // producer thread only
  // Per-batch event outcomes by submission index, merged in order at the end (mu_).
  std::vector<std::vector<EventResult>> batch_events_;
  std::function<void(Result<ImportSummary>)> on_finished_;  // guarded by mu_
  bool finishing_ = false;                                  // guarded by mu_
  Status first_error_;                                      // guarded by mu_
};

}  // namespace waybill::ingest
