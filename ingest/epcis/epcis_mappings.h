// The EPCIS mapping table (schemas/mappings/epcis-bizstep.json): CBV business steps to
// canonical statuses, business transaction types to reference types, and the URI prefixes
// that reduce a CBV value to its short name.
//
// Thread-safety: immutable after parsing; EpcisMappingsEmbedded() is safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "schemas/event.h"
#include "schemas/result.h"

namespace waybill::ingest {

inline constexpr std::string_view kEpcisMappingsFile = "mappings/epcis-bizstep.json";

struct EpcisMappings {
  std::uint32_t version = 0;
  std::vector<std::string> bizstep_prefixes;
  std::unordered_map<std::string, ShipmentStatus> bizsteps;  // short name -> status
  std::vector<std::string> biz_transaction_type_prefixes;
  std::string shipment_biz_transaction_type;                     // "desadv"
  std::unordered_map<std::string, std::string> reference_types;  // "po" -> "PO"

  // `value` without the first matching prefix ("urn:epcglobal:cbv:bizstep:shipping" ->
  // "shipping"); `value` itself when none matches.
  std::string_view BizStepShortName(std::string_view value) const;
  std::string_view BizTransactionTypeShortName(std::string_view value) const;
};

// Parses a mapping table; errors name the JSON path in the file and the reason.
[[nodiscard]] Result<EpcisMappings> ParseEpcisMappings(std::string_view json);

// The table compiled into the binary, parsed once.
const Result<EpcisMappings>& EpcisMappingsEmbedded();

}  // namespace waybill::ingest
