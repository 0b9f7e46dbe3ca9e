// The index behind GET /v1/shipments: every shipment's list attributes (customer, carrier,
// status, last_seq, updated_at) ordered newest first, by the sequence of the last event that
// changed its status or ETA view, then by shipment id.
//
// Stored in the ledger's views family (layout in shipment_index_layout.h), so its memory is
// RocksDB's bounded caches whatever the number of shipments, and a restart does not re-read
// every view: it catches up from the events after the index's own through_seq. The server
// summarises each projection commit's shipments from the views the worker hands its
// on_commit and stores their rows on its index thread (Put), so the index trails the worker
// by one write and never reads views back except to catch up or reload.
//
// Pagination is by an opaque cursor naming the last (last_seq, shipment) returned: a shipment
// that changes while a client pages moves to the front (its last_seq grows), so a walk never
// returns it twice, and shipments that did not change keep their places, so none is skipped.
// A customer filter reads that customer's rows only; the other filters skip rows while
// scanning.
// Thread-safety: all methods are safe from any thread; writers take turns, lists read a
// snapshot and never wait for them.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ledger/ledger.h"
#include "projections/view_reader.h"
#include "server/api/shipment_index_layout.h"

namespace waybill::server::api {

// Why not freight cost: a list sorted by a cost event's sequence would let a reader without
// costs:read infer when invoices arrived. Ordering uses the status and ETA views only.
ShipmentSummary SummarizeViews(std::string_view shipment_id,
                               const projections::ShipmentViews& views);
// The same from the views themselves (nullptr where the shipment has none of a view).
ShipmentSummary SummarizeViews(std::string_view shipment_id,
                               const projections::ShipmentView* status,
                               const projections::ShipmentView* eta,
                               const projections::ShipmentView* freight_cost);

struct ListFilter {
  std::optional<std::string> customer;
  std::optional<std::string> status;
  std::optional<std::string> carrier;
  std::optional<UnixNanos> updated_since;  // updated_at >= this
};

struct ListCursor {
  std::uint64_t last_seq = 0;
  std::string shipment_id;
};
std::string EncodeCursor(const ListCursor& cursor);
// nullopt when `text` is not a cursor this server made.
std::optional<ListCursor> DecodeCursor(std::string_view text);

class ShipmentIndex {
 public:
  // Opens the index stored in the views family. When none is stored (a new data dir, or one
  // from a version that kept the index in memory) builds it from the stored views, which
  // must be at least as fresh as `views_through_seq` (the worker's checkpoint).
  [[nodiscard]] static Result<std::unique_ptr<ShipmentIndex>> Open(ledger::Ledger& ledger,
                                                                   std::uint64_t views_through_seq);

  // Rebuilds the stored index from the stored views (an offline `waybill rebuild`); the
  // server must not be running on this ledger.
  [[nodiscard]] static Status Rebuild(ledger::Ledger& ledger, std::uint64_t views_through_seq);

  // Re-reads the stored views of `shipment_ids`, updates their rows, and records that the
  // index reflects every view change up to `through_seq` (kept when already past it).
  [[nodiscard]] Status Refresh(const std::vector<std::string>& shipment_ids,
                               std::uint64_t through_seq);

  // Stores the rows of shipments whose views the caller has in hand (the worker's commit), and
  // records that the index reflects every view change up to `through_seq`.
  [[nodiscard]] Status Put(const std::vector<ShipmentSummary>& summaries,
                           std::uint64_t through_seq);

  // Refreshes the shipments of the events after through_seq() up to `to_seq`: what a crash
  // or a start left the index behind the worker by. Reads those events from the log.
  [[nodiscard]] Status CatchUp(std::uint64_t to_seq);

  // Rebuilds the whole index from the stored views into a new generation and swaps it in
  // (after a rebuild of the views). Lists keep answering from the old one meanwhile.
  [[nodiscard]] Status Reload(std::uint64_t views_through_seq);

  struct Page {
    std::vector<std::string> shipment_ids;  // newest first
    std::optional<ListCursor> next;         // set when more may follow
  };
  // Up to `limit` shipments passing `filter`, after `cursor` (from the start without one).
  // Reads one consistent snapshot of the index.
  [[nodiscard]] Result<Page> List(const ListFilter& filter, const std::optional<ListCursor>& cursor,
                                  std::size_t limit) const;

  std::uint64_t size() const { return entries_.load(std::memory_order_relaxed); }
  std::uint64_t through_seq() const { return through_seq_.load(std::memory_order_relaxed); }

  explicit ShipmentIndex(ledger::Ledger& ledger) : ledger_(ledger) {}

 private:
  // Adopts the stored state; false when there is none (or it is damaged: logged).
  [[nodiscard]] Result<bool> LoadState();
  // The rest run with write_mu_ held.
  [[nodiscard]] Status RefreshLocked(std::span<const std::string> shipment_ids,
                                     std::uint64_t through_seq);
  // Adds to `batch` the row changes that give each of `shipment_ids` (at most a chunk) the row
  // of its summary (none for nullopt), and to `entries_delta` the rows added less removed.
  [[nodiscard]] Status StageRows(std::span<const std::string> shipment_ids,
                                 std::span<const std::optional<ShipmentSummary>> summaries,
                                 ledger::AuxBatch* batch, std::int64_t* entries_delta);
  // StageRows with the summaries of the stored views.
  [[nodiscard]] Status StageRefresh(std::span<const std::string> shipment_ids,
                                    const std::array<std::uint32_t, 3>& view_generations,
                                    ledger::AuxBatch* batch, std::int64_t* entries_delta);
  // Stages and commits `count` shipments' rows a chunk at a time: `stage(begin, n, batch,
  // entries_delta)` stages rows [begin, begin + n). Only the last chunk moves through_seq to
  // `through_seq`, so a failure before it leaves the whole range to be done again.
  using StageChunk =
      std::function<Status(std::size_t, std::size_t, ledger::AuxBatch*, std::int64_t*)>;
  [[nodiscard]] Status CommitInChunks(std::size_t count, std::uint64_t through_seq,
                                      const StageChunk& stage);
  // Commits `batch` with the state updated by the delta and through_seq, then adopts it.
  [[nodiscard]] Status Commit(ledger::AuxBatch batch, std::int64_t entries_delta,
                              std::uint64_t through_seq);

  ledger::Ledger& ledger_;
  // Writers (the index thread, admin rebuilds, start) take turns: a refresh reads a row,
  // then replaces it.
  std::mutex write_mu_;
  std::atomic<std::uint32_t> generation_{0};
  std::atomic<std::uint64_t> through_seq_{0};
  std::atomic<std::uint64_t> entries_{0};
};

}  // namespace waybill::server::api
