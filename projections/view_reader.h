// Reading views back: from the views family (stored state), and folded from the log for
// as-of queries. Works on a ledger open read-only (a RocksDB secondary), so auditors and
// `waybill view` read while `waybill serve` writes.
// Thread-safety: any thread; the ledger must outlive the calls.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "ledger/ledger.h"
#include "projections/store_layout.h"
#include "projections/views.h"

namespace waybill::projections {

// The three views of one shipment (any of them null when it has none).
struct ShipmentViews {
  std::unique_ptr<ShipmentView> status, eta, freight_cost;
  ShipmentView* get(ViewKind kind) const;
  // The slot of `kind`, to fill or replace.
  std::unique_ptr<ShipmentView>& slot(ViewKind kind);
  bool empty() const { return !status && !eta && !freight_cost; }
  // CombinedViewJson (without the freight-cost view when `include_freight_cost` is false).
  std::string ToJson(std::string_view shipment_id, bool include_freight_cost = true) const;
};

// The stored checkpoint (a zero checkpoint when the worker never ran).
[[nodiscard]] Result<Checkpoint> ReadCheckpoint(const ledger::Ledger& ledger);

// The active generation of `view`.
[[nodiscard]] Result<std::uint32_t> ReadActiveGeneration(const ledger::Ledger& ledger,
                                                         ViewKind view);

// The stored view of `shipment_id` in `generation`; nullptr when it has none.
[[nodiscard]] Result<std::unique_ptr<ShipmentView>> ReadStoredView(const ledger::Ledger& ledger,
                                                                   ViewKind view,
                                                                   std::uint32_t generation,
                                                                   std::string_view shipment_id);

// The stored views of each of `shipment_ids` in the given generations (indexed like
// kAllViews), with one batched read; an entry is empty for a shipment with no stored view.
[[nodiscard]] Result<std::vector<ShipmentViews>> ReadStoredViews(
    const ledger::Ledger& ledger, const std::array<std::uint32_t, 3>& generations,
    std::span<const std::string> shipment_ids);

// The views of a shipment as of the whole log: the stored views, plus the shipment's events
// the stored views may not hold yet (past the checkpoint's views_through) folded on top in
// memory. Versions are then those the worker will store. Empty when the shipment has no
// events.
[[nodiscard]] Result<ShipmentViews> ReadCurrentViews(const ledger::Ledger& ledger,
                                                     std::string_view shipment_id);

// Folds on top of `views` the shipment's events after `folded_through` (the views_through of
// the checkpoint the stored views were read after) up to the ledger's head, in sequence
// order. Views may be fresher than `folded_through`: a view skips the events it has folded
// already (ShipmentView::Apply). Events stored but not yet acknowledged (past the head) are
// left out, so a read never shows more than a later one.
[[nodiscard]] Status FoldEventsAfter(const ledger::Ledger& ledger, std::string_view shipment_id,
                                     std::uint64_t folded_through, ShipmentViews* views);

// The views folded from the shipment's events that pass `include` (in sequence order),
// from scratch: what as-of queries and tests use.
[[nodiscard]] Result<ShipmentViews> FoldShipment(const ledger::Ledger& ledger,
                                                 std::string_view shipment_id,
                                                 const std::function<bool(const Event&)>& include);

}  // namespace waybill::projections
