// The mapping language: a mapping file (JSON, docs/mapping-files.md, schemas/mapping.schema.json)
// compiled once into rules that the MappingAdapter applies to every message.
//
// Loading is strict: unknown keys, paths that do not compile, unknown time formats, tables
// that do not exist, statuses that are not canonical and bodies that do not match the event
// kind are errors naming the mapping file's JSON path (`$.events[0].occurred_at.time: unknown
// time format "iso"`), so a mistake is found when the file is loaded, not per message.
//
// Internal to waybill_ingest_mapping. Thread-safety: a CompiledMapping is immutable; share it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/mapping/json_path.h"
#include "ingest/mapping/value_formats.h"
#include "schemas/event.h"
#include "schemas/result.h"

namespace waybill::ingest::mapping {

// The mapping language version this build reads.
inline constexpr int kMappingLanguageVersion = 1;

// How a document splits into messages.
enum class InputShape : std::uint8_t {
  kObject,  // the document is one JSON object
  kArray,   // the document is a JSON array of objects
  kNdjson,  // one JSON object per line
  kAuto,    // '[' -> array; several lines each a complete value -> NDJSON; else one object
};

// What a value rule produces; decides which JSON types it accepts and which options apply.
enum class ValueKind : std::uint8_t { kText, kTime, kDate, kMoney };

// One canonical value: from a path into the message (the first alternative that exists), or
// a constant.
struct ValueRule {
  bool present = false;         // the mapping file gives this rule
  std::vector<JsonPath> paths;  // alternatives, tried in order; empty for a constant
  std::optional<std::string> constant;
  bool required = false;
  const std::map<std::string, std::string, std::less<>>* table = nullptr;
  std::vector<TimeFormat> time;  // kTime / kDate rules: formats tried in order
  std::string suffix;            // event_id only
};

struct LocationRule {
  bool present = false;
  ValueRule name, city, region, country, unlocode;
};

struct ReferenceRule {
  std::string type;
  ValueRule value;
};

// Charge lines: one per element of the array at `each` (a path ending in [*]); the line rules'
// paths are relative to the element.
struct LinesRule {
  bool present = false;
  std::vector<JsonPath> each;  // alternatives; each ends in its only [*] step
  ValueRule code, description, amount, currency;
};

struct Condition {
  enum class Kind : std::uint8_t { kAlways, kExists, kNonEmpty, kEquals };
  Kind kind = Kind::kAlways;
  std::optional<JsonPath> path;
  std::string value;  // kEquals
};

struct EventTemplate {
  std::string name;
  Condition when;
  EventKind kind = EventKind::kMilestone;
  bool derive_id = false;
  ValueRule event_id;
  ValueRule occurred_at, shipment_id, order_id, customer_id, carrier;
  ValueRule status, source_code, reason_code;
  std::vector<ReferenceRule> references;
  LocationRule location;
  // kind "order"
  LocationRule ship_to;
  ValueRule promised_date, window_start, window_end;
  // kind "charges"
  ChargeBasis basis = ChargeBasis::kQuoted;
  ValueRule charges_document, charges_currency, charges_total;
  LinesRule lines;
  // kind "document"
  ValueRule document_type, document_number;
  // kind "estimate"
  EstimateOf estimate_of = EstimateOf::kDelivery;
  ValueRule estimated_at, issued_at;
};

struct CompiledMapping {
  int version = kMappingLanguageVersion;
  std::string format;
  std::string description;
  InputShape input = InputShape::kAuto;
  SourceSystem source_system = SourceSystem::kErp;
  // Value tables by name: source code -> canonical value. Rules point into this map.
  std::map<std::string, std::map<std::string, std::string, std::less<>>, std::less<>> tables;
  std::vector<EventTemplate> events;
};

// Compiles a mapping file's contents. Errors name the mapping file's JSON path and the reason;
// a newer language version is kUnsupported.
[[nodiscard]] Result<std::shared_ptr<const CompiledMapping>> CompileMapping(
    std::string_view mapping_file_json);

}  // namespace waybill::ingest::mapping
