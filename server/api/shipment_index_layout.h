// The HTTP list index's records inside the ledger's `views` family, under the "l" prefix
// (projections/store_layout.h reserves it; projections never touch it).
//
//   "l"                                              -> state (below)
//   "l" | gen:u32be | 'e' | shipment_id              -> row: the shipment's current entry
//   "l" | gen:u32be | 'o' | ~last_seq:u64be | id     -> row (every shipment, newest first)
//   "l" | gen:u32be | 'c' | len:u32be | customer | ~last_seq:u64be | id
//                                                    -> row (one customer's, newest first)
//
// State: version:u8 (=1) | generation:u32be | through_seq:u64be | entries:u64be. Only the
// generation it names is read; through_seq is the last ledger sequence whose view changes the
// index reflects; entries counts its 'e' rows.
// Row: last_seq:u64be | updated_at:i64be (ledger::PutI64BE) | customer | carrier | status,
// each of the last three as present:u8 | len:u32be | bytes.
//
// ~last_seq (all bits flipped) makes key order newest first, then by shipment id bytewise, so
// a page is one forward scan and a cursor is the key to resume after. A reload writes the
// next generation aside and, in one batch, points the state at it and deletes the old one.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "schemas/event.h"
#include "schemas/result.h"

namespace waybill::server::api {

// What the list filters and orders by, for one shipment.
struct ShipmentSummary {
  std::string shipment_id;
  std::optional<std::string> customer_id;
  std::optional<std::string> carrier;
  std::optional<std::string> status;
  std::uint64_t last_seq = 0;  // over the status and ETA views (see SummarizeViews)
  UnixNanos updated_at = 0;
};

struct IndexState {
  std::uint32_t generation = 0;  // 0: no index stored yet
  std::uint64_t through_seq = 0;
  std::uint64_t entries = 0;
};

inline constexpr std::string_view kIndexStateKey = "l";

std::string EncodeIndexState(const IndexState& state);
[[nodiscard]] Result<IndexState> DecodeIndexState(std::string_view bytes);

// [begin, end) of every row of one generation.
std::string IndexGenerationBegin(std::uint32_t generation);
std::string IndexGenerationEnd(std::uint32_t generation);

std::string EntryKey(std::uint32_t generation, std::string_view shipment_id);
std::string OrderKey(std::uint32_t generation, std::uint64_t last_seq,
                     std::string_view shipment_id);
// [begin, end) of the 'o' rows.
std::string OrderBegin(std::uint32_t generation);
std::string OrderEnd(std::uint32_t generation);

std::string CustomerKey(std::uint32_t generation, std::string_view customer, std::uint64_t last_seq,
                        std::string_view shipment_id);
// [begin, end) of one customer's 'c' rows.
std::string CustomerBegin(std::uint32_t generation, std::string_view customer);
std::string CustomerEnd(std::uint32_t generation, std::string_view customer);

// The shipment id at the end of an 'o' or 'c' key.
std::string_view ShipmentOfOrderedKey(std::string_view key);

// The row stored under all three keys; the decoded row's shipment_id is left empty.
std::string EncodeRow(const ShipmentSummary& summary);
[[nodiscard]] Result<ShipmentSummary> DecodeRow(std::string_view bytes);

}  // namespace waybill::server::api
