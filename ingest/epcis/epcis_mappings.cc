#include "ingest/epcis/epcis_mappings.h"

#include <simdjson.h>

#include "ingest/json_fields.h"

namespace waybill::ingest {
namespace {

namespace dom = simdjson::dom;

Status Fail(const std::string& path, std::string_view reason) {
  return MappingTableError(kEpcisMappingsFile, path, reason);
}

std::string_view StripPrefix(const std::vector<std::string>& prefixes, std::string_view v) {
  for (const auto& p : prefixes) {
    if (v.size() > p.size() && v.substr(0, p.size()) == p) return v.substr(p.size());
  }
  return v;
}

Status ParseStrings(dom::object root, const char* key, std::vector<std::string>* out) {
  dom::array arr;
  if (root[key].get(arr)) return Fail(std::string("$.") + key, "required array");
  std::size_t i = 0;
  for (dom::element e : arr) {
    std::string_view s;
    if (e.get(s) || s.empty()) {
      return Fail(std::string("$.") + key + "[" + std::to_string(i) + "]",
                  "expected a non-empty string");
    }
    out->emplace_back(s);
    ++i;
  }
  return Status::Ok();
}

}  // namespace

std::string_view EpcisMappings::BizStepShortName(std::string_view value) const {
  return StripPrefix(bizstep_prefixes, value);
}

std::string_view EpcisMappings::BizTransactionTypeShortName(std::string_view value) const {
  return StripPrefix(biz_transaction_type_prefixes, value);
}

Result<EpcisMappings> ParseEpcisMappings(std::string_view json) {
  dom::parser parser;
  EpcisMappings m;
  auto parsed = ParseMappingTableRoot(parser, json, kEpcisMappingsFile, &m.version);
  if (!parsed.ok()) return parsed.status();
  dom::object root = *parsed;
  WAYBILL_RETURN_IF_ERROR(ParseStrings(root, "bizstep_prefixes", &m.bizstep_prefixes));
  WAYBILL_RETURN_IF_ERROR(
      ParseStrings(root, "biz_transaction_type_prefixes", &m.biz_transaction_type_prefixes));

  dom::object steps;
  if (root["bizsteps"].get(steps)) return Fail("$.bizsteps", "required object");
  for (auto field : steps) {
    std::string_view s;
    const std::string path = "$.bizsteps." + std::string(field.key);
    if (field.value.get(s)) return Fail(path, "expected a status string");
    auto status = ParseShipmentStatus(s);
    if (!status) return Fail(path, "unknown status \"" + std::string(s) + "\"");
    m.bizsteps[std::string(field.key)] = *status;
  }

  std::string_view s;
  if (root["shipment_biz_transaction_type"].get(s) || s.empty()) {
    return Fail("$.shipment_biz_transaction_type", "required string");
  }
  m.shipment_biz_transaction_type = std::string(s);

  dom::object types;
  if (root["reference_types"].get(types)) return Fail("$.reference_types", "required object");
  for (auto field : types) {
    if (field.value.get(s) || s.empty()) {
      return Fail("$.reference_types." + std::string(field.key), "expected a string");
    }
    m.reference_types[std::string(field.key)] = std::string(s);
  }
  return m;
}

const Result<EpcisMappings>& EpcisMappingsEmbedded() {
  static const Result<EpcisMappings> kMappings =
      ParseEmbeddedMappingTable(kEpcisMappingsFile, &ParseEpcisMappings);
  return kMappings;
}

}  // namespace waybill::ingest
