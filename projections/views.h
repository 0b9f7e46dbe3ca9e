// The three per-shipment views and their folds: status, ETA and freight cost.
//
// Each view is a pure fold over one shipment's events, `(view, event) -> view`, applied in
// ledger sequence order. The fold keeps enough state that the rendered content does not
// depend on arrival order (a view built from any permutation of the same events renders the
// same content), except where the contract breaks ties by sequence (and the ledger seq each
// status milestone shows, which is assigned in arrival order). `version` counts the
// events that changed the rendered content; `last_seq` and `updated_at` are the sequence and
// recorded_at of the last such event. None of it reads a clock, so a rebuild from the log
// renders byte for byte what incremental folding rendered.
//
// Field contract, JSON shapes and tie-breaking rules: docs/views.md.
// Thread-safety: plain values; a view object is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "schemas/event.h"
#include "schemas/result.h"

namespace waybill::projections {

// Persisted in keys: append new views, never renumber.
enum class ViewKind : std::uint8_t { kStatus = 1, kEta = 2, kFreightCost = 3 };
inline constexpr ViewKind kAllViews[] = {ViewKind::kStatus, ViewKind::kEta, ViewKind::kFreightCost};

// "status", "eta", "freight_cost": the name in subjects, CLI flags and JSON.
std::string_view ToString(ViewKind v);
std::optional<ViewKind> ParseViewKind(std::string_view name);

// A view of one shipment. Implementations: StatusView, EtaView, FreightCostView
// (projections/status_view.h, eta_view.h, freight_cost_view.h), made by MakeView.
class ShipmentView {
 public:
  virtual ~ShipmentView() = default;
  virtual ViewKind kind() const = 0;

  // Folds `event` (a ledger event of this view's shipment: ledger.seq and recorded_at set).
  // Returns true when the rendered content changed; then version is incremented and
  // last_seq/updated_at are set from the event. Idempotent for an event already folded
  // (same event_id): returns false. Events must come in ascending ledger.seq (as the log
  // yields them); one whose seq is not above the last folded seq counts as already folded.
  virtual bool Apply(const Event& event) = 0;

  // Whether the view's stored state (Encode) changed since the last call, whether or not
  // the rendering did; clears the mark. The projection worker writes a view back only when
  // this is true, so restarts and rebuilds agree byte for byte with fewer writes.
  virtual bool TakeStateChanged() = 0;

  // The view's payload: one JSON object on one line with "view", "shipment_id",
  // "order_id", "customer_id", "carrier", "references", "version", "last_seq",
  // "updated_at" and the view's own fields. Deterministic: same state, same bytes.
  virtual void AppendJson(std::string* out) const = 0;

  // Appends this view's own fields (no header, no braces) as `"key":value` pairs separated
  // by commas, without a leading or trailing comma: for the combined `waybill view` object.
  virtual void AppendFieldsJson(std::string* out) const = 0;

  // Binary state for the views column family; Decode(Encode()) restores an equal view.
  // The encoding starts with a format version byte and is deterministic.
  virtual void Encode(std::string* out) const = 0;

  virtual std::uint64_t version() const = 0;
  virtual std::uint64_t last_seq() const = 0;
  virtual const std::string& shipment_id() const = 0;
  // The customer token for subjects: customer_id, or nullopt while unknown.
  virtual const std::optional<std::string>& customer_id() const = 0;
};

// A fresh (version 0) view of `kind` for `shipment_id`.
std::unique_ptr<ShipmentView> MakeView(ViewKind kind, std::string_view shipment_id);

// Restores a view stored by Encode. Corruption, naming the view and the reason, when the
// bytes do not decode.
[[nodiscard]] Result<std::unique_ptr<ShipmentView>> DecodeView(ViewKind kind,
                                                               std::string_view bytes);

// The combined object of `waybill view` and `waybill asof`: the header fields once
// (shipment_id, order_id, customer_id, carrier, references, last_seq = max over the views,
// updated_at = latest), "versions": {"status":N,"eta":N,"freight_cost":N}, then every
// view's own fields (status, status_at, ..., eta, ..., "freight_cost": {...}).
// Views may be null (never folded): their fields are then rendered as for a fresh view.
// With `include_freight_cost` false (a reader without costs:read) the freight-cost view is
// left out entirely: no fields, no version, and it does not count towards last_seq,
// updated_at or the header, so nothing in the object depends on cost events.
std::string CombinedViewJson(std::string_view shipment_id, const ShipmentView* status,
                             const ShipmentView* eta, const ShipmentView* freight_cost,
                             bool include_freight_cost = true);

// The list attributes the combined object (CombinedViewJson with the same arguments) states,
// taken from the views without rendering them: what GET /v1/shipments filters and orders by.
struct CombinedSummary {
  std::optional<std::string> customer_id;
  std::optional<std::string> carrier;
  std::optional<std::string> status;  // the status view's "status"; nullopt while it is null
  std::uint64_t last_seq = 0;
  std::optional<UnixNanos> updated_at;  // nullopt while every view is at version 0
};
CombinedSummary SummarizeCombined(std::string_view shipment_id, const ShipmentView* status,
                                  const ShipmentView* eta, const ShipmentView* freight_cost,
                                  bool include_freight_cost = true);

}  // namespace waybill::projections
