// `epcis`: GS1 EPCIS 2.0 JSON / JSON-LD events mapped to canonical events.
//
// Input: an `EPCISDocument` (events in `epcisBody.eventList`), an `EPCISQueryDocument`
// (events in `epcisBody.queryResults.resultsBody.eventList`), or one event object
// (ObjectEvent, AggregationEvent, TransactionEvent, TransformationEvent, AssociationEvent).
// One message per event: position "$.epcisBody.eventList[i]" (or the query path, or "$" for a
// single event); its unit is the event object's original bytes. A document that is not JSON,
// nests deeper than 64 levels, or lacks the event list is one rejected message whose unit is
// the whole document.
//
// Mapping (tables in schemas/mappings/epcis-bizstep.json):
//  - shipment_id: the document number of the bizTransaction whose type is `desadv` (bare,
//    `urn:epcglobal:cbv:btt:desadv` or `https://ref.gs1.org/cbv/BTT-desadv`): the text after
//    the last ':' (for an http(s) URI, after the last '/'; a value with neither is taken
//    whole). No desadv, or two desadv naming different documents: rejected naming
//    `...bizTransactionList`.
//  - references: every other bizTransaction as {type, number} with the same number rule;
//    the type from the table (`po` -> PO, `inv` -> INV, ...), an unlisted type kept as its
//    short name, an untyped one as "BT".
//  - event_id = eventID (EPCIS 2.0 "ni:///sha-256;...?ver=CBV2.0" ids included), else
//    DeriveEventId. source: carrier / epcis / ctx.partner (EPCIS reaches us from carriers'
//    and 3PL warehouses' systems; the context carries no other system).
//  - occurred_at = eventTime in UTC, occurred_offset = the offset eventTime itself carries.
//    eventTimeZoneOffset is informational and never applied (it may even disagree).
//  - kind milestone, source_code = the bizStep's short name ("shipping"), status from the
//    table: shipping/departing IN_TRANSIT, arriving AT_DELIVERY, receiving/accepting
//    DELIVERED; other bizSteps keep their short name (a non-CBV URI is kept whole) with no
//    status. No bizStep: source_code = the event type ("ObjectEvent").
//  - location: bizLocation.id, else readPoint.id, as the location name (e.g.
//    "urn:epc:id:sgln:0614141.00777.0"); EPCIS carries no UN/LOCODE or address.
//  - An event with an errorDeclaration (a retraction of an earlier event) is rejected: the
//    ledger has no canonical retraction, so it goes to the dead letters for a person.
// Errors name the JSON path (`$.epcisBody.eventList[3].eventTime: ...`) and the reason; an
// event with any error emits nothing.
//
// Thread-safety: one adapter per thread (it keeps parser buffers).
#pragma once

#include <memory>

#include "ingest/adapter.h"

namespace waybill::ingest {

inline constexpr std::string_view kEpcisFormat = "epcis";

std::unique_ptr<Adapter> MakeEpcisAdapter();

}  // namespace waybill::ingest
