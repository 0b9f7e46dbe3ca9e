// The freight cost view: quoted vs invoiced vs posted, per charge code and currency, and the
// variance between invoice and quote.
//
// State: the latest quote (quotes are alternatives, not summed) and, for invoiced and posted,
// each document's latest version (a corrected invoice replaces the earlier one; an event
// without a document number is its own document, keyed by event_id). Every figure is a
// function of that state, computed exactly in 128 bits; an amount that does not fit int64
// minor units renders as null and sets "error" (docs/views.md).
// Thread-safety: a plain value; one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "projections/view_header.h"
#include "projections/views.h"

namespace waybill::projections {

// One charges document as last seen.
struct ChargeDoc {
  ChargeBasis basis = ChargeBasis::kQuoted;
  bool has_document = false;  // false: `key` is the event_id
  std::string key;            // charges.document, or event_id
  UnixNanos at = 0;           // occurred_at of the version kept
  std::uint64_t seq = 0;
  std::string currency;
  std::int64_t total = 0;
  std::vector<ChargeLine> lines;
  bool operator==(const ChargeDoc&) const = default;
};

// The figures the view renders, derived from the state (exact, 128-bit).
struct FreightSummary {
  struct Line {
    ChargeBasis basis;
    std::string code;
    std::string currency;
    std::optional<std::string> description;
    __int128 amount = 0;
    bool operator==(const Line&) const = default;
  };
  struct Total {
    ChargeBasis basis;
    std::string currency;
    __int128 amount = 0;
    bool operator==(const Total&) const = default;
  };
  std::optional<std::string> currency;  // of `current`
  std::optional<__int128> quoted, invoiced, posted, current, variance;
  std::vector<Line> lines;    // sorted by (basis, code, currency); basis in enum order
  std::vector<Total> totals;  // sorted by (basis, currency)
  bool operator==(const FreightSummary&) const = default;
};

class FreightCostView final : public ShipmentView {
 public:
  explicit FreightCostView(std::string shipment_id) : header_(std::move(shipment_id)) {}

  ViewKind kind() const override { return ViewKind::kFreightCost; }
  bool Apply(const Event& event) override;
  bool TakeStateChanged() override { return header_.TakeStateChanged(); }
  void AppendJson(std::string* out) const override;
  void AppendFieldsJson(std::string* out) const override;
  void Encode(std::string* out) const override;
  std::uint64_t version() const override { return header_.version(); }
  std::uint64_t last_seq() const override { return header_.last_seq(); }
  const std::string& shipment_id() const override { return header_.shipment_id(); }
  const std::optional<std::string>& customer_id() const override { return header_.customer_id(); }

  // Restores a view written by Encode; Corruption naming the freight_cost view on bad bytes.
  static Result<std::unique_ptr<FreightCostView>> Decode(std::string_view bytes);

  const ViewHeader& header() const { return header_; }
  FreightSummary Summarize() const;

  bool operator==(const FreightCostView& o) const {
    return header_ == o.header_ && quote_ == o.quote_ && docs_ == o.docs_;
  }

 private:
  // Folds a charges event; true when the rendered figures changed.
  bool FoldCharges(const Event& e);

  ViewHeader header_;
  std::optional<ChargeDoc> quote_;
  std::vector<ChargeDoc> docs_;  // invoiced and posted; sorted by (basis, has_document, key)
};

}  // namespace waybill::projections
