// Dead letters: messages (or X12 sets) that failed parsing or validation, kept whole with
// every reason, so nothing inbound is ever dropped.
//
//   value := DeadLetter in cereal's compact content archive (schemas/content_archive.h,
//            record version 1), keyed by id:u64be in the `dead_letters` family.
//   raw    := (format, partner, origin, received_at, bytes) in the same archive, keyed by the
//            SHA-256 of the bytes in the `raw` family (key_layout.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "schemas/event.h"
#include "schemas/result.h"

namespace waybill::ledger {

// Values are persisted: append new ones, never renumber.
enum class DeadLetterState : std::uint8_t {
  kPending = 0,   // waiting for a mapping fix and a retry, or a drop
  kResolved = 1,  // a retry appended its events
  kDropped = 2,   // an operator dropped it; kept, with who and why
};
std::string_view ToString(DeadLetterState state);

struct DeadLetter {
  std::uint64_t id = 0;  // assigned by the ledger, increasing
  UnixNanos received_at = 0;
  std::string format;
  std::optional<std::string> partner;
  std::optional<std::string> principal;
  // The smallest self-contained input the message can be re-mapped from, exactly as
  // received (an NDJSON line, an X12 interchange, one JSON event).
  std::string raw;
  std::vector<std::string> reasons;     // each names the position (JSON path, segment/element)
  std::optional<std::string> origin;    // where it came from: "file.ndjson:17", "http", "nats"
  std::optional<std::string> position;  // which message inside `raw` failed (adapter position)
  DeadLetterState state = DeadLetterState::kPending;
  std::uint32_t attempts = 0;             // retries so far
  UnixNanos updated_at = 0;               // last retry or drop
  std::optional<std::string> updated_by;  // principal of the last retry or drop
  std::optional<std::string> resolution;  // what the last retry or drop did, for people
  bool operator==(const DeadLetter&) const = default;
};

// A dead letter as lists show it: every field but the raw message, whose size it keeps. A
// page of a thousand dead letters with their raws could hold a thousand maximum-size
// bodies; listings never need the bytes, and GetDeadLetter reads them one at a time.
struct DeadLetterSummary {
  DeadLetter letter;  // `raw` left empty
  std::uint64_t raw_bytes = 0;
};

std::string EncodeDeadLetter(const DeadLetter& dl);
[[nodiscard]] Status DecodeDeadLetter(std::string_view bytes, DeadLetter* dl);
// Decodes the same record without copying its raw message.
[[nodiscard]] Status DecodeDeadLetterSummary(std::string_view bytes, DeadLetterSummary* summary);

struct RawMessage;
std::string EncodeRawRecord(std::string_view bytes, std::string_view format,
                            const std::optional<std::string>& partner,
                            const std::optional<std::string>& origin, UnixNanos received_at);
// Fills every field of `raw` but its hash (the record's key).
[[nodiscard]] Status DecodeRawRecord(std::string_view record, RawMessage* raw);

}  // namespace waybill::ledger
