// The DCSA Track & Trace mapping table (schemas/mappings/dcsa-tnt.json): which classifier
// codes are actuals or estimates, which event codes are which canonical status or estimate,
// document type names and the spellings of document reference types.
//
// Thread-safety: immutable after parsing; DcsaMappingsEmbedded() is safe to call from any
// thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "schemas/event.h"
#include "schemas/result.h"

namespace waybill::ingest {

inline constexpr std::string_view kDcsaMappingsFile = "mappings/dcsa-tnt.json";

enum class DcsaClassifier : std::uint8_t { kActual, kEstimate };

// What a rule needs to match; an absent condition matches anything.
struct DcsaCondition {
  std::string event_type;                      // EQUIPMENT, TRANSPORT
  std::string code;                            // equipment/transport event type code
  std::optional<std::string> empty_indicator;  // LADEN / EMPTY
  std::optional<std::string> facility_type;    // transportCall.facilityTypeCode
};

struct DcsaStatusRule {
  DcsaCondition when;
  ShipmentStatus status = ShipmentStatus::kInTransit;
};

struct DcsaEstimateRule {
  DcsaCondition when;
  EstimateOf of = EstimateOf::kArrival;
};

struct DcsaMappings {
  std::uint32_t version = 0;
  std::unordered_map<std::string, DcsaClassifier> classifiers;
  std::vector<DcsaStatusRule> actual;
  std::vector<DcsaEstimateRule> estimate;
  std::unordered_map<std::string, std::string> document_types;            // TRD -> bill_of_lading
  std::unordered_map<std::string, std::string> document_reference_types;  // spelling -> TRD

  // The first rule whose conditions hold, or nullptr.
  const DcsaStatusRule* FindActual(std::string_view event_type, std::string_view code,
                                   std::optional<std::string_view> empty_indicator,
                                   std::optional<std::string_view> facility_type) const;
  const DcsaEstimateRule* FindEstimate(std::string_view event_type, std::string_view code,
                                       std::optional<std::string_view> empty_indicator,
                                       std::optional<std::string_view> facility_type) const;
};

// Parses a mapping table. Errors name the JSON path in the file and the reason (unknown
// status, unknown estimate kind, missing version).
[[nodiscard]] Result<DcsaMappings> ParseDcsaMappings(std::string_view json);

// The table compiled into the binary, parsed once.
const Result<DcsaMappings>& DcsaMappingsEmbedded();

}  // namespace waybill::ingest
