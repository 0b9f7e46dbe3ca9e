// X12 dates and times to UTC: time codes (element 623) through the x12-time-codes table,
// the partner's zone for LT, and the envelope zone for ISA/GS times and missing codes.
//
// Thread-safety: pure functions over immutable tables and profiles.
#pragma once

#include <string>
#include <string_view>

#include "ingest/partner_profiles.h"
#include "ingest/x12/x12_elements.h"
#include "ingest/x12/x12_tables.h"
#include "schemas/result.h"
#include "schemas/time.h"

namespace waybill::ingest::x12 {

// Who sent the times being read, for LT and the envelope zone.
struct PartnerClock {
  std::string partner;                      // for messages ("" when unknown)
  const PartnerProfile* profile = nullptr;  // may be null: then envelope times are UTC
};

// How to read a wall-clock time: a fixed offset or an IANA zone.
struct TimeRule {
  bool fixed = true;
  int offset_minutes = 0;
  std::string_view zone;  // when !fixed; points into the tables or the profile
};

// The rule for time code `code`; "" means the envelope zone. InvalidArgument naming the
// code for an unknown code, and for LT when the partner has no time_zone configured.
[[nodiscard]] Result<TimeRule> RuleForCode(const Tables& tables, std::string_view code,
                                           const PartnerClock& clock);

// The envelope zone (ISA/GS times): the profile's envelope_time_zone, UTC by default.
TimeRule EnvelopeRule(const PartnerClock& clock);

// The instant of `date` `time` under `rule` (nanos of the time are added after conversion).
[[nodiscard]] Result<ParsedTime> ApplyRule(const TimeRule& rule, const CivilDate& date,
                                           const ClockTime& time);

}  // namespace waybill::ingest::x12
