// Conversions of JSON values in ERP/TMS messages into canonical values: the named time
// formats of the mapping language, promised dates, and exact money.
//
// Time formats (docs/mapping-files.md):
//   rfc3339   "2025-03-01T09:30:00+01:00": UTC kept exactly, the offset kept as the original.
//   ms-date   "/Date(1700000000000)/" or "/Date(1700000000000+0100)/" (Microsoft JSON, OData v2,
//             Dynamics 365): the milliseconds are UTC since the epoch; the optional +HHMM/-HHMM
//             suffix is informational, kept as the original offset and never applied again.
//   epoch-ms  1700000000000 (a JSON integer or a string of digits): UTC milliseconds, offset 0.
//   date      "2025-03-01": a calendar date; as an instant it is 00:00 UTC of that day.
//
// Errors are reasons without a path ("\"2025-13-01\": month 13 ..."); callers prefix the
// input path. Internal to waybill_ingest_mapping. Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ingest/mapping/json_tree.h"
#include "schemas/result.h"
#include "schemas/time.h"

namespace waybill::ingest::mapping {

enum class TimeFormat : std::uint8_t { kRfc3339, kMsDate, kEpochMs, kDate };

std::optional<TimeFormat> ParseTimeFormat(std::string_view name);
std::string_view TimeFormatName(TimeFormat format);
// "rfc3339, ms-date, epoch-ms, date", for error messages.
std::string_view TimeFormatNames();

// Reads `node` (a string, or a number for epoch-ms) as an instant in `format`.
[[nodiscard]] Result<ParsedTime> ParseTimeValue(const JsonNode& node, TimeFormat format);

// Reads `node` as a calendar date "YYYY-MM-DD": `date` is checked as given, an rfc3339 time
// gives the date it names in its own offset, ms-date and epoch-ms give the UTC date.
[[nodiscard]] Result<std::string> ParseDateValue(const JsonNode& node, TimeFormat format);

// Parses a "/Date(ms[+-HHMM])/" text.
[[nodiscard]] Result<ParsedTime> ParseMsDate(std::string_view text);

// Exact money: a JSON string with a plain decimal, or a JSON number token read as text (an
// exponent is shifted textually, never through a double), into minor units of `currency`.
[[nodiscard]] Result<std::int64_t> ParseMoneyValue(const JsonNode& node, std::string_view currency);

}  // namespace waybill::ingest::mapping
