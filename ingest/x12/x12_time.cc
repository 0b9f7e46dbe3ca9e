#include "ingest/x12/x12_time.h"

#include "ingest/x12/x12_segments.h"
#include "schemas/timezone.h"

namespace waybill::ingest::x12 {

Result<TimeRule> RuleForCode(const Tables& tables, std::string_view code,
                             const PartnerClock& clock) {
  if (code.empty()) return EnvelopeRule(clock);
  auto it = tables.time_codes.find(code);
  if (it == tables.time_codes.end()) {
    return Status::Invalid("time code " + Quote(code) +
                           " is not a known X12 time code (UT, GM, ET, CT, MT, PT, ES, ED, CS, "
                           "CD, MS, MD, PS, PD, LT, ...)");
  }
  const TimeCodeEntry& e = it->second;
  switch (e.kind) {
    case TimeCodeEntry::Kind::kFixed:
      return TimeRule{true, e.offset_minutes, {}};
    case TimeCodeEntry::Kind::kZone:
      return TimeRule{false, 0, e.zone};
    case TimeCodeEntry::Kind::kPartnerZone:
      break;
  }
  if (clock.profile == nullptr) {
    return Status::Invalid("time code \"LT\" (local time) needs the partner's time zone, but " +
                           (clock.partner.empty()
                                ? std::string("the sender is unknown")
                                : "partner " + Quote(clock.partner) + " has no partner profile") +
                           "; configure its time_zone in the partner profiles");
  }
  if (!clock.profile->time_zone) {
    return Status::Invalid(
        "time code \"LT\" (local time) needs the partner's time zone, but "
        "the profile of partner " +
        Quote(clock.profile->id) + " has no time_zone configured");
  }
  return TimeRule{false, 0, *clock.profile->time_zone};
}

TimeRule EnvelopeRule(const PartnerClock& clock) {
  if (clock.profile == nullptr) return TimeRule{true, 0, {}};
  const std::string& zone = clock.profile->envelope_time_zone;
  if (zone.empty() || zone == "UTC" || zone == "Etc/UTC") return TimeRule{true, 0, {}};
  return TimeRule{false, 0, zone};
}

Result<ParsedTime> ApplyRule(const TimeRule& rule, const CivilDate& date, const ClockTime& time) {
  Result<ParsedTime> r = rule.fixed
                             ? FixedOffsetToUtc(rule.offset_minutes, date.year, date.month,
                                                date.day, time.hour, time.minute, time.second)
                             : LocalToUtc(rule.zone, date.year, date.month, date.day, time.hour,
                                          time.minute, time.second);
  if (r.ok() && time.nanos != 0) {
    ParsedTime t = *r;
    if (__builtin_add_overflow(t.utc, static_cast<UnixNanos>(time.nanos), &t.utc)) {
      return Status::Invalid("time is outside the range a UnixNanos can hold");
    }
    return t;
  }
  return r;
}

}  // namespace waybill::ingest::x12
