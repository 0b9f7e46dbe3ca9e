// The ledger's RocksDB layout: column families, key encodings and value formats.
//
// One RocksDB database per ledger (one partition). Column families and their records:
//
//   events        key   := seq:u64be
//                 value := event record, see record_format.h
//   raw           key   := sha256(raw message bytes):32
//                 value := raw record (cereal: format, partner, received_at, bytes)
//                 Written often, read rarely (audits): a vector memtable makes inserts O(1)
//                 and sorts once at flush.
//   idempotency   key   := fnv1a64(event_id):u64be | event_id
//                 value := seq:u64be            (the sequence the id was first stored at)
//                 The 8-byte hash prefix spreads keys over a hash-skiplist memtable
//                 (prefix extractor = first 8 bytes); the full id follows so lookups are
//                 exact, never probabilistic.
//   shipments     key   := fnv1a64(shipment_id):u64be | shipment_id | 0x00 | seq:u64be
//                 value := empty
//                 The hash prefix buckets a shipment's entries in a hash-skiplist memtable
//                 (random shipment ids would otherwise be random skiplist inserts); shipment
//                 ids never contain control characters (ValidateEvent), so the 0x00
//                 separator keeps one shipment's entries together, in sequence order.
//   dead_letters  key   := dead_letter_id:u64be
//                 value := dead-letter record (cereal, see dead_letter.h)
//   views         reserved for projections (projections/ owns the layout)
//   outbox        reserved for the publisher (projections/ owns the layout)
//   meta          (RocksDB's default family)
//                 "format_version" -> decimal ASCII of kFormatVersion
//                 "head"           -> seq:u64be | hash:32 | recorded_at:i64be
//                 "next_dead_letter_id" -> u64be
//
// Every write of events, their index entries, raw messages, dead letters and the head goes
// in one WriteBatch, so the families are always mutually consistent after a crash.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace waybill::ledger {

// Bump when the layout or a record format changes incompatibly; a binary refuses a newer one
// and reads every older one (docs/ledger.md, "Format version"). A read-write open of an
// older data dir stamps this version, since what the binary then writes may need it.
//   1  the first format
//   2  outbox entries may be view references (projections/outbox.h, entry version 2)
inline constexpr std::uint32_t kFormatVersion = 2;

inline constexpr const char* kCfEvents = "events";
inline constexpr const char* kCfRaw = "raw";
inline constexpr const char* kCfIdempotency = "idempotency";
inline constexpr const char* kCfShipments = "shipments";
inline constexpr const char* kCfDeadLetters = "dead_letters";
inline constexpr const char* kCfViews = "views";
inline constexpr const char* kCfOutbox = "outbox";

inline constexpr std::string_view kMetaFormatVersion = "format_version";
inline constexpr std::string_view kMetaHead = "head";
inline constexpr std::string_view kMetaNextDeadLetterId = "next_dead_letter_id";

// Big-endian fixed-width integers, so that keys sort by number. Get* read exactly 4 or 8
// bytes at `p`; the caller checks the length.
void PutU32BE(std::uint32_t v, std::string* out);
std::uint32_t GetU32BE(const char* p);
void PutU64BE(std::uint64_t v, std::string* out);
std::uint64_t GetU64BE(const char* p);
void PutI64BE(std::int64_t v, std::string* out);
std::int64_t GetI64BE(const char* p);

std::string SeqKey(std::uint64_t seq);
// FNV-1a, 64-bit. Persisted as part of keys: never change it.
std::uint64_t Fnv1a64(std::string_view bytes);
std::string IdempotencyKey(std::string_view event_id);
void AppendIdempotencyKey(std::string_view event_id, std::string* out);
std::string ShipmentKey(std::string_view shipment_id, std::uint64_t seq);
// The prefix every ShipmentKey of `shipment_id` starts with (hash | shipment_id | 0x00).
std::string ShipmentPrefix(std::string_view shipment_id);

}  // namespace waybill::ledger
