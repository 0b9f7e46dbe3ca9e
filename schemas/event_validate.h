// Validation shared by every adapter: the rules a canonical event must meet before the
// ledger accepts it, and the deterministic event id for sources without message ids.
#pragma once

#include <string>

#include "schemas/event.h"
#include "schemas/result.h"

namespace waybill {

// Limits on field sizes; longer values are rejected, not truncated.
inline constexpr std::size_t kMaxIdLength = 256;     // event_id, shipment_id, order_id, ...
inline constexpr std::size_t kMaxTextLength = 1024;  // names, descriptions
inline constexpr std::size_t kMaxReferences = 64;
inline constexpr std::size_t kMaxChargeLines = 256;

// Checks an event's content (not its ledger fields). The message names the JSON path of the
// first offending field and why (`shipment_id: must not be empty`). Rules: ids non-empty,
// at most kMaxIdLength bytes, no control characters; the body matching `kind` present and
// the others absent; a milestone has a status or a source code; currency codes known; each
// charge line's amount consistent with its currency; `total` equal to the sum of the lines
// in the charges currency (when there is at least one such line); times within the
// span a UnixNanos holds (1677-09-21 to 2262-04-11); correlation_id up to 2*kMaxIdLength+1
// bytes (it defaults to "<order_id>/<shipment_id>"); lat in [-90,90], lon in [-180,180].
[[nodiscard]] Status ValidateEvent(const Event& event);

// Deterministic id for sources without message ids: hex SHA-256 over format, partner,
// shipment, code (status or source code), UTC event time and location, so the same status
// re-sent in a new interchange is recognised as a duplicate. Prefixed "d:" so it cannot
// collide with a source's own ids.
std::string DeriveEventId(const Event& event);

// Fills correlation_id as "<order_id>/<shipment_id>" (or the shipment id alone) when absent.
void FillCorrelationId(Event* event);

}  // namespace waybill
