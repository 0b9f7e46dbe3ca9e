// The ledger: an append-only, hash-chained, idempotent log of canonical events in RocksDB.
//
// Writes go through one writer that commits concurrent appends in groups: one WriteBatch
// per group, written with sync=true, after which every caller in the group is completed.
// (Internally two threads: a sequencer prepares the next group while a committer writes
// the previous one; groups are written and completed in order.) An append therefore
// returns only once its events are durable. Reads go straight
// to RocksDB and may run concurrently with writes from any thread.
//
// Thread-safety: Ledger is safe to use from many threads. Append/AppendAsync may be called
// concurrently; readers see a consistent prefix of the log (everything up to some head).
// Layout and record formats: key_layout.h, record_format.h.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ledger/aux_store.h"
#include "ledger/clock.h"
#include "ledger/dead_letter.h"
#include "schemas/event.h"
#include "schemas/result.h"

namespace waybill::ledger {

enum class OpenMode {
  kReadWrite,  // the one writer of this data dir; takes RocksDB's lock
  kReadOnly,   // a RocksDB secondary: works while another process writes the data dir
};

// What a read-write open checks before it serves, beyond RocksDB's own recovery
// (docs/ledger.md, "Damaged storage"). Every level refuses a damaged or torn WAL.
enum class StartupCheck {
  kFull,   // kQuick, plus every block checksum of every table file (reads the whole data dir)
  kQuick,  // the hash chain of the last kStartupChainTail events, their blocks' checksums too
  kOff,    // nothing beyond the head-vs-last-event check every open does
};
inline constexpr std::uint64_t kStartupChainTail = 1000;

// Write-ahead-log damage found while opening: where RocksDB's recovery could not replay.
struct WalDamage {
  std::string file;                 // the .log file's path
  std::uint64_t offset = 0;         // byte offset of the first record that did not replay
  std::uint64_t dropped_bytes = 0;  // bytes from there RocksDB could not replay
  std::string reason;               // RocksDB's words: "checksum mismatch", "truncated record body"
  // The file merely ends inside its last record (an interrupted write) ...
  bool torn_tail = false;
  // ... and the process that wrote it died without closing the ledger (a stale waybill.pid),
  // so that record was never acknowledged: dropping it loses nothing.
  bool after_crash = false;
};

struct LedgerOptions {
  OpenMode mode = OpenMode::kReadWrite;
  // Create the data dir and an empty ledger when none exists (read-write mode only).
  bool create_if_missing = true;
  // Source of recorded_at; nullptr means the system clock. Not owned.
  Clock* clock = nullptr;
  // Most events one group commit takes; more pending appends wait for the next group.
  std::size_t max_group_events = 8192;
  // While one group is being written, the next is prepared ahead only once this many events
  // are queued; fewer wait for the write to finish and join a larger group. Large groups
  // (imports, NDJSON bodies) gain from the overlap, a few small appends from the larger
  // group (see rocks_ledger_write.cc). 0: always prepare ahead.
  std::size_t prepare_ahead_events = 256;
  // For one process appending in bulk with no shipment queries beside it (`waybill import`):
  // the shipment index buffers in a vector memtable, which appends fastest (X12 import
  // ~12% faster) but makes every ReadShipment sort a copy of it (110 ms with 300k entries
  // buffered). Everything else (a server answering queries) keeps the default.
  bool bulk_load = false;
  // Appenders block once this many events are queued (bounded memory under overload).
  std::size_t max_pending_events = 65536;
  // Who holds the data dir for writing, named to another process that finds it locked
  // ("waybill serve", "waybill import").
  std::string holder = "waybill";
  // kReadWrite: what to check before serving (see StartupCheck).
  StartupCheck startup_check = StartupCheck::kFull;
  // kReadOnly: when no process holds the data dir, open it the way a writer's recovery would
  // (a read-only point-in-time replay of the WAL) and report WAL damage in wal_damage()
  // instead of failing; while a writer runs, this is the usual secondary. For `verify`.
  bool inspect = false;
  // Receives the open's warnings (a torn WAL tail dropped after a crash). nullptr: standard
  // error. Called on the opening thread.
  std::function<void(const std::string&)> on_warning;
  // Test hook, called on the committer thread before each group's write: a message fails
  // the group (simulated disk error) and nothing is written. A test may also block in it to
  // hold a group in flight while the next one is prepared.
  std::function<std::optional<std::string>()> TEST_fail_write;
  // Appends and projection writes are refused (IoError, nothing written) while the data
  // dir's filesystem has less than this many bytes free, so that RocksDB never meets a full
  // disk in its write-ahead log (which RocksDB 7.8 cannot resume from without a restart) and
  // always has room to flush. nullopt: min(256 MiB, 2% of the filesystem's size). 0 turns
  // the guard off (RocksDB then meets the full disk itself; see docs/operations.md).
  std::optional<std::uint64_t> min_free_bytes;
  // Called when writing stops (with the error) and when it works again (with Ok), once per
  // change, on whichever thread noticed it (the writer or a WriteAux caller). Must be quick.
  std::function<void(const Status&)> on_write_state_change;
};

// A raw inbound message, kept once by content hash for audit (as read back). A message is a
// unit of delivery: an HTTP body, a NATS message, or a piece of an imported file made of
// whole lines/interchanges. Every event records the hash of the message it came from.
struct RawMessage {
  Sha256 hash{};  // SHA-256 of `bytes`
  std::string bytes;
  std::string format;
  std::optional<std::string> partner;
  std::optional<std::string> origin;  // "events.ndjson:1-1000", "http", "nats"
  UnixNanos received_at = 0;
};

// A raw message encoded by the producer thread, ready for the writer.
struct PreparedRaw {
  Sha256 hash{};       // SHA-256 of the message bytes: the record's key
  std::string record;  // EncodeRawRecord(...)
};

// Hashes and encodes a raw message. Pure; call it on the producer's thread.
PreparedRaw PrepareRaw(std::string_view bytes, std::string_view format,
                       const std::optional<std::string>& partner,
                       const std::optional<std::string>& origin, UnixNanos received_at);

// Where a restored event must land in the chain: its ledger fields as another ledger
// recorded them (a line of `waybill export`).
struct ExpectedPosition {
  std::uint64_t seq = 0;
  UnixNanos recorded_at = 0;
  Sha256 hash{};  // the chain hash the writer must compute for the event at `seq`
};

// An event encoded and digested by the producer thread, ready for the writer.
struct PreparedEvent {
  std::string event_id;
  std::string shipment_id;
  std::string order_id;     // for log correlation only (empty when the event has none)
  std::string content;      // EncodeEventContent(event)
  Sha256 content_digest{};  // SHA-256(content)
  int raw_index = -1;       // index into AppendBatch::raws of its raw message, or -1
  // Chain restore only (nullopt everywhere else: the writer assigns seq and recorded_at).
  // A batch whose events carry an expected position is a restore request; its contract:
  //  - every event of the batch carries one, and the batch has no dead letters or updates;
  //  - events are stored exactly there, in order: `seq` must be the next sequence, and
  //    `recorded_at` not before the head's; the event id must not be in the ledger (nor
  //    earlier in the batch); and ChainHash(seq, recorded_at, head hash, content_digest)
  //    must equal `hash`, so the restored chain is the original one, byte for byte;
  //  - any violation fails the whole request alone with InvalidArgument naming the seq and
  //    the rule, and nothing of it is stored (the head does not move);
  //  - the writer commits a restore request in a group of its own (the normal path's
  //    groups never carry one), so other appenders are unaffected either way.
  // Its raw messages are kept when at least one event refers to them (raw_index), as usual.
  std::optional<ExpectedPosition> expected;
};

// Encodes and digests `event` (its ledger fields are ignored). Pure; call it from the
// producer's thread so the writer only chains. `event` must already be validated.
PreparedEvent PrepareEvent(const Event& event, int raw_index = -1);

// One caller's unit of work: the raw messages, the events mapped from them and the dead
// letters for what failed. All of it is committed in the same WriteBatch, so a retry that
// appends a dead letter's events and marks it resolved is atomic.
struct AppendBatch {
  std::vector<PreparedRaw> raws;
  std::vector<PreparedEvent> events;
  std::vector<DeadLetter> dead_letters;         // new: ids are assigned by the ledger
  std::vector<DeadLetter> dead_letter_updates;  // existing (id set): stored as given
};

struct AppendOutcome {
  std::uint64_t seq = 0;   // where the event is stored (for a duplicate: the original)
  bool duplicate = false;  // the event id was already in the ledger; nothing was stored
};

struct AppendResult {
  std::vector<AppendOutcome> events;           // one per AppendBatch::events, same order
  std::vector<std::uint64_t> dead_letter_ids;  // one per AppendBatch::dead_letters
};

struct LedgerHead {
  std::uint64_t seq = 0;  // 0: empty ledger
  Sha256 hash{};          // all zero for an empty ledger (the genesis hash)
  UnixNanos recorded_at = 0;
};

struct VerifyReport {
  std::uint64_t events = 0;  // events checked and found intact
  LedgerHead head;           // last intact event
  bool intact = true;
  std::uint64_t first_broken_seq = 0;  // when !intact
  std::string reason;                  // when !intact: what does not match
};

// Upper bounds (inclusive) of WriterFigures' histogram buckets; a last +Inf bucket is
// implicit. Seconds of one synced WriteBatch (the fsync dominates), and events per group.
inline constexpr std::array<double, 16> kCommitSecondsBounds = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
inline constexpr std::array<double, 14> kCommitEventsBounds = {
    1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192};

// What the writer (its committer stage) has done since Open, for metrics. Counters only grow. A
// snapshot is read field by field without a lock, so fields may disagree by the group committing at
// that moment; each field on its own is exact. Zero in kReadOnly mode.
struct WriterFigures {
  std::uint64_t events = 0;        // events stored (duplicates excluded)
  std::uint64_t duplicates = 0;    // appended events whose id was already in the ledger
  std::uint64_t dead_letters = 0;  // new dead letters stored (updates excluded)
  std::uint64_t commits = 0;       // synced WriteBatches written (groups that stored something)
  // Per commit: seconds of the synced write. Non-cumulative counts, +Inf last.
  std::array<std::uint64_t, kCommitSecondsBounds.size() + 1> commit_seconds_buckets{};
  double commit_seconds_sum = 0;
  // Per commit: events it stored. Non-cumulative counts, +Inf last.
  std::array<std::uint64_t, kCommitEventsBounds.size() + 1> commit_events_buckets{};
  std::uint64_t commit_events_sum = 0;
  // Writes refused or failed: group commits completed with an error and projection batches
  // (WriteAux) refused for lack of space.
  std::uint64_t write_errors = 0;
  bool writable = true;  // false from a failed write until a write or a recovery probe works
};

// Memory RocksDB holds for the ledger, summed over its column families, for metrics (see
// docs/operations.md "Process memory"). Bytes; estimates as RocksDB reports them.
struct MemoryFigures {
  std::uint64_t memtables = 0;      // active, unflushed and iterator-pinned memtables
  std::uint64_t table_readers = 0;  // table files' index and filter blocks held outside a cache
  std::uint64_t block_cache = 0;    // data, index and filter blocks cached (each cache once;
                                    // the caches are shared by the ledgers in one process)
};

struct LedgerStats {
  std::uint64_t events = 0;
  std::uint64_t shipments = 0;
  std::uint64_t dead_letters = 0;          // all, whatever their state
  std::uint64_t dead_letters_pending = 0;  // waiting for a retry or a drop
  std::uint64_t raw_messages = 0;
  std::uint64_t size_bytes = 0;  // live SST and WAL bytes on disk
  LedgerHead head;
};

class Ledger {
 public:
  // Opens (or creates) the ledger in `data_dir`. Errors: Busy when another process holds
  // the data dir for writing (the message names the pid when known); Unsupported when the
  // data dir was written by a newer format; NotFound for kReadOnly on a missing ledger;
  // Corruption when the WAL is damaged or torn (a torn tail is accepted, with a warning, only
  // after a crash: see WalDamage) or a startup check finds a damaged table file or chain.
  [[nodiscard]] static Result<std::unique_ptr<Ledger>> Open(const std::string& data_dir,
                                                            const LedgerOptions& options = {});

