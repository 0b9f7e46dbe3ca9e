// Small JSON writing helpers shared by the view renderers.
//
// Views render with plain appends to one std::string (no DOM): the output is a handful of
// keys per view and rendering runs for every published update. Strings go through
// AppendJsonString (schemas/event_json.h) so escaping matches the event feed; times through
// AppendUtc (schemas/time.h). Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "schemas/event.h"

namespace waybill::projections {

// Appends `"key":` (the key is a literal and is not escaped).
inline void AppendKey(std::string_view key, std::string* out) {
  out->push_back('"');
  out->append(key);
  out->append("\":");
}

// A JSON string, or null when absent.
void AppendOptString(const std::optional<std::string>& s, std::string* out);
// An RFC 3339 UTC string, or null when absent.
void AppendOptTime(const std::optional<UnixNanos>& t, std::string* out);
void AppendUint(std::uint64_t v, std::string* out);

// A signed ISO 8601 duration of `nanos` in hours, minutes and seconds (no days: a day is not
// always 24 hours): "PT26H30M", "-PT2H", "PT1M0.5S", "PT0S". 128-bit so the difference of
// any two UnixNanos fits.
void AppendIsoDuration(__int128 nanos, std::string* out);

// `minor_units` as FormatMoney renders it, when it fits int64; false (nothing appended)
// otherwise.
bool AppendMoney(__int128 minor_units, std::string_view currency, std::string* out);

}  // namespace waybill::projections
