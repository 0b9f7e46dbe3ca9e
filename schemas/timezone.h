// Civil (wall-clock) date-times in a named IANA zone or at a fixed offset, turned into UTC.
//
// The zone rules come from the operating system's tz database (/usr/share/zoneinfo, package
// tzdata) through Howard Hinnant's date/tz library. Looking a zone up by name is slow, so
// lookups are cached per process (and per thread for the last zone used).
//
// Daylight-saving transitions, for a local time that does not name exactly one instant:
// - ambiguous (the repeated hour when clocks fall back, e.g. 2025-11-02 01:30 in
//   America/Chicago): the earliest instant is chosen (date::choose::earliest), i.e. the
//   offset in force before the transition (01:30 CDT, -05:00 -> 06:30Z);
// - nonexistent (the hour skipped when clocks spring forward, e.g. 2025-03-09 02:30 in
//   America/Chicago): the offset in force before the gap is applied to the written time
//   (02:30 -06:00 -> 08:30Z), as a sender whose clock had not yet been moved would mean.
//   The result's offset_minutes is that pre-gap offset, so local = utc + offset still
//   reproduces the written wall-clock time.
//
// Thread-safety: all functions are safe to call from any thread.
#pragma once

#include <string_view>

#include "schemas/result.h"
#include "schemas/time.h"

namespace waybill {

// Whether `iana_zone` ("America/Chicago", "UTC") names a zone of the tz database.
bool IsKnownTimeZone(std::string_view iana_zone);

// The instant at which the clocks of `iana_zone` showed year-month-day hour:minute:second,
// with offset_minutes the zone's UTC offset that was applied (see the DST rules above).
// InvalidArgument, naming the value and the reason, for an unknown zone, an impossible date
// (2025-02-29), hour > 23, minute or second > 59 (no leap seconds), or an instant outside
// the UnixNanos span (1677-09-21 to 2262-04-11).
[[nodiscard]] Result<ParsedTime> LocalToUtc(std::string_view iana_zone, int year, unsigned month,
                                            unsigned day, unsigned hour, unsigned minute,
                                            unsigned second);

// The same at a fixed offset from UTC (-300 for -05:00); offsets beyond +-23:59 are rejected.
[[nodiscard]] Result<ParsedTime> FixedOffsetToUtc(int offset_minutes, int year, unsigned month,
                                                  unsigned day, unsigned hour, unsigned minute,
                                                  unsigned second);

}  // namespace waybill