  // Drains pending appends, stops the writer and closes RocksDB.
  virtual ~Ledger() = default;

  // Appends a batch and blocks until it is durable. Errors leave the ledger unchanged.
  [[nodiscard]] virtual Result<AppendResult> Append(AppendBatch batch) = 0;

  // Appends without blocking the caller for the commit; `done` runs on the writer's
  // committer thread once the batch is durable (or failed). `done` must be quick and must
  // not call Append or AppendAsync.
  // May block while the writer's queue is full.
  virtual void AppendAsync(AppendBatch batch, std::function<void(Result<AppendResult>)> done) = 0;

  // The last appended event. Cheap; in kReadOnly mode, as of the last CatchUp().
  virtual LedgerHead Head() const = 0;

  // kReadOnly: catch up with what the writing process has committed since. No-op otherwise.
  [[nodiscard]] virtual Status CatchUp() = 0;

  // Calls `fn` for each event with from <= seq <= to, in sequence order, until `fn` returns
  // false. Corruption if a record fails to decode.
  [[nodiscard]] virtual Status ReadRange(std::uint64_t from, std::uint64_t to,
                                         const std::function<bool(const Event&)>& fn) const = 0;

  // The event at `seq`; NotFound when there is none.
  [[nodiscard]] virtual Result<Event> Get(std::uint64_t seq) const = 0;

