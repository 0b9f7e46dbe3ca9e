// 214 Transportation Carrier Shipment Status Message.
//
//   B10  01 carrier PRO (reference "PRO"), 02 shipment id (M), 03 SCAC (M; carrier and
//        reference "SCAC")
//   L11  references (01 value, 02 qualifier), in the heading for every event, in an LX loop
//        for that loop's events
//   LX   loop: AT7 (one event each) followed by its MS1 (location) and MS2 (equipment); an
//        AT7 without an MS1/MS2 of its own takes the first one of its LX loop
//   AT7  01 status code / 02 reason, or 03 appointment code / 04 reason (exactly one pair),
//        05 date, 06 time, 07 time code
#include <cstddef>
#include <string>
#include <vector>

#include "ingest/x12/x12_sets.h"

namespace waybill::ingest::x12 {
namespace {

constexpr std::size_t kNone = static_cast<std::size_t>(-1);

struct At7 {
  std::size_t seg = kNone;
  std::size_t ms1 = kNone;
  std::size_t ms2 = kNone;
};

struct Loop {
  std::vector<Reference> refs;
  std::size_t ms1 = kNone;  // first MS1/MS2 of the loop
  std::size_t ms2 = kNone;
  std::vector<At7> at7s;
};

std::optional<Location> ReadMs1(SetReader& r, std::size_t seg) {
  Location loc;
  const std::string_view city = r.Text(seg, 1, 2, 30, false, "city name");
  const std::string_view state = r.Text(seg, 2, 2, 2, false, "state or province code");
  std::string country = CountryAlpha2(r, seg, 3);
  if (!city.empty()) loc.city = std::string(city);
  if (!state.empty()) loc.region = std::string(state);
  if (!country.empty()) loc.country = std::move(country);
  if (loc == Location{}) return std::nullopt;
  return loc;
}

// "EQUIPMENT" reference: equipment initial (MS201) + number (MS202).
std::string ReadMs2(SetReader& r, std::size_t seg) {
  const std::string_view initial = r.Text(seg, 1, 2, 4, false, "equipment initial");
  const std::string_view number = r.Text(seg, 2, 1, 10, true, "equipment number");
  if (number.empty()) return {};
  return std::string(initial) + std::string(number);
}

}  // namespace

void Map214(const SetEnv& env, SetReader& r, std::vector<MappedEvent>* out) {
  std::size_t b10 = kNone;
  std::vector<Reference> header_refs;
  std::vector<Loop> loops;
  bool in_loop = false;
  for (std::size_t i = r.begin(); i < r.end(); ++i) {
    const std::string_view id = r.Id(i);
    if (id == "B10") {
      if (b10 != kNone) {
        r.Error(i, 0, "B10 appears more than once");
      } else {
        b10 = i;
      }
    } else if (id == "LX") {
      loops.emplace_back();
      in_loop = true;
    } else if (id == "AT7") {
      if (!in_loop) {  // tolerated: an AT7 before any LX forms a loop of its own
        loops.emplace_back();
        in_loop = true;
      }
      loops.back().at7s.push_back(At7{i});
    } else if (id == "MS1" || id == "MS2") {
      if (!in_loop) continue;  // MS1/MS2 outside LX loops do not describe a status
      Loop& loop = loops.back();
      const bool ms1 = id == "MS1";
      std::size_t& loop_slot = ms1 ? loop.ms1 : loop.ms2;
      if (loop_slot == kNone) loop_slot = i;
      if (!loop.at7s.empty()) {
        std::size_t& slot = ms1 ? loop.at7s.back().ms1 : loop.at7s.back().ms2;
        if (slot == kNone) slot = i;
      }
    } else if (id == "L11") {
      ReadL11(r, i, in_loop ? &loops.back().refs : &header_refs);
    }
  }

  if (b10 == kNone) {
    r.MissingSegment("B10", "beginning segment for shipment status");
    return;
  }
  const std::string_view pro = r.Text(b10, 1, 1, 30, false, "carrier PRO number");
  const std::string_view shipment = r.Text(b10, 2, 1, 30, true, "shipment identification number");
  const std::string_view scac = r.Text(b10, 3, 2, 4, true, "SCAC");
  std::vector<Reference> base_refs;
  if (!pro.empty()) AddReference(&base_refs, "PRO", pro);
  if (!scac.empty()) AddReference(&base_refs, "SCAC", scac);
  for (const Reference& ref : header_refs) AddReference(&base_refs, ref.type, ref.value);

  std::size_t at7_count = 0;
  for (const Loop& loop : loops) at7_count += loop.at7s.size();
  if (at7_count == 0) {
    r.MissingSegment("AT7", "a 214 reports its statuses in AT7 segments");
    return;
  }
  for (const Loop& loop : loops) {
    for (const At7& at7 : loop.at7s) {
      const std::size_t s = at7.seg;
      const std::size_t errors_before = r.error_count();
      const bool has1 = !r.Get(s, 1).empty();
      const bool has2 = !r.Get(s, 2).empty();
      const bool has3 = !r.Get(s, 3).empty();
      const bool has4 = !r.Get(s, 4).empty();
      // 004010 AT7 syntax: P0102 (01 and 02 together), P0304, and exactly one of 01/03.
      if (has1 && has3) {
        r.Error(s, 3, "only one of AT701 (status) and AT703 (appointment) may be present");
      }
      if (!has1 && !has3) r.Error(s, 1, "one of AT701 (status) or AT703 (appointment) is required");
      if (has1 && !has2) {
        r.Error(s, 2, "required when AT701 is present (status reason; NS = normal status)");
      }
      if (!has1 && has2) r.Error(s, 1, "required when AT702 is present");
      if (has3 && !has4) {
        r.Error(s, 4, "required when AT703 is present (appointment reason; NS = normal status)");
      }
      if (!has3 && has4) r.Error(s, 3, "required when AT704 is present");
      const std::string_view status = r.Text(s, 1, 2, 2, false, "shipment status code");
      const std::string_view status_reason = r.Text(s, 2, 2, 2, false, "status reason code");
      const std::string_view appt = r.Text(s, 3, 2, 2, false, "appointment status code");
      const std::string_view appt_reason = r.Text(s, 4, 2, 2, false, "appointment reason code");
      const auto date = r.Date(s, 5, true, "status date");
      const auto time = r.Time(s, 6, true, "status time");
      const std::string_view code = r.Text(s, 7, 2, 2, false, "time code");
      if (r.error_count() != errors_before) continue;
      const auto when = ResolveTime(env, r, s, 5, 7, *date, *time, code);
      if (!when) continue;

      std::optional<Location> location;
      const std::size_t ms1 = at7.ms1 != kNone ? at7.ms1 : loop.ms1;
      if (ms1 != kNone) location = ReadMs1(r, ms1);
      std::vector<Reference> refs = base_refs;
      for (const Reference& ref : loop.refs) AddReference(&refs, ref.type, ref.value);
      const std::size_t ms2 = at7.ms2 != kNone ? at7.ms2 : loop.ms2;
      if (ms2 != kNone) {
        const std::string equipment = ReadMs2(r, ms2);
        if (!equipment.empty()) AddReference(&refs, "EQUIPMENT", equipment);
      }

      const bool is_appt = !appt.empty();
      const std::string_view source_code = is_appt ? appt : status;
      const std::string_view reason = is_appt ? appt_reason : status_reason;

      EventKind kind = EventKind::kMilestone;
      const StatusEntry* entry = nullptr;
      if (is_appt) {
        kind = EventKind::kDocument;
      } else if (auto it = env.tables->status.find(status); it != env.tables->status.end()) {
        entry = &it->second;
        if (entry->cls == StatusClass::kEstimate) kind = EventKind::kEstimate;
      }
      Event e = NewEvent(env, kind, SourceSystem::kCarrier);
      e.shipment_id = std::string(shipment);
      e.carrier = std::string(scac);
      e.references = std::move(refs);
      e.location = std::move(location);
      e.source_code = std::string(source_code);
      if (!reason.empty() && reason != "NS") e.reason_code = std::string(reason);
      e.occurred_at = when->utc;
      e.occurred_offset_minutes = when->offset_minutes;
      if (is_appt) {
        e.document = DocumentBody{"appointment", std::string(appt)};
      } else if (kind == EventKind::kEstimate) {
        // An estimate happens when it is issued (the GS date/time); what it estimates is the
        // AT7 date/time.
        e.estimate = Estimate{when->utc, entry->of, env.gs_time.utc};
        e.occurred_at = env.gs_time.utc;
        e.occurred_offset_minutes = env.gs_time.offset_minutes;
      } else if (entry != nullptr && entry->cls == StatusClass::kStatus) {
        e.status = entry->status;
      }
      out->push_back(MappedEvent{std::move(e), s});
    }
  }
}

}  // namespace waybill::ingest::x12
