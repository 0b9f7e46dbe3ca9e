// The ETA view: latest estimate, promised date or window, lateness, actual delivery.
//
// Every rendered value is a maximum over a total order of the events that can supply it
// (estimate: issued_at then seq; delivery: occurred_at then seq; promise: source authority,
// occurred_at, seq), so the state is just the current winner of each and arrival order does
// not matter. Rules and JSON shape: docs/views.md.
// Thread-safety: a plain value; one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "projections/view_header.h"
#include "projections/views.h"

namespace waybill::projections {

struct EtaEstimate {
  UnixNanos estimated_at = 0;
  UnixNanos issued_at = 0;
  std::uint64_t seq = 0;
  std::string format;
  bool operator==(const EtaEstimate&) const = default;
};

struct EtaDelivered {
  UnixNanos at = 0;  // occurred_at of the DELIVERED milestone
  std::uint64_t seq = 0;
  std::string format;
  bool operator==(const EtaDelivered&) const = default;
};

struct EtaPromise {
  std::uint8_t rank = 0;  // OrderAuthority of the order event's source system
  UnixNanos at = 0;       // occurred_at of the order event
  std::uint64_t seq = 0;
  std::int32_t offset_minutes = 0;  // the order event's UTC offset: the customer's calendar
  std::optional<std::string> date;
  std::optional<UnixNanos> window_start;
  std::optional<UnixNanos> window_end;
  bool operator==(const EtaPromise&) const = default;
};

// The promise's deadline: window_end, else window_start, else the end of `date` (00:00 of
// the next day) at `offset_minutes`; nullopt when there is none or the date does not parse.
// 128-bit: a valid date far from 1970 is outside the UnixNanos span.
std::optional<__int128> PromiseDeadline(const EtaPromise& p);

class EtaView final : public ShipmentView {
 public:
  explicit EtaView(std::string shipment_id) : header_(std::move(shipment_id)) {}

  ViewKind kind() const override { return ViewKind::kEta; }
  bool Apply(const Event& event) override;
  bool TakeStateChanged() override { return header_.TakeStateChanged(); }
  void AppendJson(std::string* out) const override;
  void AppendFieldsJson(std::string* out) const override;
  void Encode(std::string* out) const override;
  std::uint64_t version() const override { return header_.version(); }
  std::uint64_t last_seq() const override { return header_.last_seq(); }
  const std::string& shipment_id() const override { return header_.shipment_id(); }
  const std::optional<std::string>& customer_id() const override { return header_.customer_id(); }

  // Restores a view written by Encode; Corruption naming the eta view on bad bytes.
  static Result<std::unique_ptr<EtaView>> Decode(std::string_view bytes);

  const ViewHeader& header() const { return header_; }
  // The shown ETA: the delivery time once delivered, else the latest estimate.
  std::optional<UnixNanos> eta() const;

  bool operator==(const EtaView& o) const {
    return header_ == o.header_ && estimate_ == o.estimate_ && delivered_ == o.delivered_ &&
           promise_ == o.promise_;
  }

 private:
  bool FoldEstimate(const Event& e);
  bool FoldDelivered(const Event& e);
  bool FoldPromise(const Event& e);

  ViewHeader header_;
  std::optional<EtaEstimate> estimate_;
  std::optional<EtaDelivered> delivered_;
  std::optional<EtaPromise> promise_;
};

}  // namespace waybill::projections
