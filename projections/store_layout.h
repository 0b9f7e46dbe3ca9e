// Projections' layout inside the ledger's `views` and `outbox` column families.
//
//   views   "v" | view:u8 | generation:u32be | shipment_id  -> ShipmentView::Encode()
//           "g" | view:u8                                    -> active generation:u32be
//                                        (absent: generation 0)
//           "c"                                              -> checkpoint record
//           "p"                                              -> outbox publisher cursor
//           "e"                                              -> event-feed publisher cursor
//           "n" | 'o' or 'e'                                 -> publisher health (publisher.cc)
//           "r" | 32 bytes     reserved: the HTTP API's Idempotency-Key answers
//                              (server/api/idempotency_store.h); projections never touch it
//           "l" ...            reserved: the HTTP API's shipment list index
//                              (server/api/shipment_index_layout.h); likewise
//   outbox  outbox_seq:u64be                                 -> outbox entry (outbox.h)
//
// Checkpoint record: version:u8 (=2) | last_seq:u64be | next_outbox_seq:u64be |
// views_through:u64be. last_seq is the last ledger sequence folded, written in the same
// batch as the outbox entries its events produced, so a restart emits nothing twice and
// skips nothing. Views are written behind (every second or so, not with every batch):
// views_through <= last_seq is the last sequence every stored view holds (a view may hold
// more). Readers fold a shipment's events after views_through on top of the stored views; a
// restarted worker refolds (views_through, last_seq] without emitting outbox entries again.
// Version 1 records (17 bytes, written before views were written behind) read as
// views_through = last_seq.
// Cursor records: last published position:u64be (outbox seq, or ledger seq for the feed).
//
// A rebuild folds into the next generation of a view (a shadow nobody reads), then in one
// batch points "g" at it and deletes the old generation's range: readers see the old views
// or the new ones, never a mix.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "projections/views.h"
#include "schemas/result.h"

namespace waybill::projections {

std::string ViewKey(ViewKind view, std::uint32_t generation, std::string_view shipment_id);
// [begin, end) of every key of one generation of a view.
std::string ViewGenerationBegin(ViewKind view, std::uint32_t generation);
std::string ViewGenerationEnd(ViewKind view, std::uint32_t generation);
// The shipment id inside a ViewKey.
std::string_view ShipmentOfViewKey(std::string_view key);
std::string ActiveGenerationKey(ViewKind view);

inline constexpr std::string_view kCheckpointKey = "c";
inline constexpr std::string_view kOutboxCursorKey = "p";
inline constexpr std::string_view kEventFeedCursorKey = "e";
inline constexpr std::string_view kPublisherStateKey = "n";

struct Checkpoint {
  std::uint64_t last_seq = 0;         // last ledger sequence folded (outbox entries emitted)
  std::uint64_t next_outbox_seq = 1;  // next outbox entry's key
  std::uint64_t views_through = 0;    // every stored view holds the events up to here
  bool operator==(const Checkpoint&) const = default;
};
std::string EncodeCheckpoint(const Checkpoint& c);
[[nodiscard]] Result<Checkpoint> DecodeCheckpoint(std::string_view bytes);

std::string EncodeU64(std::uint64_t v);
std::string EncodeU32(std::uint32_t v);
[[nodiscard]] Result<std::uint64_t> DecodeU64(std::string_view bytes, std::string_view what);
[[nodiscard]] Result<std::uint32_t> DecodeU32(std::string_view bytes, std::string_view what);

}  // namespace waybill::projections
