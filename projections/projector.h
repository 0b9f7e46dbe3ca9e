// The projection worker: folds the ledger into the status, ETA and freight-cost views.
//
// A Projector tails the log from its checkpoint. Per batch it folds the events into the views
// (kept in a bounded cache, loaded from the views family on a miss) and commits, in one
// WriteBatch (Ledger::WriteAux), one outbox entry per new view version and the new checkpoint.
// The changed views themselves are written behind, views_write_interval after they changed:
// while the worker keeps up, in that batch (a bounded share per batch); while it is behind, all
// at once after it; also all when the cache must shrink and when the worker stops; the
// checkpoint's views_through says up to where every stored view is complete. Readers fold a
// shipment's events after views_through on top of its stored views (ReadCurrentViews), so they
// see every committed event. A crash at any point neither applies an event twice nor skips one:
// on restart the worker refolds the events between views_through and the checkpoint into its
// cache without emitting their outbox entries again (the fold is deterministic, so the versions
// are those already emitted), stores the views, and resumes after the checkpoint.
//
// Rebuild folds the whole log into a shadow generation of the views while the worker keeps
// going, then briefly pauses the worker, folds the events it committed meanwhile, and swaps
// the generation in one batch. Readers (ReadView) see the old views or the new, never a mix.
//
// Thread-safety: Step/Run on one worker thread; Rebuild, RebuildShipment, Republish and
// ReadView may be called from any other thread concurrently with it.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <stop_token>
#include <string>
#include <unordered_map>
#include <vector>

#include "ledger/ledger.h"
#include "projections/outbox.h"
#include "projections/rendered_outbox.h"
#include "projections/store_layout.h"
#include "projections/view_reader.h"
#include "projections/views.h"

namespace waybill::projections {

// One shipment's views after a commit; nullptr where the shipment has none of that view.
struct CommittedViews {
  std::string_view shipment_id;
  const ShipmentView* status = nullptr;
  const ShipmentView* eta = nullptr;
  const ShipmentView* freight_cost = nullptr;
};

struct ProjectorOptions {
  std::size_t batch_events = 2048;       // events per incremental commit
  std::size_t cache_shipments = 100000;  // shipments whose views stay in memory
  // ... and at most this many bytes of views, counted as encoded (decoded they take a few
  // times more). A view keeps every milestone of its shipment, so a count alone bounds
  // nothing: a 30-minute soak over 50,000 shipments (630 events each by its end) grew the
  // server from 3.1 GiB at minute 5 to 5.7 GiB. Past either bound, the shipments least
  // recently folded into are dropped until 90% of both remain.
  std::size_t cache_bytes = std::size_t{128} << 20;
  // How long a changed view may wait in the cache before it is written to the store (0:
  // with the batch that changed it). Writing a view once per interval instead of once per
  // event that changes it made catch-up 1.7x as fast (projection_bench, 1M events over 50k
  // shipments: 29.8k -> 50.5k events/s; 10 s gave 55k); readers and a restart fold about
  // this long a stretch of the log on top of the stored views.
  std::chrono::milliseconds views_write_interval{1000};
  // The clock views_write_interval is measured on (tests set their own); null: steady_clock.
  std::function<std::chrono::steady_clock::time_point()> clock;
  std::size_t rebuild_batch_events = 65536;
  // Threads a full rebuild folds on, each over its own share of the shipments (each reads
  // the whole log; decoding is cheap next to folding).
  std::size_t rebuild_threads = 2;
  // Queue every view update in the outbox for the NATS publisher. Off when nothing will ever
  // publish them (`serve` without --nats): the outbox would only grow, by a view reference
  // per update. Views are still stored; `waybill republish` sends the current ones once
  // there is a NATS to send to.
  bool emit_outbox = true;
  // Where the worker leaves its renderings of the view updates it queues, for the publisher
  // (null: nothing renders them until the publisher does, from the log). Must outlive the
  // Projector.
  RenderedOutbox* rendered_outbox = nullptr;
  // Called on the worker thread after each commit, with the events just folded and the
  // views of each shipment they name, as just stored (valid during the call only).
  std::function<void(std::span<const Event>, std::span<const CommittedViews>)> on_commit;
};

class Projector {
 public:
  // Loads the checkpoint and the active generations. The ledger must be open read-write
  // and outlive the Projector.
  [[nodiscard]] static Result<std::unique_ptr<Projector>> Open(ledger::Ledger& ledger,
                                                               ProjectorOptions options = {});
  ~Projector();

