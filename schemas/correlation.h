// The correlation tag on every log line about a shipment: "order=SO-1 shipment=SHP-1"
// ("order=-" while the order is unknown), so one grep follows a shipment through ingest,
// projection and publishing. JSON-lines logs lift both into fields (server/logging.h).
// Thread-safety: pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace waybill {

inline std::string CorrelationTag(std::string_view order_id, std::string_view shipment_id) {
  std::string out = "order=";
  out.append(order_id.empty() ? std::string_view("-") : order_id);
  out.append(" shipment=");
  out.append(shipment_id);
  return out;
}

inline std::string CorrelationTag(const std::string& order_id, std::string_view shipment_id) {
  return CorrelationTag(std::string_view(order_id), shipment_id);
}

inline std::string CorrelationTag(const std::optional<std::string>& order_id,
                                  std::string_view shipment_id) {
  return CorrelationTag(order_id ? std::string_view(*order_id) : std::string_view(), shipment_id);
}

}  // namespace waybill
