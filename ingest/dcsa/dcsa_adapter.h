// `dcsa-tnt`: DCSA Track & Trace 2.2 events (the body of `GET /v2/events` or a subscription
// callback) mapped to canonical events.
//
// Input: one event object, or an array of event objects (what T&T 2.2 responses carry; the
// `{"events": [...]}` envelope is T&T 3.0 and is rejected with that reason). One message per
// event: position "$" (single object) or "$[i]"; its unit is the event object's original
// bytes. A document that is not JSON (or nests deeper than 64 levels) is one rejected message
// whose unit is the whole document.
//
// Mapping (tables in schemas/mappings/dcsa-tnt.json):
//  - shipment_id: references[referenceType=SI], else the TRD document reference, else the
//    BKG one. Document references come from documentReferences[] (`TRD` and
//    `TRD (Transport Document)` spellings alike, `BKG` and `BKG (Booking)`), from a SHIPMENT
//    event's documentTypeCode/documentID, and from top-level transportDocumentReference /
//    carrierBookingReference when present. None of them: rejected naming `$[i].references`.
//  - references: every references[] and documentReferences[] entry as {type, value}
//    (document reference types normalised to TRD/BKG), plus the SHIPMENT event's document
//    and {EQ, equipmentReference}; duplicates dropped, at most kMaxReferences.
//  - event_id = eventID (the source's id), else DeriveEventId. source: carrier / dcsa-tnt /
//    ctx.partner. carrier: transportCall.vessel.vesselOperatorCarrierCode when its list
//    provider is NMFTA (a SCAC) or not stated; SMDG codes are not SCACs and are not used.
//  - ACT events are milestones with source_code = the event type code (LOAD, DEPA, ...) and
//    the status of the first matching "actual" rule: EQUIPMENT LOAD/GTIN LADEN = PICKED_UP,
//    TRANSPORT DEPA = IN_TRANSIT, TRANSPORT ARRI at a transport call whose facilityTypeCode is
//    CLOC (customer location) = AT_DELIVERY. T&T 2.2 events carry no place of delivery, so a
//    customer-location call is the only final destination the payload can show; any other
//    ARRI (and every other code) keeps its source_code with no status.
//  - EST/PLN events are estimates: occurred_at = issued_at = eventCreatedDateTime (required),
//    estimated_at = eventDateTime, `of` from the "estimate" rules (ARRI arrival, DEPA
//    departure, equipment pickup/arrival/delivery); codes without a rule are rejected.
//  - SHIPMENT events (any classifier) are document events: document.type from
//    documentTypeCode (TRD = bill_of_lading, BKG = booking, ...; unknown codes kept as is),
//    number = documentID (else the TRD/BKG reference of that type); source_code =
//    shipmentEventTypeCode.
//  - occurred_at = eventDateTime in UTC; occurred_offset = the offset that text carried (for
//    estimates, the offset of eventCreatedDateTime). reason_code = delayReasonCode.
//  - location: eventLocation, else transportCall.location with transportCall.UNLocationCode:
//    locationName -> name, UNLocationCode -> unlocode, address.city / stateRegion -> city /
//    region, address.country when it is an ISO 3166 alpha-2 code, else the UN/LOCODE's
//    country; latitude/longitude (strings or numbers) -> lat/lon.
// Errors name the JSON path (`$[2].eventDateTime: ...`) and the reason; every error of an
// event is reported and an event with any error emits nothing.
//
// Thread-safety: one adapter per thread (it keeps parser buffers).
#pragma once

#include <memory>

#include "ingest/adapter.h"

namespace waybill::ingest {

inline constexpr std::string_view kDcsaTntFormat = "dcsa-tnt";

std::unique_ptr<Adapter> MakeDcsaTntAdapter();

}  // namespace waybill::ingest
