// Binary encoding of an event's content, with cereal.
//
// The content is everything a source determines: all of Event except `ledger` (sequence,
// recorded time and hashes, which the ledger stores in its own fixed header; see
// ledger/record_format.h). The bytes are what the hash chain covers, so an encoding, once
// written, is never re-encoded: readers decode it, verifiers hash it as stored.
//
// Format: cereal with Waybill's compact archive (schemas/content_archive.h): a leading
// varint content version, then the fields in serialize() order. A newer Waybill reads every
// older version: new fields are appended under `if (ar.version() >= N)` and
// kEventContentVersion bumps. Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "schemas/event.h"
#include "schemas/result.h"

namespace waybill {

// Version of the content encoding written today.
inline constexpr std::uint32_t kEventContentVersion = 1;

// Encodes every field of `event` except `event.ledger`.
std::string EncodeEventContent(const Event& event);
void EncodeEventContent(const Event& event, std::string* out);

// Decodes bytes written by EncodeEventContent (any version) into `event`, leaving
// `event->ledger` untouched. Returns Corruption when the bytes are truncated or malformed.
[[nodiscard]] Status DecodeEventContent(std::string_view bytes, Event* event);

}  // namespace waybill
