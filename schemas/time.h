// Time: RFC 3339 parsing with the original offset kept, and the canonical UTC format.
//
// Internally every time is UTC nanoseconds since the Unix epoch (UnixNanos). The canonical
// text form is "YYYY-MM-DDTHH:MM:SSZ", with a fraction only when it is non-zero, trailing
// zeros trimmed ("2025-03-01T08:00:00.5Z"). Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "schemas/event.h"
#include "schemas/result.h"

namespace waybill {

struct ParsedTime {
  UnixNanos utc = 0;
  std::int32_t offset_minutes = 0;  // the offset the text carried; 0 for "Z"
};

// Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" (RFC 3339; 'T' and 'Z' may be
// lower case; up to 9 fraction digits, fewer scale up: ".5" is 500000000 ns). Rejects a
// missing offset, impossible dates (2025-02-29), hours > 23, seconds > 59 (no leap seconds),
// offsets beyond +-23:59 and years outside 0001-9999. The result is UTC = local - offset and
// must fit a UnixNanos: int64 nanoseconds only reach 1677-09-21T00:12:43.145224192Z to
// 2262-04-11T23:47:16.854775807Z, so valid text outside that span is rejected as well.
[[nodiscard]] Result<ParsedTime> ParseRfc3339(std::string_view text);

// Canonical UTC text of `t`: "2025-03-01T08:00:00Z" or "2025-03-01T08:00:00.123Z".
std::string FormatUtc(UnixNanos t);
void AppendUtc(UnixNanos t, std::string* out);

// "+02:00", "-05:00", "+00:00".
std::string FormatOffset(std::int32_t offset_minutes);
// Parses "+HH:MM", "-HH:MM" or "Z" (or "z") into minutes; beyond +-23:59 is rejected.
[[nodiscard]] Result<std::int32_t> ParseOffset(std::string_view text);

// Checks that `text` is exactly a calendar date "YYYY-MM-DD" that exists (years 0001-9999);
// the error names the text and the reason.
[[nodiscard]] Status ValidateDate(std::string_view text);

// UTC nanoseconds of a civil UTC date-time; the fields must already be valid. Instants outside
// the UnixNanos span (see ParseRfc3339) saturate to INT64_MIN / INT64_MAX.
UnixNanos UnixNanosFromCivil(int year, unsigned month, unsigned day, unsigned hour, unsigned minute,
                             unsigned second, std::uint32_t nanos);

// Wall-clock now, as UnixNanos.
UnixNanos NowUnixNanos();

}  // namespace waybill
