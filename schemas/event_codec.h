// Binary encoding of an event's content, with cereal.
//
// The content is everything a source determines: all of Event except `ledger` (sequence,
// recorded time and hashes, which the ledger stores in its own fixed header; see
// ledger/record_format.h). The bytes are what the hash chain covers, so an encoding, once
// written, is never re-encoded: readers decode it, verifiers hash it as stored.
//
// Format: cereal BinaryArchive (little-endian, as every machine Waybill runs on), each class
// carrying its cereal class version. A newer Waybill reads every older version: new fields
// are added at the end of a class's serialize() under `if (version >= N)`, and the class
// version bumps. Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "schemas/event.h"
#include "schemas/result.h"

namespace waybill {

// Encodes every field of `event` except `event.ledger`.
std::string EncodeEventContent(const Event& event);
void EncodeEventContent(const Event& event, std::string* out);

// Decodes bytes written by EncodeEventContent (any version) into `event`, leaving
// `event->ledger` untouched. Returns Corruption when the bytes are truncated or malformed.
[[nodiscard]] Status DecodeEventContent(std::string_view bytes, Event* event);

}  // namespace waybill
