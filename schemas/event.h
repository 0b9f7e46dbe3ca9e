// The canonical event: the one shape every source format is mapped to and the ledger stores.
//
// Field names follow the public JSON contract (schemas/event.schema.json). Times are UTC
// nanoseconds since the Unix epoch; money is integer minor units of an ISO 4217 currency.
// Optional values use std::optional; an empty std::string is never a value ("absent values
// are omitted, never empty strings"), so validation turns "" into an error or nullopt.
// Thread-safety: plain values.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace waybill {

// Nanoseconds since 1970-01-01T00:00:00Z.
using UnixNanos = std::int64_t;

// Current version of the canonical event contract; stored in every event.
inline constexpr std::uint32_t kSchemaVersion = 1;

enum class EventKind : std::uint8_t {
  kMilestone = 1,
  kEstimate = 2,
  kCharges = 3,
  kOrder = 4,
  kDocument = 5,
};

// Canonical statuses. Values are persisted: append new ones, never renumber or rename.
enum class ShipmentStatus : std::uint8_t {
  kOrderReleased = 1,
  kTendered = 2,
  kTenderAccepted = 3,
  kTenderDeclined = 4,
  kAtPickup = 5,
  kPickedUp = 6,
  kInTransit = 7,
  kDelayed = 8,
  kAtDelivery = 9,
  kDelivered = 10,
  kCancelled = 11,
};

enum class SourceSystem : std::uint8_t { kErp = 1, kTms = 2, kCarrier = 3, kOps = 4 };

enum class ChargeBasis : std::uint8_t { kQuoted = 1, kInvoiced = 2, kPosted = 3 };

// What an estimate is about.
enum class EstimateOf : std::uint8_t { kDelivery = 1, kArrival = 2, kPickup = 3, kDeparture = 4 };

// Wire names ("milestone", "IN_TRANSIT", "carrier", "invoiced", "delivery"). Parse functions
// return nullopt for an unknown name; they are case-sensitive, as the contract is.
std::string_view ToString(EventKind v);
std::string_view ToString(ShipmentStatus v);
std::string_view ToString(SourceSystem v);
std::string_view ToString(ChargeBasis v);
std::string_view ToString(EstimateOf v);
std::optional<EventKind> ParseEventKind(std::string_view s);
std::optional<ShipmentStatus> ParseShipmentStatus(std::string_view s);
std::optional<SourceSystem> ParseSourceSystem(std::string_view s);
std::optional<ChargeBasis> ParseChargeBasis(std::string_view s);
std::optional<EstimateOf> ParseEstimateOf(std::string_view s);

struct Source {
  SourceSystem system = SourceSystem::kOps;
  std::string format;                    // adapter name: "canonical", "x12", "dcsa-tnt", ...
  std::optional<std::string> partner;    // trading partner (SCAC, sender id)
  std::optional<std::string> principal;  // authenticated principal that appended it
  bool operator==(const Source&) const = default;
};

struct Reference {
  std::string type;  // "BM", "PO", "PRO", "SI", ...
  std::string value;
  bool operator==(const Reference&) const = default;
};

struct Location {
  std::optional<std::string> name;
  std::optional<std::string> city;
  std::optional<std::string> region;
  std::optional<std::string> country;   // ISO 3166-1 alpha-2
  std::optional<std::string> unlocode;  // UN/LOCODE, 5 characters
  std::optional<double> lat;            // WGS 84 degrees (coordinates, never money)
  std::optional<double> lon;
  bool operator==(const Location&) const = default;
};

struct Estimate {
  UnixNanos estimated_at = 0;
  EstimateOf of = EstimateOf::kDelivery;
  UnixNanos issued_at = 0;
  bool operator==(const Estimate&) const = default;
};

struct ChargeLine {
  std::string code;
  std::optional<std::string> description;
  std::int64_t amount = 0;  // minor units of `currency`
  std::string currency;     // ISO 4217
  bool operator==(const ChargeLine&) const = default;
};

struct Charges {
  ChargeBasis basis = ChargeBasis::kQuoted;
  std::optional<std::string> document;  // quote, invoice or posting document number
  std::string currency;                 // ISO 4217 of `total`
  // Minor units. Equals the sum of the lines in `currency` when there is at least one such
  // line; otherwise it is the source's own figure (and must be given).
  std::int64_t total = 0;
  std::vector<ChargeLine> lines;
  bool operator==(const Charges&) const = default;
};

// What the ERP promised for an order: a date (not an ETA) and/or a delivery window.
struct Promise {
  std::optional<std::string> date;  // YYYY-MM-DD, the customer's calendar date
  std::optional<UnixNanos> window_start;
  std::optional<UnixNanos> window_end;
  bool operator==(const Promise&) const = default;
};

// Order released: who ordered it and where it goes.
struct OrderBody {
  std::optional<Location> ship_to;
  std::optional<Promise> promised;
  bool operator==(const OrderBody&) const = default;
};

// A document issued for the shipment: bill of lading, proof of delivery, appointment, ...
struct DocumentBody {
  std::string type;                   // "bill_of_lading", "proof_of_delivery", "appointment", ...
  std::optional<std::string> number;  // the document's own number
  bool operator==(const DocumentBody&) const = default;
};

using Sha256 = std::array<std::uint8_t, 32>;

// Ledger-assigned fields: zero/empty until the ledger appends the event.
struct LedgerFields {
  std::uint64_t seq = 0;
  UnixNanos recorded_at = 0;
  Sha256 prev_hash{};
  Sha256 hash{};
  bool operator==(const LedgerFields&) const = default;
};

struct Event {
  // Identity and envelope (set by the source adapter).
  std::string event_id;
  EventKind kind = EventKind::kMilestone;
  std::uint32_t schema_version = kSchemaVersion;
  UnixNanos occurred_at = 0;
  std::int32_t occurred_offset_minutes = 0;  // the source's original UTC offset
  Source source;
  std::string shipment_id;
  std::optional<std::string> order_id;
  std::optional<std::string> customer_id;
  std::optional<std::string> carrier;  // SCAC
  std::vector<Reference> references;
  std::optional<std::string> correlation_id;
  Sha256 raw_hash{};  // SHA-256 of the raw message this event came from (all zero: none)

  // Milestone body (also carries a status on order/tender-like events).
  std::optional<ShipmentStatus> status;
  std::optional<std::string> source_code;
  std::optional<std::string> reason_code;
  std::optional<Location> location;

  // Kind-specific bodies; exactly the one matching `kind` is set (none for milestone).
  std::optional<Estimate> estimate;
  std::optional<Charges> charges;
  std::optional<OrderBody> order;
  std::optional<DocumentBody> document;

  LedgerFields ledger;

  bool operator==(const Event&) const = default;
};

// Lower-case hex of a digest, and back. ParseHex returns nullopt unless given 64 hex digits.
std::string ToHex(const Sha256& digest);
std::optional<Sha256> ParseSha256Hex(std::string_view hex);
bool IsZero(const Sha256& digest);

}  // namespace waybill
