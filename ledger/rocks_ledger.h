// RocksDB implementation of Ledger. Private to ledger/; use Ledger::Open.
//
// Split by concern: rocks_ledger_open.cc (options, open, recovery checks),
// rocks_ledger_write.cc (the writer thread and group commit), rocks_ledger_read.cc (readers,
// verify, stats).
#pragma once

#include <rocksdb/db.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "ledger/ledger.h"

namespace waybill::ledger {

class RocksLedger final : public Ledger {
 public:
  ~RocksLedger() override;

  Result<AppendResult> Append(AppendBatch batch) override;
  void AppendAsync(AppendBatch batch, std::function<void(Result<AppendResult>)> done) override;
  LedgerHead Head() const override;
  Status CatchUp() override;
  Status ReadRange(std::uint64_t from, std::uint64_t to,
                   const std::function<bool(const Event&)>& fn) const override;
  Result<Event> Get(std::uint64_t seq) const override;
  Result<std::vector<Event>> ReadShipment(std::string_view shipment_id) const override;
  Result<std::uint64_t> FirstSeqRecordedAfter(UnixNanos t) const override;
  Result<RawMessage> GetRaw(const Sha256& hash) const override;
  Result<VerifyReport> Verify(std::uint64_t from, std::uint64_t to) const override;
  Result<LedgerStats> Stats() const override;
  Result<std::vector<DeadLetter>> ListDeadLetters(std::uint64_t after_id,
                                                  std::size_t limit) const override;
  Result<DeadLetter> GetDeadLetter(std::uint64_t id) const override;
  bool WaitForHeadAfter(std::uint64_t seq, std::chrono::milliseconds timeout) const override;
  Status WriteAux(const AuxBatch& batch) override;
  Result<std::string> GetAux(AuxSpace space, std::string_view key) const override;
  Result<std::vector<std::optional<std::string>>> MultiGetAux(
      AuxSpace space, const std::vector<std::string>& keys) const override;
  Status ScanAux(AuxSpace space, std::string_view begin, std::string_view end,
                 const std::function<bool(std::string_view, std::string_view)>& fn) const override;
  WriterFigures writer_figures() const override;

 private:
  friend class Ledger;
  struct Request {
    AppendBatch batch;
    std::function<void(Result<AppendResult>)> done;
  };
  enum Cf { kEvents, kRaw, kIdempotency, kShipments, kDeadLetters, kViews, kOutbox, kMeta, kNumCf };

  RocksLedger(std::string data_dir, LedgerOptions options);
  Status OpenDb();
  Status LoadMeta();
  void StartWriter();
  void WriterLoop();
  void CommitGroup(std::vector<Request>& group);
  rocksdb::ColumnFamilyHandle* AuxCf(AuxSpace space) const {
    return cf_[space == AuxSpace::kViews ? kViews : kOutbox];
  }
  Status ReadHeadFromDb(LedgerHead* head, std::uint64_t* next_dead_letter_id) const;

  // Constant after Open.
  const LedgerOptions options_;
  SystemClock system_clock_;
  Clock* clock_ = nullptr;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> cf_;
  bool wrote_pid_file_ = false;  // this instance holds the data dir and wrote its pid file
  std::string secondary_dir_;    // kReadOnly: RocksDB secondary's private dir, removed on close

  // Queue between appenders and the writer thread.
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;  // writer waits for work
  std::condition_variable space_cv_;  // appenders wait for room
  std::deque<Request> queue_;         // guarded by queue_mu_
  std::size_t queued_events_ = 0;     // guarded by queue_mu_
  bool stopping_ = false;             // guarded by queue_mu_
  std::thread writer_;

  // Owned by the writer thread (and Open before it starts).
  std::uint64_t next_dead_letter_id_ = 1;
  UnixNanos last_recorded_at_ = 0;
  // Hashes of raw messages committed recently. A document whose events span several
  // batches brings its raw message in each; this keeps the writer from re-putting it.
  std::unordered_set<std::string> recent_raws_;
  std::deque<std::string> recent_raws_order_;

  // WriterFigures as atomics: written by the writer thread only (so a relaxed load and store
  // suffice, no read-modify-write), read by anyone through writer_figures().
  struct AtomicFigures {
    std::atomic<std::uint64_t> events{0}, duplicates{0}, dead_letters{0}, commits{0};
    std::array<std::atomic<std::uint64_t>, kCommitSecondsBounds.size() + 1> commit_seconds{};
    std::atomic<double> commit_seconds_sum{0};
    std::array<std::atomic<std::uint64_t>, kCommitEventsBounds.size() + 1> commit_events{};
    std::atomic<std::uint64_t> commit_events_sum{0};
  };
  void RecordGroup(std::uint64_t stored, std::uint64_t duplicates, std::uint64_t dead_letters,
                   std::optional<double> commit_seconds);
  AtomicFigures figures_;

  // Published head: written by the writer after each durable group, read by anyone.
  mutable std::mutex head_mu_;
  mutable std::condition_variable head_cv_;  // notified when head_ moves
  LedgerHead head_;                          // guarded by head_mu_
};

}  // namespace waybill::ledger
