#include "ingest/x12/x12_tables.h"

#include <simdjson.h>

#include "schemas/embedded_data.h"
#include "schemas/timezone.h"

namespace waybill::ingest::x12 {
namespace {

constexpr std::string_view kStatusFile = "mappings/x12-214-status.json";
constexpr std::string_view kTimeCodesFile = "mappings/x12-time-codes.json";
constexpr std::string_view kStopsFile = "mappings/x12-204-stops.json";

Status Bad(std::string_view file, std::string_view path, std::string_view reason) {
  return Status::Invalid(std::string(file) + ": " + std::string(path) + ": " + std::string(reason));
}

// Parses `json` and checks "version": 1; returns the object under `key`.
Status Open(simdjson::dom::parser& parser, std::string_view file, std::string_view json,
            std::string_view key, simdjson::dom::object* out) {
  simdjson::dom::element root;
  if (auto err = parser.parse(json.data(), json.size()).get(root); err) {
    return Bad(file, "$", std::string("not valid JSON: ") + simdjson::error_message(err));
  }
  std::int64_t version = 0;
  if (root["version"].get(version) || version != 1) {
    return Bad(file, "$.version", "must be 1");
  }
  if (root[key].get(*out)) return Bad(file, "$." + std::string(key), "expected an object");
  return Status::Ok();
}

Result<WindowRole> ParseRole(std::string_view file, const std::string& path,
                             simdjson::dom::element v) {
  std::string_view role;
  if (v["role"].get(role)) return Bad(file, path + ".role", "expected a string");
  if (role == "start") return WindowRole::kStart;
  if (role == "end") return WindowRole::kEnd;
  if (role == "at") return WindowRole::kAt;
  return Bad(file, path + ".role", "must be \"start\", \"end\" or \"at\"");
}

Status ParseStatus(std::string_view json, Tables* t) {
  simdjson::dom::parser parser;
  simdjson::dom::object codes;
  WAYBILL_RETURN_IF_ERROR(Open(parser, kStatusFile, json, "codes", &codes));
  for (auto field : codes) {
    const std::string path = "$.codes." + std::string(field.key);
    std::string_view cls;
    if (field.value["class"].get(cls))
      return Bad(kStatusFile, path + ".class", "expected a string");
    StatusEntry e;
    if (cls == "status") {
      std::string_view s;
      if (field.value["status"].get(s)) {
        return Bad(kStatusFile, path + ".status", "expected a string");
      }
      auto status = ParseShipmentStatus(s);
      if (!status)
        return Bad(kStatusFile, path + ".status", "unknown status \"" + std::string(s) + "\"");
      e.cls = StatusClass::kStatus;
      e.status = *status;
    } else if (cls == "estimate") {
      std::string_view of;
      if (field.value["of"].get(of)) return Bad(kStatusFile, path + ".of", "expected a string");
      auto parsed = ParseEstimateOf(of);
      if (!parsed)
        return Bad(kStatusFile, path + ".of", "unknown value \"" + std::string(of) + "\"");
      e.cls = StatusClass::kEstimate;
      e.of = *parsed;
    } else if (cls == "exception") {
      e.cls = StatusClass::kException;
    } else if (cls == "informational") {
      e.cls = StatusClass::kInformational;
    } else {
      return Bad(kStatusFile, path + ".class",
                 "must be \"status\", \"estimate\", \"exception\" or \"informational\"");
    }
    t->status.emplace(std::string(field.key), e);
  }
  return Status::Ok();
}

Status ParseTimeCodes(std::string_view json, Tables* t) {
  simdjson::dom::parser parser;
  simdjson::dom::object codes;
  WAYBILL_RETURN_IF_ERROR(Open(parser, kTimeCodesFile, json, "codes", &codes));
  for (auto field : codes) {
    const std::string path = "$.codes." + std::string(field.key);
    TimeCodeEntry e;
    std::int64_t offset = 0;
    std::string_view zone;
    bool partner = false;
    if (!field.value["offset_minutes"].get(offset)) {
      if (offset < -(23 * 60 + 59) || offset > 23 * 60 + 59) {
        return Bad(kTimeCodesFile, path + ".offset_minutes", "must be within +-23:59");
      }
      e.kind = TimeCodeEntry::Kind::kFixed;
      e.offset_minutes = static_cast<int>(offset);
    } else if (!field.value["zone"].get(zone)) {
      if (!IsKnownTimeZone(zone)) {
        return Bad(kTimeCodesFile, path + ".zone",
                   "unknown IANA time zone \"" + std::string(zone) + "\"");
      }
      e.kind = TimeCodeEntry::Kind::kZone;
      e.zone = std::string(zone);
    } else if (!field.value["partner_zone"].get(partner) && partner) {
      e.kind = TimeCodeEntry::Kind::kPartnerZone;
    } else {
      return Bad(kTimeCodesFile, path,
                 "needs \"offset_minutes\", \"zone\" or \"partner_zone\": true");
    }
    t->time_codes.emplace(std::string(field.key), std::move(e));
  }
  return Status::Ok();
}

Status ParseStops(std::string_view json, Tables* t) {
  simdjson::dom::parser parser;
  simdjson::dom::object reasons;
  WAYBILL_RETURN_IF_ERROR(Open(parser, kStopsFile, json, "stop_reasons", &reasons));
  for (auto field : reasons) {
    std::string_view kind;
    const std::string path = "$.stop_reasons." + std::string(field.key);
    if (field.value.get(kind)) return Bad(kStopsFile, path, "expected a string");
    if (kind == "load") {
      t->stop_reasons.emplace(std::string(field.key), StopKind::kLoad);
    } else if (kind == "unload") {
      t->stop_reasons.emplace(std::string(field.key), StopKind::kUnload);
    } else {
      return Bad(kStopsFile, path, "must be \"load\" or \"unload\"");
    }
  }
  simdjson::dom::element root;
  if (parser.parse(json.data(), json.size()).get(root))
    return Bad(kStopsFile, "$", "not valid JSON");
  for (auto [key, table] : {std::pair{"time_qualifiers", &t->time_qualifiers},
                            std::pair{"date_qualifiers", &t->date_qualifiers}}) {
    simdjson::dom::object obj;
    if (root[key].get(obj)) return Bad(kStopsFile, "$." + std::string(key), "expected an object");
    for (auto field : obj) {
      const std::string path = "$." + std::string(key) + "." + std::string(field.key);
      auto role = ParseRole(kStopsFile, path, field.value);
      if (!role.ok()) return role.status();
      table->emplace(std::string(field.key), *role);
    }
  }
  return Status::Ok();
}

Result<Tables> LoadBuiltin() {
  const auto status = EmbeddedFile(kStatusFile);
  const auto time_codes = EmbeddedFile(kTimeCodesFile);
  const auto stops = EmbeddedFile(kStopsFile);
  if (!status || !time_codes || !stops) {
    return Status::NotFound("X12 mapping tables are not built into this binary (" +
                            std::string(kStatusFile) + ", " + std::string(kTimeCodesFile) + ", " +
                            std::string(kStopsFile) + ")");
  }
  return ParseTables(*status, *time_codes, *stops);
}

}  // namespace

Result<Tables> ParseTables(std::string_view status_json, std::string_view time_codes_json,
                           std::string_view stops_json) {
  Tables t;
  try {
    WAYBILL_RETURN_IF_ERROR(ParseStatus(status_json, &t));
    WAYBILL_RETURN_IF_ERROR(ParseTimeCodes(time_codes_json, &t));
    WAYBILL_RETURN_IF_ERROR(ParseStops(stops_json, &t));
  } catch (const std::exception& e) {
    return Status::Invalid(std::string("X12 mapping tables: ") + e.what());
  }
  return t;
}

const Result<Tables>& BuiltinTables() {
  static const Result<Tables>* tables = new Result<Tables>(LoadBuiltin());
  return *tables;
}

}  // namespace waybill::ingest::x12