  // A shipment's events with after_seq < seq <= through_seq in sequence order (all of them by
  // default); empty when the shipment is unknown. One seek in the shipment index, so reading
  // only the newest (or the oldest) events of a long-lived shipment costs what they cost.
  [[nodiscard]] virtual Result<std::vector<Event>> ReadShipment(
      std::string_view shipment_id, std::uint64_t after_seq = 0,
      std::uint64_t through_seq = UINT64_MAX) const = 0;

  // The first sequence whose recorded_at is > t (Head().seq + 1 when none): events
  // [1, result) are exactly those the ledger had recorded by time t.
  [[nodiscard]] virtual Result<std::uint64_t> FirstSeqRecordedAfter(UnixNanos t) const = 0;

  // The raw message with this content hash; NotFound when none is stored.
  [[nodiscard]] virtual Result<RawMessage> GetRaw(const Sha256& hash) const = 0;

  // Walks the chain over [from, to] (to clamped to the head), recomputing every hash. Stops
  // at the first break and reports its sequence and reason; also checks the stored head.
  [[nodiscard]] virtual Result<VerifyReport> Verify(std::uint64_t from = 1,
                                                    std::uint64_t to = UINT64_MAX) const = 0;

  [[nodiscard]] virtual Result<LedgerStats> Stats() const = 0;

