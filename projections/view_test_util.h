// Builders shared by the view fold tests. Header-only, tests only.
#pragma once

#include <string>

#include "projections/views.h"
#include "schemas/event.h"
#include "schemas/time.h"

namespace waybill::projections::testing {

// UTC nanoseconds of an RFC 3339 text the test knows to be valid.
inline UnixNanos T(const char* rfc3339) { return ParseRfc3339(rfc3339).value().utc; }

// An event of `kind` at `at` (its offset kept as the source's), from `system` in `format`.
inline Event TestEvent(std::string id, EventKind kind, const char* at, SourceSystem system,
                       std::string format, std::string shipment_id = "SH1") {
  Event e;
  e.event_id = std::move(id);
  e.kind = kind;
  const ParsedTime t = ParseRfc3339(at).value();
  e.occurred_at = t.utc;
  e.occurred_offset_minutes = t.offset_minutes;
  e.source.system = system;
  e.source.format = std::move(format);
  e.shipment_id = std::move(shipment_id);
  return e;
}

// Applies events with ledger fields assigned in arrival order, as the ledger does:
// seq 1, 2, 3, ... and recorded_at `recorded_step` ns apart.
struct Feed {
  std::uint64_t seq = 0;
  UnixNanos recorded_step = 1;
  bool operator()(ShipmentView& v, Event e) {
    e.ledger.seq = ++seq;
    e.ledger.recorded_at = T("2025-06-01T00:00:00Z") + static_cast<UnixNanos>(seq) * recorded_step;
    return v.Apply(e);
  }
};

inline std::string Json(const ShipmentView& v) {
  std::string out;
  v.AppendJson(&out);
  return out;
}

inline std::string Fields(const ShipmentView& v) {
  std::string out;
  v.AppendFieldsJson(&out);
  return out;
}

}  // namespace waybill::projections::testing
