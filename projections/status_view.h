// The status view: current canonical status, delay reason, carrier exceptions and the
// history of status-bearing milestones of one shipment.
//
// State is the full, event-time-sorted list of actual (non-estimate) status-bearing events
// and of exceptions; the status is recomputed from that list when rendered, so a late event
// lands in its place and arrival order does not matter. Rules (docs/views.md):
//   status: the latest actual status-bearing event by occurred_at (ties: later seq), except
//     that DELAYED stays until a later movement event (AT_PICKUP, PICKED_UP, IN_TRANSIT,
//     AT_DELIVERY, DELIVERED), a later CANCELLED or a later DELAYED (which replaces it).
//   exceptions: see projections/exception_codes.h.
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

// The location fields a view shows (coordinates are left out).
struct ViewLocation {
  std::optional<std::string> name;
  std::optional<std::string> city;
  std::optional<std::string> region;
  std::optional<std::string> country;
  std::optional<std::string> unlocode;
  bool operator==(const ViewLocation&) const = default;
};

struct MilestoneEntry {
  ShipmentStatus status = ShipmentStatus::kOrderReleased;
  UnixNanos at = 0;  // occurred_at
  std::uint64_t seq = 0;
  std::string format;
  std::optional<std::string> source_code;
  std::optional<std::string> reason_code;
  std::optional<ViewLocation> location;
  std::string event_id;
  bool operator==(const MilestoneEntry&) const = default;
};

struct ExceptionEntry {
  std::optional<std::string> code;  // source_code
  UnixNanos at = 0;
  std::uint64_t seq = 0;
  std::optional<std::string> reason;  // reason_code
  std::string format;
  bool operator==(const ExceptionEntry&) const = default;
};

// AT_PICKUP, PICKED_UP, IN_TRANSIT, AT_DELIVERY, DELIVERED: the statuses that end a delay.
bool IsMovement(ShipmentStatus s);

class StatusView final : public ShipmentView {
 public:
  explicit StatusView(std::string shipment_id) : header_(std::move(shipment_id)) {}

  ViewKind kind() const override { return ViewKind::kStatus; }
  bool Apply(const Event& event) override;
  bool TakeStateChanged() override { return header_.TakeStateChanged(); }
  void AppendJson(std::string* out) const override;
  void AppendFieldsJson(std::string* out) const override;
  void Encode(std::string* out) const override;
  std::uint64_t version() const override { return header_.version(); }
  std::uint64_t last_seq() const override { return header_.last_seq(); }
  const std::string& shipment_id() const override { return header_.shipment_id(); }
  const std::optional<std::string>& customer_id() const override { return header_.customer_id(); }

  // Restores a view written by Encode; Corruption naming the status view on bad bytes.
  static Result<std::unique_ptr<StatusView>> Decode(std::string_view bytes);

  const ViewHeader& header() const { return header_; }
  // The milestone that sets the current status, or null when there is none.
  const MilestoneEntry* current() const;
  const std::vector<MilestoneEntry>& milestones() const { return milestones_; }
  const std::vector<ExceptionEntry>& exceptions() const { return exceptions_; }

  bool operator==(const StatusView& o) const {
    return header_ == o.header_ && milestones_ == o.milestones_ && exceptions_ == o.exceptions_;
  }

 private:
  ViewHeader header_;
  std::vector<MilestoneEntry> milestones_;  // sorted by (at, seq)
  std::vector<ExceptionEntry> exceptions_;  // sorted by (at, seq)
};

}  // namespace waybill::projections