  // Folds and commits the next batch after the checkpoint, then stores the cached views if
  // they are due (StoreViews). Returns the number of events folded (0 when caught up). On
  // error the next Step refolds from the stored views and retries whatever was not stored.
  [[nodiscard]] Result<std::size_t> Step();

  // Steps until the checkpoint reaches the head as of the call, then stores every view
  // (StoreViews); returns the checkpoint.
  [[nodiscard]] Result<std::uint64_t> CatchUp();

  // Writes every view changed since the last write now, with the checkpoint's views_through
  // moved up to its last_seq. Run calls it when it stops.
  [[nodiscard]] Status StoreViews();

  // Steps until `stop` is requested, waiting for new events when caught up. A failing Step
  // (a full disk refusing WriteAux, a read error) is retried after a pause that doubles from
  // 100 ms up to 5 s, never skipped; `on_error` gets the first error of such a streak and
  // `on_recovered` (when set) the end of it, so a long outage is reported once.
  void Run(std::stop_token stop, const std::function<void(const Status&)>& on_error,
           const std::function<void()>& on_recovered = {});

  Checkpoint checkpoint() const;

  struct CacheFigures {
    std::size_t shipments = 0;  // shipments whose views the worker holds in memory
    std::size_t bytes = 0;      // their views' encoded size as last loaded or written
  };
  // The worker's view cache as the last Step left it. Thread-safe.
  CacheFigures cache() const;
  // Times a rebuild's fold parked its views in the store to stay within the cache bounds
  // (since Open). Thread-safe.
  std::uint64_t rebuild_spills() const { return rebuild_spills_.load(std::memory_order_relaxed); }

  // The stored view of a shipment; it holds at least every event up to the checkpoint's
  // views_through (all of them after CatchUp or StoreViews). nullptr when it has none.
  [[nodiscard]] Result<std::unique_ptr<ShipmentView>> ReadView(ViewKind view,
                                                               std::string_view shipment_id) const;

  // The views of a shipment as of the whole log, as projections::ReadCurrentViews answers
  // them, with the checkpoint and active generations taken from this worker's memory instead
  // of the store: one batched read of the three views (the server's GET path). Thread-safe.
  [[nodiscard]] Result<ShipmentViews> ReadCurrentViews(std::string_view shipment_id) const;

  // Drops `views` and refolds them from the log up to the checkpoint into a shadow
  // generation, then swaps it in atomically. Publishes nothing.
  [[nodiscard]] Status Rebuild(std::span<const ViewKind> views);

  // Refolds one shipment's `views` from its events up to the checkpoint and replaces them.
  [[nodiscard]] Status RebuildShipment(std::string_view shipment_id,
                                       std::span<const ViewKind> views);

  struct RepublishResult {
    std::uint64_t events = 0;  // event-feed messages queued
    std::uint64_t views = 0;   // current view messages queued
  };
  // Queues again, in the outbox, the event-feed messages of the events in [from, to]
  // (clamped to the checkpoint; only `shipment_id`'s when given) and the current views of
  // every shipment those events touch. Message ids are the originals, so JetStream's
  // duplicate window absorbs re-sends that did arrive.
  [[nodiscard]] Result<RepublishResult> Republish(std::uint64_t from, std::uint64_t to,
                                                  const std::optional<std::string>& shipment_id);

 private:
  using ViewSet = std::array<std::unique_ptr<ShipmentView>, 3>;  // indexed by ViewKind - 1
  struct Fold;  // one folding pass: which views, which generations, where state lives

