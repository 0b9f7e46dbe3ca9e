#include "schemas/event.h"

#include <algorithm>
#include <utility>

namespace waybill {
namespace {

template <typename E, std::size_t N>
std::optional<E> Lookup(const std::pair<E, std::string_view> (&table)[N], std::string_view s) {
  for (const auto& [value, name] : table) {
    if (name == s) return value;
  }
  return std::nullopt;
}

template <typename E, std::size_t N>
std::string_view Name(const std::pair<E, std::string_view> (&table)[N], E v) {
  for (const auto& [value, name] : table) {
    if (value == v) return name;
  }
  return "unknown";
}

constexpr std::pair<EventKind, std::string_view> kKinds[] = {
    {EventKind::kMilestone, "milestone"}, {EventKind::kEstimate, "estimate"},
    {EventKind::kCharges, "charges"},     {EventKind::kOrder, "order"},
    {EventKind::kDocument, "document"},
};
constexpr std::pair<ShipmentStatus, std::string_view> kStatuses[] = {
    {ShipmentStatus::kOrderReleased, "ORDER_RELEASED"},
    {ShipmentStatus::kTendered, "TENDERED"},
    {ShipmentStatus::kTenderAccepted, "TENDER_ACCEPTED"},
    {ShipmentStatus::kTenderDeclined, "TENDER_DECLINED"},
    {ShipmentStatus::kAtPickup, "AT_PICKUP"},
    {ShipmentStatus::kPickedUp, "PICKED_UP"},
    {ShipmentStatus::kInTransit, "IN_TRANSIT"},
    {ShipmentStatus::kDelayed, "DELAYED"},
    {ShipmentStatus::kAtDelivery, "AT_DELIVERY"},
    {ShipmentStatus::kDelivered, "DELIVERED"},
    {ShipmentStatus::kCancelled, "CANCELLED"},
};
constexpr std::pair<SourceSystem, std::string_view> kSystems[] = {
    {SourceSystem::kErp, "erp"},
    {SourceSystem::kTms, "tms"},
    {SourceSystem::kCarrier, "carrier"},
    {SourceSystem::kOps, "ops"},
};
constexpr std::pair<ChargeBasis, std::string_view> kBases[] = {
    {ChargeBasis::kQuoted, "quoted"},
    {ChargeBasis::kInvoiced, "invoiced"},
    {ChargeBasis::kPosted, "posted"},
};
constexpr std::pair<EstimateOf, std::string_view> kEstimateOf[] = {
    {EstimateOf::kDelivery, "delivery"},
    {EstimateOf::kArrival, "arrival"},
    {EstimateOf::kPickup, "pickup"},
    {EstimateOf::kDeparture, "departure"},
};

}  // namespace

std::string_view ToString(EventKind v) { return Name(kKinds, v); }
std::string_view ToString(ShipmentStatus v) { return Name(kStatuses, v); }
std::string_view ToString(SourceSystem v) { return Name(kSystems, v); }
std::string_view ToString(ChargeBasis v) { return Name(kBases, v); }
std::string_view ToString(EstimateOf v) { return Name(kEstimateOf, v); }
std::optional<EventKind> ParseEventKind(std::string_view s) { return Lookup(kKinds, s); }
std::optional<ShipmentStatus> ParseShipmentStatus(std::string_view s) {
  return Lookup(kStatuses, s);
}
std::optional<SourceSystem> ParseSourceSystem(std::string_view s) { return Lookup(kSystems, s); }
std::optional<ChargeBasis> ParseChargeBasis(std::string_view s) { return Lookup(kBases, s); }
std::optional<EstimateOf> ParseEstimateOf(std::string_view s) { return Lookup(kEstimateOf, s); }

std::string ToHex(const Sha256& digest) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(digest.size() * 2, '0');
  for (std::size_t i = 0; i < digest.size(); ++i) {
    out[2 * i] = kDigits[digest[i] >> 4];
    out[2 * i + 1] = kDigits[digest[i] & 0xf];
  }
  return out;
}

std::optional<Sha256> ParseSha256Hex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Sha256 out{};
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = nibble(hex[2 * i]);
    int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return out;
}

bool IsZero(const Sha256& digest) {
  return std::all_of(digest.begin(), digest.end(), [](std::uint8_t b) { return b == 0; });
}

}  // namespace waybill
