// `waybill import --format x12`: ASC X12 004010 transportation sets (204 load tender, 990
// response to a load tender, 214 shipment status, 210 freight invoice).
//
// A document holds one or more interchanges (ISA..IEA), each declaring its own separators
// (element separator = the byte after "ISA", component separator = ISA16, segment
// terminator = the byte after ISA16; line breaks around segments are ignored). Each
// transaction set is one message: position "ISA <ISA13>/GS <GS06>/ST <ST02>", unit the
// whole interchange text. Control numbers and counts are checked (x12_envelope.h): a broken
// set is rejected alone; a broken group or interchange rejects every set in it, each as its
// own message. Bytes outside any interchange become a rejected message of their own.
// Each rejected message keeps the whole interchange; when the copies would exceed 64 MiB
// (many broken sets in a large interchange), the interchange's rejected messages are sent
// as one rejected message instead, at position "ISA <ISA13>", its errors naming each set.
//
// The partner is ctx.partner, else the ISA06 sender id, else GS02; its profile (found by
// that id, else by ISA06 or GS02) gives the LT zone, the envelope zone and the default
// currency. Event ids are derived from content (DeriveEventId), so a status re-sent in a
// new interchange is a duplicate. Set semantics: x12_214.cc, x12_204.cc, x12_990.cc,
// x12_210.cc; mapping tables in schemas/mappings/x12-*.json. Documented in docs/ingest.md.
#pragma once

#include <memory>

#include "ingest/adapter.h"

namespace waybill::ingest {

std::unique_ptr<Adapter> MakeX12Adapter();

}  // namespace waybill::ingest
