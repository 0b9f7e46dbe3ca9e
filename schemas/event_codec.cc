// cereal serialisation of the canonical event content (schemas/content_archive.h).
//
// Versioning rule: fields are only ever appended at the end of a serialize() function,
// inside `if (ar.version() >= N)`, and kEventContentVersion is bumped to N. Old bytes then
// load with the new fields left at their defaults. Never reorder, remove or change the type
// of a field that has shipped; schemas/event_codec_test.cc holds golden bytes of version 1
// that must keep decoding.
#include "schemas/event_codec.h"

#include <cereal/types/array.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/vector.hpp>

#include "schemas/content_archive.h"

namespace waybill {

template <class Archive>
void serialize(Archive& ar, Source& s) {
  ar(s.system, s.format, s.partner, s.principal);
}

template <class Archive>
void serialize(Archive& ar, Reference& r) {
  ar(r.type, r.value);
}

template <class Archive>
void serialize(Archive& ar, Location& l) {
  ar(l.name, l.city, l.region, l.country, l.unlocode, l.lat, l.lon);
}

template <class Archive>
void serialize(Archive& ar, Estimate& e) {
  ar(e.estimated_at, e.of, e.issued_at);
}

template <class Archive>
void serialize(Archive& ar, ChargeLine& c) {
  ar(c.code, c.description, c.amount, c.currency);
}

template <class Archive>
void serialize(Archive& ar, Charges& c) {
  ar(c.basis, c.document, c.currency, c.total, c.lines);
}

template <class Archive>
void serialize(Archive& ar, Promise& p) {
  ar(p.date, p.window_start, p.window_end);
}

template <class Archive>
void serialize(Archive& ar, OrderBody& o) {
  ar(o.ship_to, o.promised);
}

template <class Archive>
void serialize(Archive& ar, DocumentBody& d) {
  ar(d.type, d.number);
}

// The ledger fields are deliberately not serialised here: they live in the record header.
template <class Archive>
void serialize(Archive& ar, Event& e) {
  ar(e.event_id, e.kind, e.schema_version, e.occurred_at, e.occurred_offset_minutes, e.source,
     e.shipment_id, e.order_id, e.customer_id, e.carrier, e.references, e.correlation_id,
     e.raw_hash, e.status, e.source_code, e.reason_code, e.location, e.estimate, e.charges, e.order,
     e.document);
}

void EncodeEventContent(const Event& event, std::string* out) {
  ContentOutputArchive ar(out, kEventContentVersion);
  ar(event);
}

std::string EncodeEventContent(const Event& event) {
  std::string out;
  out.reserve(320);
  EncodeEventContent(event, &out);
  return out;
}

Status DecodeEventContent(std::string_view bytes, Event* event) {
  try {
    ContentInputArchive ar(bytes, kEventContentVersion);
    ar(*event);
    if (ar.remaining() != 0) {
      return Status::Corruption("event content has " + std::to_string(ar.remaining()) +
                                " unexpected trailing bytes");
    }
  } catch (const std::exception& e) {
    return Status::Corruption("event content does not decode (" + std::to_string(bytes.size()) +
                              " bytes): " + e.what());
  }
  return Status::Ok();
}

}  // namespace waybill