  // Dead letters in id order, starting after `after_id`, at most `limit`, without their raw
  // messages (GetDeadLetter reads one whole).
  [[nodiscard]] virtual Result<std::vector<DeadLetterSummary>> ListDeadLetters(
      std::uint64_t after_id, std::size_t limit) const = 0;
  [[nodiscard]] virtual Result<DeadLetter> GetDeadLetter(std::uint64_t id) const = 0;

  // Blocks until the head is past `seq` or `timeout` passes; returns whether it is. In
  // kReadWrite mode it wakes as soon as a group commits; in kReadOnly mode it only sees what
  // CatchUp() brought in.
  virtual bool WaitForHeadAfter(std::uint64_t seq, std::chrono::milliseconds timeout) const = 0;

  // --- Projection storage (see aux_store.h): the views and outbox families. ---

  // Commits `batch` atomically. Not fsynced on its own (it rides on the WAL, and the next
  // group commit's fsync covers it): a process crash keeps it, a power cut may drop a
  // suffix of these writes, which projections recompute from the log. Unsupported in
  // kReadOnly mode.
  [[nodiscard]] virtual Status WriteAux(const AuxBatch& batch) = 0;

  // The value at `key`; NotFound when absent.
  [[nodiscard]] virtual Result<std::string> GetAux(AuxSpace space, std::string_view key) const = 0;

  // Values of many keys at once (nullopt where absent), in the order of `keys`.
  [[nodiscard]] virtual Result<std::vector<std::optional<std::string>>> MultiGetAux(
      AuxSpace space, const std::vector<std::string>& keys) const = 0;

  // Calls `fn(key, value)` for each key in [begin, end) in key order (end empty: to the end
  // of the family) until `fn` returns false.
  [[nodiscard]] virtual Status ScanAux(
      AuxSpace space, std::string_view begin, std::string_view end,
      const std::function<bool(std::string_view key, std::string_view value)>& fn) const = 0;

  // Writes a consistent, openable copy of the whole ledger (every column family as of one
  // instant) into `dir`, which must not exist and whose parent must; on the data dir's
  // filesystem the files are hard links, so it is fast and takes no extra space until the
  // live files are compacted away. Returns the head stored in the copy (read back from it,
  // not the live head). Safe from any thread while appends run; kReadWrite mode only.
  [[nodiscard]] virtual Result<LedgerHead> CreateCheckpoint(const std::string& dir) const = 0;

  // Counters and histograms of the writer (see WriterFigures). Cheap (relaxed atomic loads,
  // no lock, no I/O); safe from any thread.
  virtual WriterFigures writer_figures() const = 0;

  // RocksDB's memory for this ledger (see MemoryFigures). Cheap (in-memory properties, no
  // I/O); safe from any thread. Zero for ledgers that hold nothing in memory.
  virtual MemoryFigures memory_figures() const { return {}; }

  // Ok while appends can be stored; otherwise the error that stops them (kIoError: no space
  // left, or a RocksDB write error). The writer retries by itself (Resume() with backoff, and
  // a free-space check) and the state returns to Ok once space is back. Safe from any thread.
  [[nodiscard]] virtual Status WriteState() const = 0;
  // WAL damage this open found and got past: for kReadWrite, a torn tail dropped after a
  // crash; for an `inspect` open, whatever kept part of the WAL from replaying (Verify then
  // reports the ledger broken after the intact prefix, unless the damage is after_crash).
  virtual std::optional<WalDamage> wal_damage() const { return std::nullopt; }

  const std::string& data_dir() const { return data_dir_; }

 protected:
  explicit Ledger(std::string data_dir) : data_dir_(std::move(data_dir)) {}

 private:
  const std::string data_dir_;
};

}  // namespace waybill::ledger
