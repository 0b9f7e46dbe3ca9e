// Source-format adapters: one per inbound format, each turning a document (a file's
// contents, an HTTP body, a NATS message) into canonical events.
//
// An adapter only maps; it never touches the ledger. The importer (document_import.h) keeps
// the raw bytes, fills each event's raw_hash, appends the events and turns rejected messages
// into dead letters. Adapters are registered by name (adapter_registry.h).
//
// Thread-safety: an Adapter instance is used by one thread at a time (it may keep parser
// buffers); make one per thread.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/partner_profiles.h"
#include "schemas/event.h"

namespace waybill::ingest {

struct AdapterContext {
  // The partner the delivery came from, when the channel says so (CLI --partner, the
  // Waybill-Partner NATS header, the HTTP principal). Adapters whose envelope names the
  // sender (X12 ISA06) use that when this is empty.
  std::optional<std::string> partner;
  // Reference data per trading partner (time zones, currencies). Never null.
  const PartnerProfiles* profiles = nullptr;
  // When Waybill received the document (UTC).
  UnixNanos received_at = 0;
};

// What an adapter made of one message inside a document: an X12 transaction set, one DCSA
// event, one EPCIS event, one ERP business event.
struct MappedMessage {
  // Where the message sits in the document, stable across re-runs of the same bytes so a
  // dead letter can be matched on retry: "ISA 000000905/GS 1/ST 0001", "$[2]",
  // "$.epcisBody.eventList[4]".
  std::string position;
  // The smallest self-contained piece of the document this message can be re-mapped from:
  // an X12 interchange (ISA..IEA), one JSON event object, or the whole document. A view
  // into the input, valid only during the Map call. It is what the ledger keeps as the
  // raw message of the events, and what a dead letter keeps for retry.
  std::string_view unit;
  // Valid canonical events (ValidateEvent passed; raw_hash and principal left unset).
  // Empty when the message is rejected.
  std::vector<Event> events;
  // Why the message was rejected, each naming the place (segment/element position for X12,
  // JSON path for JSON) and the reason. Non-empty means rejected: no event of it is stored.
  std::vector<std::string> errors;

  bool rejected() const { return !errors.empty(); }
};

using MessageSink = std::function<void(MappedMessage&&)>;

class Adapter {
 public:
  virtual ~Adapter() = default;

  // The format name used by `waybill import --format`, `waybill.ingest.<format>` and
  // `POST /v1/ingest/{format}`.
  virtual std::string_view format() const = 0;

  // Maps `document` and calls `sink` once per message found, in document order. Never
  // throws and never stops early: a malformed part becomes a rejected message, and the
  // parts after it are still mapped. A document that cannot be parsed at all yields one
  // rejected message whose unit is the whole document.
  virtual void Map(std::string_view document, const AdapterContext& ctx,
                   const MessageSink& sink) = 0;
};

}  // namespace waybill::ingest
