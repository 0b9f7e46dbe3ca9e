// The governed X12 mapping tables, read from the data files compiled into the binary:
//   mappings/x12-214-status.json  AT701 status codes -> status / estimate / exception
//   mappings/x12-time-codes.json  time codes (AT707, G6205) -> zone or fixed offset
//   mappings/x12-204-stops.json   S502 stop reasons and G62 qualifiers -> delivery window
// Each file has a top-level "version"; only version 1 is understood.
//
// Thread-safety: Tables() parses once (thread-safe static initialisation) and the result is
// immutable.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "schemas/event.h"
#include "schemas/result.h"

namespace waybill::ingest::x12 {

enum class StatusClass { kStatus, kEstimate, kException, kInformational };

struct StatusEntry {
  StatusClass cls = StatusClass::kInformational;
  ShipmentStatus status = ShipmentStatus::kInTransit;  // for kStatus
  EstimateOf of = EstimateOf::kDelivery;               // for kEstimate
};

struct TimeCodeEntry {
  enum class Kind { kFixed, kZone, kPartnerZone };
  Kind kind = Kind::kFixed;
  int offset_minutes = 0;  // kFixed
  std::string zone;        // kZone: an IANA zone
};

enum class StopKind { kLoad, kUnload };
enum class WindowRole { kStart, kEnd, kAt };

struct Tables {
  std::map<std::string, StatusEntry, std::less<>> status;
  std::map<std::string, TimeCodeEntry, std::less<>> time_codes;
  std::map<std::string, StopKind, std::less<>> stop_reasons;
  std::map<std::string, WindowRole, std::less<>> time_qualifiers;  // G6203
  std::map<std::string, WindowRole, std::less<>> date_qualifiers;  // G6201
};

// Parses the three files' contents; errors name the file, the JSON path and the reason.
[[nodiscard]] Result<Tables> ParseTables(std::string_view status_json,
                                         std::string_view time_codes_json,
                                         std::string_view stops_json);

// The tables built into this binary, parsed on first use.
const Result<Tables>& BuiltinTables();

}  // namespace waybill::ingest::x12
