// Reference data per trading partner: display name, the time zone X12 `LT` times are in,
// the default currency, and the zone of envelope (ISA/GS) dates and times.
//
// File format (JSON; see schemas/partners.example.json, documented in docs/ingest.md):
//   {"version": 1,
//    "partners": [{"id": "ACME", "aliases": ["ACMEFREIGHT"], "name": "Acme Freight",
//                  "time_zone": "America/Chicago", "default_currency": "USD",
//                  "envelope_time_zone": "UTC"}]}
// `id` is the SCAC or sender id; `aliases` are other ids the partner appears under (an X12
// ISA06 sender id, a GS02 code). Zones are IANA names. Only `id` is required.
//
// Thread-safety: immutable after Load; safe to share between threads.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "schemas/result.h"

namespace waybill::ingest {

struct PartnerProfile {
  std::string id;
  std::vector<std::string> aliases;
  std::optional<std::string> name;
  std::optional<std::string> time_zone;         // for X12 `LT` (local time) codes
  std::optional<std::string> default_currency;  // ISO 4217
  std::string envelope_time_zone = "UTC";       // ISA/GS dates and times
};

class PartnerProfiles {
 public:
  PartnerProfiles() = default;

  // Parses a profiles file's contents. Errors name the JSON path and the reason (unknown
  // time zone, unknown currency, duplicate id or alias).
  [[nodiscard]] static Result<PartnerProfiles> Parse(std::string_view json);
  // Reads and parses `path`; NotFound when the file does not exist.
  [[nodiscard]] static Result<PartnerProfiles> Load(const std::string& path);

  // The profile whose id or alias equals `id` (surrounding spaces ignored), or nullptr.
  const PartnerProfile* Find(std::string_view id) const;

  void Add(PartnerProfile profile);  // for tests and programmatic set-up
  std::size_t size() const { return profiles_.size(); }

 private:
  std::vector<PartnerProfile> profiles_;
  std::unordered_map<std::string, std::size_t> by_id_;  // ids and aliases -> index
};

}  // namespace waybill::ingest
