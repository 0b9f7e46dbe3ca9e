#include "ingest/dcsa/dcsa_mappings.h"

#include <simdjson.h>

#include "ingest/json_fields.h"

namespace waybill::ingest {
namespace {

namespace dom = simdjson::dom;

bool Holds(const DcsaCondition& c, std::string_view event_type, std::string_view code,
           std::optional<std::string_view> empty_indicator,
           std::optional<std::string_view> facility_type) {
  if (c.event_type != event_type || c.code != code) return false;
  if (c.empty_indicator && (!empty_indicator || *c.empty_indicator != *empty_indicator)) {
    return false;
  }
  if (c.facility_type && (!facility_type || *c.facility_type != *facility_type)) return false;
  return true;
}

Status Fail(const std::string& path, std::string_view reason) {
  return MappingTableError(kDcsaMappingsFile, path, reason);
}

Result<DcsaCondition> ParseCondition(dom::object rule, const std::string& path) {
  DcsaCondition c;
  std::string_view s;
  if (rule["eventType"].get(s) || s.empty()) return Fail(path + ".eventType", "required string");
  c.event_type = std::string(s);
  if (rule["code"].get(s) || s.empty()) return Fail(path + ".code", "required string");
  c.code = std::string(s);
  if (!rule["emptyIndicatorCode"].get(s)) c.empty_indicator = std::string(s);
  if (!rule["facilityTypeCode"].get(s)) c.facility_type = std::string(s);
  return c;
}

Status ParseStringMap(dom::object root, const char* key,
                      std::unordered_map<std::string, std::string>* out) {
  dom::object m;
  if (root[key].get(m)) return Fail(std::string("$.") + key, "required object");
  for (auto field : m) {
    std::string_view v;
    if (field.value.get(v) || v.empty()) {
      return Fail(std::string("$.") + key + "." + std::string(field.key), "expected a string");
    }
    (*out)[std::string(field.key)] = std::string(v);
  }
  return Status::Ok();
}

}  // namespace

const DcsaStatusRule* DcsaMappings::FindActual(
    std::string_view event_type, std::string_view code,
    std::optional<std::string_view> empty_indicator,
    std::optional<std::string_view> facility_type) const {
  for (const auto& r : actual) {
    if (Holds(r.when, event_type, code, empty_indicator, facility_type)) return &r;
  }
  return nullptr;
}

const DcsaEstimateRule* DcsaMappings::FindEstimate(
    std::string_view event_type, std::string_view code,
    std::optional<std::string_view> empty_indicator,
    std::optional<std::string_view> facility_type) const {
  for (const auto& r : estimate) {
    if (Holds(r.when, event_type, code, empty_indicator, facility_type)) return &r;
  }
  return nullptr;
}

Result<DcsaMappings> ParseDcsaMappings(std::string_view json) {
  dom::parser parser;
  DcsaMappings m;
  auto parsed = ParseMappingTableRoot(parser, json, kDcsaMappingsFile, &m.version);
  if (!parsed.ok()) return parsed.status();
  dom::object root = *parsed;

  dom::object classifiers;
  if (root["classifiers"].get(classifiers)) return Fail("$.classifiers", "required object");
  for (auto field : classifiers) {
    std::string_view v;
    const std::string path = "$.classifiers." + std::string(field.key);
    if (field.value.get(v)) return Fail(path, "expected a string");
    if (v == "actual") {
      m.classifiers[std::string(field.key)] = DcsaClassifier::kActual;
    } else if (v == "estimate") {
      m.classifiers[std::string(field.key)] = DcsaClassifier::kEstimate;
    } else {
      return Fail(path, "expected \"actual\" or \"estimate\"");
    }
  }

  dom::array rules;
  if (root["actual"].get(rules)) return Fail("$.actual", "required array");
  std::size_t i = 0;
  for (dom::element r : rules) {
    const std::string path = "$.actual[" + std::to_string(i++) + "]";
    dom::object rule;
    if (r.get(rule)) return Fail(path, "expected an object");
    auto cond = ParseCondition(rule, path);
    if (!cond.ok()) return cond.status();
    std::string_view s;
    if (rule["status"].get(s)) return Fail(path + ".status", "required string");
    auto status = ParseShipmentStatus(s);
    if (!status) return Fail(path + ".status", "unknown status \"" + std::string(s) + "\"");
    m.actual.push_back({std::move(cond.value()), *status});
  }

  if (root["estimate"].get(rules)) return Fail("$.estimate", "required array");
  i = 0;
  for (dom::element r : rules) {
    const std::string path = "$.estimate[" + std::to_string(i++) + "]";
    dom::object rule;
    if (r.get(rule)) return Fail(path, "expected an object");
    auto cond = ParseCondition(rule, path);
    if (!cond.ok()) return cond.status();
    std::string_view s;
    if (rule["of"].get(s)) return Fail(path + ".of", "required string");
    auto of = ParseEstimateOf(s);
    if (!of) return Fail(path + ".of", "unknown estimate kind \"" + std::string(s) + "\"");
    m.estimate.push_back({std::move(cond.value()), *of});
  }

  WAYBILL_RETURN_IF_ERROR(ParseStringMap(root, "document_types", &m.document_types));
  WAYBILL_RETURN_IF_ERROR(
      ParseStringMap(root, "document_reference_types", &m.document_reference_types));
  return m;
}

const Result<DcsaMappings>& DcsaMappingsEmbedded() {
  static const Result<DcsaMappings> kMappings =
      ParseEmbeddedMappingTable(kDcsaMappingsFile, &ParseDcsaMappings);
  return kMappings;
}

}  // namespace waybill::ingest
