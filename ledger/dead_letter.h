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

struct DeadLetter {
  std::uint64_t id = 0;  // assigned by the ledger, increasing
  UnixNanos received_at = 0;
  std::string format;
  std::optional<std::string> partner;
  std::optional<std::string> principal;
  std::string raw;                    // the message bytes exactly as received
  std::vector<std::string> reasons;   // each names the position (JSON path, segment/element)
  std::optional<std::string> origin;  // where it came from: "file.ndjson:17", "http", "nats"
  bool operator==(const DeadLetter&) const = default;
};

std::string EncodeDeadLetter(const DeadLetter& dl);
[[nodiscard]] Status DecodeDeadLetter(std::string_view bytes, DeadLetter* dl);

struct RawMessage;
std::string EncodeRawRecord(std::string_view bytes, std::string_view format,
                            const std::optional<std::string>& partner,
                            const std::optional<std::string>& origin, UnixNanos received_at);
// Fills every field of `raw` but its hash (the record's key).
[[nodiscard]] Status DecodeRawRecord(std::string_view record, RawMessage* raw);

}  // namespace waybill::ledger
