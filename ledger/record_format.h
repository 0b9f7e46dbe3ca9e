// The event record stored in the `events` column family, and the hash chain over it.
//
//   record  := version:u8 (=1) | seq:u64be | recorded_at:i64be | prev_hash:32 | hash:32
//              | content
//   content := EncodeEventContent(event)   (cereal, schemas/event_codec.h)
//
//   hash    := SHA-256( version:u8 | seq:u64be | recorded_at:i64be | prev_hash:32
//                       | SHA-256(content):32 )
//
// The header is fixed-size (81 bytes) so readers and verifiers reach it without decoding.
// The chain hash covers the ledger-assigned fields and a digest of the content bytes exactly
// as stored; verification never re-encodes an event, so adding fields to the content in a
// later version cannot break the chain of old events. The content digest is computed by the
// producer thread (PrepareEvent), which keeps the single writer's per-event work to one
// 113-byte SHA-256. The first event's prev_hash is 32 zero bytes (the genesis hash).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "schemas/event.h"
#include "schemas/result.h"

namespace waybill::ledger {

inline constexpr std::uint8_t kRecordVersion = 1;
inline constexpr std::size_t kRecordHeaderSize = 1 + 8 + 8 + 32 + 32;

struct RecordHeader {
  std::uint8_t version = kRecordVersion;
  std::uint64_t seq = 0;
  UnixNanos recorded_at = 0;
  Sha256 prev_hash{};
  Sha256 hash{};
};

// The chain hash of an event from its header fields and its content digest.
Sha256 ChainHash(std::uint64_t seq, UnixNanos recorded_at, const Sha256& prev_hash,
                 const Sha256& content_digest);

// Appends header and content to `out`.
void EncodeRecord(const RecordHeader& header, std::string_view content, std::string* out);

// Splits a stored record; `content` points into `record`. Corruption when too short or of
// an unknown version.
[[nodiscard]] Status DecodeRecordHeader(std::string_view record, RecordHeader* header,
                                        std::string_view* content);

// Decodes a whole record into an Event (content plus ledger fields).
[[nodiscard]] Status DecodeRecord(std::string_view record, Event* event);

}  // namespace waybill::ledger
