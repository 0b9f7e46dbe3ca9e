// Helpers for the JSON and validation tests: parse-or-fail, minimal events, round trips.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "schemas/event.h"
#include "schemas/event_json.h"

namespace waybill::json_test {

// 2025-03-01T08:00:00Z
constexpr UnixNanos kT0 = 1740816000LL * 1000000000LL;
constexpr UnixNanos kHour = 3600LL * 1000000000LL;

inline Event ParseOk(std::string_view json) {
  EventJsonParser parser;
  Result<Event> r = parser.Parse(json);
  INFO("json: ", json);
  INFO("error: ", r.status().ToString());
  REQUIRE(r.ok());
  return std::move(r).value();
}

inline std::string ParseError(std::string_view json) {
  EventJsonParser parser;
  Result<Event> r = parser.Parse(json);
  INFO("json: ", json);
  REQUIRE_FALSE(r.ok());
  return r.status().message();
}

inline void CheckRejected(std::string_view json, std::string_view expected) {
  std::string message = ParseError(json);
  INFO("json: ", json);
  INFO("message: ", message);
  CHECK(message.find(expected) != std::string::npos);
}

// A minimal valid event of `kind` with `extra` appended to the root object (start it with
// a comma).
inline std::string Ev(std::string_view kind, std::string_view extra) {
  std::string s = R"({"kind":")";
  s += kind;
  s += R"(","occurred_at":"2025-03-01T08:00:00Z","source":{"system":"carrier"},"shipment_id":"S1")";
  s += extra;
  s += '}';
  return s;
}

inline std::string Milestone(std::string_view extra = "") {
  return Ev("milestone", std::string(R"(,"status":"IN_TRANSIT")") + std::string(extra));
}

inline std::string ChargesEv(std::string_view charges) {
  return Ev("charges", std::string(R"(,"charges":)") + std::string(charges));
}

// JSON -> Event -> JSON -> Event; both events equal and the JSON stable.
inline void CheckRoundTrip(std::string_view json) {
  Event a = ParseOk(json);
  std::string out = EventToJson(a);
  Event b = ParseOk(out);
  CHECK(a == b);
  CHECK(EventToJson(b) == out);
}

}  // namespace waybill::json_test
