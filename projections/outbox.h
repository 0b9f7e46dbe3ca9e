// Outbox entries and the NATS subjects views and events are published on.
//
// Outbox entry (value in the outbox family, key = outbox seq:u64be):
//   version:u8 (=1) | varint len | subject | varint len | msg_id | payload (rest)
// Subjects (DESIGN.md "NATS subjects"):
//   waybill.views.<view>.<customer>.<shipment>   customer "_" while unknown
//   waybill.events.<kind>.<shipment>
// Ids are escaped into single tokens by EscapeSubjectToken.
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "projections/views.h"
#include "schemas/event.h"
#include "schemas/result.h"

namespace waybill::projections {

// One message to publish: subject, payload and the Nats-Msg-Id JetStream dedupes on.
struct OutMessage {
  std::string subject;
  std::string msg_id;
  std::string payload;
  bool operator==(const OutMessage&) const = default;
};

std::string EncodeOutboxEntry(const OutMessage& m);
[[nodiscard]] Result<OutMessage> DecodeOutboxEntry(std::string_view bytes);

// Makes `id` one NATS subject token: bytes outside [A-Za-z0-9_-] (including '.', '*', '>',
// spaces, '%' and non-ASCII) become %XX (upper-case hex); a token that would be exactly "_"
// becomes "%5F" so it never reads as the unknown-customer placeholder. Reversible.
std::string EscapeSubjectToken(std::string_view id);
// The inverse; nullopt when `token` is not a well-formed escape.
std::optional<std::string> UnescapeSubjectToken(std::string_view token);

std::string ViewSubject(ViewKind view, const std::optional<std::string>& customer_id,
                        std::string_view shipment_id);
// "status:SHIP-1:7": view, shipment and version (the view name never contains ':' and the
// version is the last field, so it parses unambiguously).
std::string ViewMsgId(ViewKind view, std::string_view shipment_id, std::uint64_t version);
std::string EventSubject(const Event& event);

// The view update message for `view` at its current version.
OutMessage ViewMessage(const ShipmentView& view);
// The canonical event feed message (payload: the event's canonical JSON, msg id: event_id).
OutMessage EventMessage(const Event& event);

}  // namespace waybill::projections