  Projector(ledger::Ledger& ledger, ProjectorOptions options);
  Status Load();
  Status LoadViews(Fold& fold, std::span<const Event> events);
  // Refolds (views_through, last_seq] into the emptied cache without emitting outbox entries
  // and stores the views, when a restart or a failed commit left the store behind the cache
  // (recover_). With fold_mu_ held.
  Status RecoverIfNeeded();
  // Writes the live fold's changed views with views_through = `through`, and the checkpoint.
  // On failure the cache is dropped and recover_ set. With fold_mu_ held.
  Status CommitViews(std::uint64_t through);
  // Puts into `batch` the live fold's views that changed at least views_write_interval ago
  // (the oldest first, a bounded number), and sets next->views_through to what every stored
  // view holds once `batch` is written. `next` is the checkpoint written with it. With
  // fold_mu_ held; on a failed write the caller drops the cache.
  void PutDueViews(ledger::AuxBatch* batch, Checkpoint* next);
  // Puts the changed views of the first `count` entries of fold.dirty into `batch` and drops
  // those entries from it, writing and restarting the batch every `write_every` views.
  Status PutDirty(Fold& fold, std::size_t count, ledger::AuxBatch* batch, std::size_t write_every);
  // When idle: writes the views that are due (PutDueViews) with the checkpoint, then
  // ShrinkIfOverBounds. With fold_mu_ held.
  Status StoreViewsIfDue();
  // When the cache is over its bounds: stores every view (CommitViews), then shrinks it.
  // Between batches, with fold_mu_ held.
  Status ShrinkIfOverBounds();
  std::chrono::steady_clock::time_point Now() const;  // options_.clock, or steady_clock
  // Whether the live fold's oldest change waiting to be stored is views_write_interval old.
  // With fold_mu_ held and live_->dirty not empty.
  bool OldestChangeDue() const;
  void PublishCheckpoint(const Checkpoint& next);  // with fold_mu_ held
  // The live cache against its bounds (cache_shipments, cache_bytes); ShrinkCache evicts
  // stored entries down to 90% of both. DropCache forgets it and sets recover_ (its changes
  // did not reach the store). With fold_mu_ held.
  bool CacheOverBounds() const;
  void ShrinkCache();
  void DropCache();
  // The message of the view of `kind` as of the checkpoint (the cached view, else the stored
  // one); nullopt when the shipment has none. With fold_mu_ held and recover_ false.
  Result<std::optional<OutMessage>> CurrentViewMessage(ViewKind kind, const std::string& shipment);
  Status FoldRange(Fold& fold, std::uint64_t from, std::uint64_t to);
  // Puts the fold's changed views into `batch` (FlushFold), writing and restarting the batch
  // every `write_every` views (FlushDirty), or in batches of its own (FlushShadow: a rebuild's
  // shadow, which nobody reads until the swap).
  Status FlushFold(Fold& fold, ledger::AuxBatch* batch);
  Status FlushDirty(Fold& fold, ledger::AuxBatch* batch, std::size_t write_every);
  Status FlushShadow(Fold& fold);

  ledger::Ledger& ledger_;
  const ProjectorOptions options_;

  // Serialises everything that folds or commits: Step, the end of Rebuild, RebuildShipment,
  // Republish.
  mutable std::mutex fold_mu_;
  Checkpoint checkpoint_;       // guarded by fold_mu_ (reads: ckpt_mu_)
  std::unique_ptr<Fold> live_;  // guarded by fold_mu_
  // Set when the cache may differ from the stored views plus the events (views_through,
  // last_seq] folded on top (after a restart, or a commit that failed): the next fold
  // refolds those events first. Guarded by fold_mu_.
  bool recover_ = false;
  mutable std::mutex ckpt_mu_;       // for checkpoint() readers
  Checkpoint published_checkpoint_;  // guarded by ckpt_mu_
  std::mutex rebuild_mu_;            // one rebuild at a time
  // Active generation per view. Writers hold fold_mu_ and gen_mu_ exclusively to swap;
  // ReadView holds gen_mu_ shared so it never reads a generation being deleted.
  mutable std::shared_mutex gen_mu_;
  std::array<std::uint32_t, 3> generation_{};  // guarded by gen_mu_
  // live_'s cache figures, stored after each change for cache() readers.
  std::atomic<std::size_t> cache_shipments_{0}, cache_bytes_{0};
  std::atomic<std::uint64_t> rebuild_spills_{0};
  void PublishCacheFigures();  // with fold_mu_ held
};

}  // namespace waybill::projections
