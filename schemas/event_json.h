// The JSON form of canonical events: the public contract (schemas/event.schema.json).
//
// Writing: one object on one line, keys in contract order, absent optionals omitted, times in
// canonical UTC, money as decimal strings, hashes as lower-case hex.
// Reading: simdjson On-Demand, then ValidateEvent; every error names the JSON path of the
// field and the reason (`charges.lines[2].amount: "1.234" has 3 decimals, USD allows 2`).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "schemas/event.h"
#include "schemas/result.h"

namespace waybill {

// Appends the canonical JSON object of `event` to `out`. Ledger fields (seq, recorded_at,
// prev_hash, hash) are written only when `event.ledger.seq != 0`.
void AppendEventJson(const Event& event, std::string* out);
std::string EventToJson(const Event& event);

// Appends `s` as a JSON string literal (quotes and escapes included) to `out`. The result is
// always valid JSON text: valid UTF-8 is written as is, and each byte that is not part of a
// well-formed UTF-8 sequence is written as \ufffd (U+FFFD), as for binary bytes kept in a
// dead letter or quoted from bad input in an error message.
void AppendJsonString(std::string_view s, std::string* out);

// Parses canonical JSON events. Not thread-safe: keep one parser per thread; reusing one
// avoids re-allocating simdjson's buffers for every message.
class EventJsonParser {
 public:
  EventJsonParser();
  ~EventJsonParser();
  EventJsonParser(const EventJsonParser&) = delete;
  EventJsonParser& operator=(const EventJsonParser&) = delete;

  // Parses one JSON object into a validated Event. Ledger-assigned fields in the input (seq,
  // recorded_at, prev_hash, hash) are ignored; `raw_hash` too (the caller sets it). When
  // `event_id` is absent, a deterministic id is derived (see DeriveEventId). Unknown keys
  // are ignored for forward compatibility. `json` need not be padded; the parser copies
  // when it must.
  [[nodiscard]] Result<Event> Parse(std::string_view json);

  // Parses one line of a ledger export (`waybill export`) into the event exactly as that
  // ledger stored it, for a chain restore. Unlike Parse: seq, recorded_at, prev_hash and
  // hash are read into `ledger` (all four or none; none leaves ledger.seq 0), raw_hash and
  // source.principal are read as given, and nothing is derived or filled in (no event id,
  // no correlation_id default), so EncodeEventContent of the result is the exported
  // event's content byte for byte. The event is still validated.
  [[nodiscard]] Result<Event> ParseExported(std::string_view json);

 private:
  Result<Event> Run(std::string_view json, bool exported);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace waybill
