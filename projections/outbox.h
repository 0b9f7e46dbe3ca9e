// Outbox entries and the NATS subjects views and events are published on.
//
// Outbox entry (value in the outbox family, key = outbox seq:u64be), one of:
//   version:u8 (=1) | varint len | subject | varint len | msg_id | payload (rest)
//       a whole message: what Republish queues (and every entry before view references)
//   version:u8 (=2) | view:u8 | seq:u64be | view version:u64be | shipment_id (rest)
//       a view update by reference: the view of shipment_id as it stood after ledger
//       sequence `seq`, when it reached `view version`. The worker queues these, ~40 bytes
//       instead of a rendered view (~3 KiB), so an outbox that grows through a NATS outage
//       grows 50x slower; the publisher renders them (outbox_resolver.h).
// Subjects (DESIGN.md "NATS subjects"):
//   waybill.views.<view>.<customer>.<shipment>   customer "_" while unknown
//   waybill.events.<kind>.<shipment>
// Ids are escaped into single tokens by EscapeSubjectToken.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

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

// A view update queued by reference (entry version 2).
struct OutboxViewRef {
  ViewKind view = ViewKind::kStatus;
  std::uint64_t seq = 0;      // the ledger sequence of the event that made this version
  std::uint64_t version = 0;  // the view's version after it
  std::string shipment_id;
  bool operator==(const OutboxViewRef&) const = default;
};

using OutboxEntry = std::variant<OutMessage, OutboxViewRef>;

std::string EncodeOutboxEntry(const OutMessage& m);
std::string EncodeOutboxEntry(const OutboxViewRef& ref);
// Corruption naming what is wrong when `bytes` is not an entry of a known version.
[[nodiscard]] Result<OutboxEntry> DecodeOutboxEntry(std::string_view bytes);

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
