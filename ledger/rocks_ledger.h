// RocksDB implementation of Ledger. Private to ledger/; use Ledger::Open.
//
// Split by concern: rocks_ledger_open.cc (options, open, recovery checks),
// rocks_ledger_write.cc (the queue and the sequencer: idempotency, sequences, hashes),
// rocks_ledger_commit.cc (the committer: synced writes and completions), rocks_ledger_read.cc
// (readers, verify, stats), rocks_ledger_backup.cc (checkpoints for backups), rocks_ledger_space.cc
// (full disk: free-space guard, write state, recovery).
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/wal_filter.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "ledger/ledger.h"

namespace waybill::ledger {

// RocksDB counts every key comparison and block read in a thread-local perf context unless
// the thread says otherwise, and nothing in Waybill reads those counts. The bookkeeping
// showed as 4% of the import's CPU on the writer thread and about as much on the projection
// worker's, so the busy entry points (the writer, WriteAux, MultiGetAux, ReadRange and its
// scan thread) turn it off on whatever thread calls them: one thread-local store.
inline void DisableRocksPerfCounters() { rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable); }

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
  Result<std::vector<Event>> ReadShipment(std::string_view shipment_id, std::uint64_t after_seq = 0,
                                          std::uint64_t through_seq = UINT64_MAX) const override;
  Result<std::uint64_t> FirstSeqRecordedAfter(UnixNanos t) const override;
  Result<RawMessage> GetRaw(const Sha256& hash) const override;
  Result<VerifyReport> Verify(std::uint64_t from, std::uint64_t to) const override;
  Result<LedgerStats> Stats() const override;
  Result<std::vector<DeadLetterSummary>> ListDeadLetters(std::uint64_t after_id,
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
  MemoryFigures memory_figures() const override;
  Result<LedgerHead> CreateCheckpoint(const std::string& dir) const override;
  Status WriteState() const override;
  std::optional<WalDamage> wal_damage() const override { return wal_damage_; }

 private:
  friend class Ledger;
  struct Request {
    AppendBatch batch;
    std::function<void(Result<AppendResult>)> done;
  };
  enum Cf { kEvents, kRaw, kIdempotency, kShipments, kDeadLetters, kViews, kOutbox, kMeta, kNumCf };

  RocksLedger(std::string data_dir, LedgerOptions options);
  Status OpenDb();
  Status OpenForWriting(const rocksdb::DBOptions& db_options,
                        const std::vector<rocksdb::ColumnFamilyDescriptor>& cfs);
  Status OpenAtRest(const rocksdb::DBOptions& db_options,
                    const std::vector<rocksdb::ColumnFamilyDescriptor>& cfs);
  Status LoadMeta();
  Status CheckAtStartup();  // options_.startup_check, after LoadMeta
  // The chain walk of Verify over [from, to], without the whole-data-dir checks.
  Result<VerifyReport> VerifyChain(std::uint64_t from, std::uint64_t to) const;
  // Checks every block checksum of every table file: nullopt when all match, else which file
  // (and its column family) is damaged and how.
  std::optional<std::string> DamagedTableFile() const;
  void Warn(const std::string& message) const;
  // A group whose idempotency, sequences, hashes and WriteBatch the sequencer has settled,
  // waiting for the committer's synced write. Its `head` and `next_dead_letter_id` are what
  // the ledger's become once the write succeeds.
  struct PreparedGroup {
    std::uint64_t token = 0;  // increases by one per group handed to the committer
    std::vector<Request> requests;
    std::vector<AppendResult> results;  // one per request
    rocksdb::WriteBatch batch;
    bool write_needed = false;  // false: every event was a duplicate; nothing to write
    LedgerHead head;
    std::uint64_t next_dead_letter_id = 0;
    std::uint64_t stored = 0, duplicates = 0, dead_letters = 0;
  };
  void StartWriter();
  // The sequencer thread: takes queued requests, prepares each group and hands it to the
  // committer thread, which it starts and stops.
  void WriterLoop();
  // Sequencer: builds a group's batch on the tentative state (every handed-off group
  // assumed to commit). nullopt when the group failed here; its callers are completed.
  std::optional<PreparedGroup> PrepareGroup(std::vector<Request>& group);
  // Sequencer: forgets the in-flight idempotency keys of groups the committer has settled;
  // after a failed write, waits for the committer to drain and resets the tentative state
  // to the durable one.
  void SettleInFlight();
  // Sequencer: blocks until the committer has taken the previous group.
  void WaitForHandOffSlot();
  void HandOff(PreparedGroup group);
  // The committer thread (rocks_ledger_commit.cc).
  void CommitterLoop();
  void CommitPrepared(PreparedGroup& group, const std::optional<Status>& poisoned);
  rocksdb::ColumnFamilyHandle* AuxCf(AuxSpace space) const {
    return cf_[space == AuxSpace::kViews ? kViews : kOutbox];
  }
  Status ReadHeadFromDb(LedgerHead* head, std::uint64_t* next_dead_letter_id) const;

  // --- Full disk (rocks_ledger_space.cc). ---
  class StorageListener;
  // RocksDB options for write errors: an info log that survives ENOSPC and a listener that
  // turns a write-ahead-log failure into a permanent (until restart) error. Called by OpenDb.
  void ConfigureWriteErrors(rocksdb::DBOptions* db_options);
  // Ok when `bytes` more can be written while keeping min_free_bytes_ free (and the WAL has
  // not failed); otherwise the IoError a writer returns without touching RocksDB.
  Status CheckWritable(std::uint64_t bytes) const;
  // Records the outcome of a write: the state, the error counter, the state-change callback.
  void NoteWrite(const Status& st);
  // Writer thread, while not writable: checks free space and calls DB::Resume() for a
  // background error; at most once per retry_delay_ (which doubles up to 2 s on failure).
  void ProbeRecovery(bool force);

  std::uint64_t min_free_bytes_ = 0;  // constant after Open
  std::shared_ptr<StorageListener> listener_;
  std::atomic<bool> wal_failed_{false};  // set by the listener; never cleared
  std::atomic<bool> writable_{true};
  std::atomic<std::uint64_t> write_errors_{0};
  mutable std::mutex write_state_mu_;
  Status write_error_;  // guarded by write_state_mu_; Ok while writable
  // Sequencer thread only.
  std::chrono::milliseconds retry_delay_{100};
  std::chrono::steady_clock::time_point next_probe_{};

  // Constant after Open.
  const LedgerOptions options_;
  SystemClock system_clock_;
  Clock* clock_ = nullptr;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> cf_;
  bool wrote_pid_file_ = false;  // this instance holds the data dir and wrote its pid file
  std::string secondary_dir_;    // kReadOnly: RocksDB secondary's private dir, removed on close
  std::optional<WalDamage> wal_damage_;             // see Ledger::wal_damage()
  std::unique_ptr<rocksdb::WalFilter> wal_filter_;  // given to RocksDB's recovery; outlives db_

  // Queue between appenders and the writer thread.
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;  // writer waits for work
  std::condition_variable space_cv_;  // appenders wait for room
  std::deque<Request> queue_;         // guarded by queue_mu_
  std::size_t queued_events_ = 0;     // guarded by queue_mu_
  bool stopping_ = false;             // guarded by queue_mu_
  std::thread writer_;

  // Owned by the sequencer thread (and Open before it starts): the tentative state, as if
  // every group handed to the committer commits.
  LedgerHead tentative_head_;
  std::uint64_t next_dead_letter_id_ = 1;
  UnixNanos last_recorded_at_ = 0;
  std::uint64_t next_token_ = 1;
  // Idempotency keys of the events of handed-off groups not yet settled: they are not in
  // RocksDB yet, so a MultiGet would miss them. Views into in_flight_groups_' strings
  // (a deque never moves its elements, nor a moved vector its strings).
  struct InFlightGroup {
    std::uint64_t token;
    std::vector<std::string> keys;
  };
  std::unordered_map<std::string_view, std::uint64_t> in_flight_ids_;  // key -> seq
  std::deque<InFlightGroup> in_flight_groups_;
  // Hashes of raw messages handed off recently (cleared after a failed write). A document whose
  // events span several batches brings its raw message in each; this keeps the writer from
  // re-putting it.
  std::unordered_set<std::string> recent_raws_;
  std::deque<std::string> recent_raws_order_;

  // Between the sequencer and the committer: one prepared group at a time.
  std::mutex commit_mu_;
  std::condition_variable commit_cv_;     // either side waits for the other
  std::optional<PreparedGroup> handoff_;  // guarded by commit_mu_
  bool committing_ = false;               // guarded by commit_mu_
  // committing_ as the sequencer's queue wait sees it (it holds queue_mu_, not commit_mu_).
  std::atomic<bool> committer_busy_{false};
  bool committer_stop_ = false;                    // guarded by commit_mu_
  std::uint64_t settled_token_ = 0;                // guarded by commit_mu_: last group finished
  std::uint64_t durable_next_dead_letter_id_ = 1;  // guarded by commit_mu_
  // Set by the committer when a write failed: every group prepared on top of the failed one
  // fails with the same error until the sequencer has reset its tentative state.
  std::optional<Status> poison_;  // guarded by commit_mu_
  // WriterFigures as atomics: written by the committer thread only (so a relaxed load and store
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
