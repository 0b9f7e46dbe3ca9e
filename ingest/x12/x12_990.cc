// 990 Response to a Load Tender.
//
//   B1  01 SCAC (carrier), 02 shipment id, 03 date, 04 reservation action: A = accepted
//       (TENDER_ACCEPTED), D = declined (TENDER_DECLINED); any other value rejects the set
//   N9 / L11  references
// Event time: B103 date with the GS time of day, in the envelope zone (the GS date and time
// when B103 is absent).
#include <cstddef>
#include <string>
#include <vector>

#include "ingest/x12/x12_sets.h"

namespace waybill::ingest::x12 {

void Map990(const SetEnv& env, SetReader& r, std::vector<MappedEvent>* out) {
  constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::size_t b1 = kNone;
  std::vector<Reference> refs;
  for (std::size_t i = r.begin(); i < r.end(); ++i) {
    const std::string_view id = r.Id(i);
    if (id == "B1") {
      if (b1 != kNone) {
        r.Error(i, 0, "B1 appears more than once");
      } else {
        b1 = i;
      }
    } else if (id == "N9") {
      ReadN9(r, i, &refs);
    } else if (id == "L11") {
      ReadL11(r, i, &refs);
    }
  }
  if (b1 == kNone) {
    r.MissingSegment("B1", "beginning segment for booking or pick-up/delivery");
    return;
  }
  const std::string_view scac = r.Text(b1, 1, 2, 4, true, "SCAC");
  const std::string_view shipment = r.Text(b1, 2, 1, 30, true, "shipment identification number");
  const auto date = r.Date(b1, 3, false, "date");
  const std::string_view action = r.Text(b1, 4, 1, 1, true, "reservation action code");
  std::optional<ShipmentStatus> status;
  if (action == "A") {
    status = ShipmentStatus::kTenderAccepted;
  } else if (action == "D") {
    status = ShipmentStatus::kTenderDeclined;
  } else if (!action.empty()) {
    r.Error(b1, 4, Quote(action) + " is not a tender response (A = accepted, D = declined)");
  }
  ParsedTime when = env.gs_time;
  if (date) {
    const auto t = ResolveTime(env, r, b1, 3, 0, *date, env.gs_clock, {});
    if (!t) return;
    when = *t;
  } else if (!r.Get(b1, 3).empty()) {
    return;  // invalid date, already reported
  }
  if (!status) return;
  Event e = NewEvent(env, EventKind::kMilestone, SourceSystem::kCarrier);
  e.shipment_id = std::string(shipment);
  e.carrier = std::string(scac);
  e.references = std::move(refs);
  e.status = status;
  e.source_code = std::string(action);
  e.occurred_at = when.utc;
  e.occurred_offset_minutes = when.offset_minutes;
  out->push_back(MappedEvent{std::move(e), b1});
}

}  // namespace waybill::ingest::x12
