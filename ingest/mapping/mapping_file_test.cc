// The mapping-file loader: its errors, and every shipped mapping file loads.
#include <doctest/doctest.h>
#include <simdjson.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "ingest/mapping/mapping_test_util.h"
#include "schemas/embedded_data.h"

namespace waybill::ingest::testing {
namespace {

// A valid minimal mapping with `templ` as its only event template (JSON object text).
std::string WithTemplate(std::string_view templ) {
  std::string s = R"({"kind":"mapping","version":1,"format":"test-erp","source_system":"erp",)"
                  R"("tables":{"st":{"R":"ORDER_RELEASED","X":"SHIPPED"},"ok":{"A":"AT_PICKUP"}},)"
                  R"("events":[)";
  s += templ;
  s += "]}";
  return s;
}

constexpr std::string_view kBase =
    R"("name":"e","kind":"order","event_id":{"path":"id"},)"
    R"("occurred_at":{"path":"t","time":"rfc3339"},"shipment_id":{"path":"s"})";

std::string Templ(std::string_view extra) {
  std::string s = "{";
  s += kBase;
  s += extra;
  s += "}";
  return s;
}

std::string LoadError(std::string_view mapping) {
  auto r = MakeMappingAdapter(mapping);
  INFO("mapping: ", mapping);
  REQUIRE_FALSE(r.ok());
  return r.status().message();
}

TEST_CASE("mapping file: a minimal file loads") {
  auto r = MakeMappingAdapter(WithTemplate(Templ("")));
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK((*r)->format() == "test-erp");
}

TEST_CASE("mapping file: top-level errors name the JSON path") {
  CHECK(LoadError("{\"kind\":").rfind("$: not valid JSON", 0) == 0);
  CHECK(LoadError("[]") == "$: expected an object, got array");
  CHECK(LoadError(R"({"version":1,"format":"x","source_system":"erp","events":[]})") ==
        "$.kind: required (\"mapping\")");
  CHECK(LoadError(R"({"kind":"table","version":1})") ==
        "$.kind: expected \"mapping\", got \"table\"");
  CHECK(LoadError(R"({"kind":"mapping","format":"x","source_system":"erp","events":[]})") ==
        "$.version: required (the mapping language version, 1)");
  CHECK(LoadError(R"({"kind":"mapping","version":"1"})") ==
        "$.version: expected an integer, got string");
  auto newer = MakeMappingAdapter(R"({"kind":"mapping","version":2})");
  REQUIRE_FALSE(newer.ok());
  CHECK(newer.status().code() == ErrorCode::kUnsupported);
  CHECK(newer.status().message() ==
        "$.version: mapping language version 2 is newer than this Waybill reads (1)");
  CHECK(LoadError(R"({"kind":"mapping","version":1,"format":"Bad Name"})") ==
        "$.format: \"Bad Name\" is not a format name (lower-case letters, digits, '-' and '_', "
        "at most 64, starting with a letter or digit)");
  CHECK(LoadError(R"({"kind":"mapping","version":1,"format":"x","source_system":"sap"})") ==
        "$.source_system: unknown source system \"sap\" (expected erp, tms, carrier or ops)");
  CHECK(LoadError(R"({"kind":"mapping","version":1,"format":"x","input":"xml"})") ==
        "$.input: unknown input shape \"xml\" (expected object, array, ndjson or auto)");
  CHECK(LoadError(R"({"kind":"mapping","version":1,"format":"x","colour":1})") ==
        "$.colour: unknown key (expected one of $schema, kind, version, format, description, "
        "input, source_system, tables, events)");
  CHECK(LoadError(R"({"kind":"mapping","version":1,"format":"x","source_system":"erp",)"
                  R"("events":[]})") == "$.events: must hold at least one event template");
}

TEST_CASE("mapping file: bad path syntax") {
  CHECK(LoadError(WithTemplate(Templ(R"(,"order_id":{"path":"data..x"})"))) ==
        "$.events[0].order_id.path: path \"data..x\": empty member name at position 5");
  CHECK(LoadError(WithTemplate(Templ(R"(,"order_id":{"path":"items[x]"})"))) ==
        "$.events[0].order_id.path: path \"items[x]\": expected an index (digits) or '*' inside "
        "[] at position 6");
  CHECK(LoadError(WithTemplate(Templ(R"(,"order_id":{"path":"items[0"})"))) ==
        "$.events[0].order_id.path: path \"items[0\": unclosed '[' at position 5");
  CHECK(LoadError(WithTemplate(Templ(R"(,"order_id":{"path":["a.b","c]"]})"))) ==
        "$.events[0].order_id.path[1]: path \"c]\": expected '.' or '[' at position 1");
  CHECK(LoadError(WithTemplate(Templ(R"(,"order_id":{"path":"items[*].x"})"))) ==
        "$.events[0].order_id.path: path \"items[*].x\": [*] selects many values and a field "
        "takes one; use [0] for the first, or a lines rule's \"each\"");
  CHECK(LoadError(WithTemplate(Templ(R"(,"order_id":{"path":""})"))) ==
        "$.events[0].order_id.path: path \"\": must not be empty");
}

TEST_CASE("mapping file: time formats") {
  CHECK(LoadError(WithTemplate(
            R"({"name":"e","kind":"order","event_id":{"path":"id"},)"
            R"("occurred_at":{"path":"t","time":"iso"},"shipment_id":{"path":"s"}})")) ==
        "$.events[0].occurred_at.time: unknown time format \"iso\" (expected one of rfc3339, "
        "ms-date, epoch-ms, date)");
  CHECK(LoadError(WithTemplate(R"({"name":"e","kind":"order","event_id":{"path":"id"},)"
                               R"("occurred_at":{"path":"t"},"shipment_id":{"path":"s"}})")) ==
        "$.events[0].occurred_at.time: required for a time field (one of rfc3339, ms-date, "
        "epoch-ms, date)");
  CHECK(LoadError(WithTemplate(Templ(R"(,"order":{"promised":{"date":{"path":"d","time":)"
                                     R"(["date","unix"]}}})"))) ==
        "$.events[0].order.promised.date.time[1]: unknown time format \"unix\" (expected one "
        "of rfc3339, ms-date, epoch-ms, date)");
  CHECK(LoadError(WithTemplate(Templ(R"(,"order_id":{"path":"o","time":"date"})"))) ==
        "$.events[0].order_id.time: only time and date fields take a time format");
}

TEST_CASE("mapping file: template errors") {
  CHECK(LoadError(WithTemplate(Templ(R"(,"shipment":{"path":"x"})")))
            .rfind("$.events[0].shipment: unknown key (expected one of name, ", 0) == 0);
  CHECK(LoadError(WithTemplate(Templ(R"(,"order_id":{"path":"a","const":"b"})"))) ==
        "$.events[0].order_id: needs exactly one of \"path\" and \"const\"");
  CHECK(LoadError(WithTemplate(Templ(R"(,"order_id":"o")"))) ==
        "$.events[0].order_id: expected a value rule (an object with \"path\" or \"const\"), got "
        "string");
  CHECK(LoadError(WithTemplate(Templ(R"(,"status":{"const":"SHIPPED"})"))) ==
        "$.events[0].status.const: \"SHIPPED\" is not a canonical status");
  CHECK(LoadError(WithTemplate(Templ(R"(,"status":{"path":"st","table":"st"})"))) ==
        "$.events[0].status.table: table entry \"X\" -> \"SHIPPED\" is not a canonical status");
  CHECK(LoadError(WithTemplate(Templ(R"(,"status":{"path":"st","table":"nope"})"))) ==
        "$.events[0].status.table: unknown table \"nope\" (tables: ok, st)");
  CHECK(LoadError(WithTemplate(Templ(R"(,"status":{"path":"st"})")))
            .rfind("$.events[0].status: a status comes from a table", 0) == 0);
  CHECK(LoadError(WithTemplate(Templ(R"(,"order_id":{"path":"o","suffix":"x"})"))) ==
        "$.events[0].order_id.suffix: only event_id takes a suffix");
  CHECK(LoadError(WithTemplate(R"({"name":"e","kind":"order","event_id":{"const":"1"},)"
                               R"("occurred_at":{"path":"t","time":"rfc3339"},)"
                               R"("shipment_id":{"path":"s"}})"))
            .rfind("$.events[0].event_id.const: a constant id would make every message", 0) == 0);
  CHECK(LoadError(WithTemplate(R"({"name":"e","kind":"order","event_id":"hash",)"
                               R"("occurred_at":{"path":"t","time":"rfc3339"},)"
                               R"("shipment_id":{"path":"s"}})")) ==
        "$.events[0].event_id: expected a path rule or \"derive\", got \"hash\"");
  CHECK(LoadError(WithTemplate(R"({"name":"e","kind":"parcel","event_id":"derive"})")) ==
        "$.events[0].kind: unknown kind \"parcel\" (expected milestone, estimate, charges, order "
        "or document)");
  CHECK(LoadError(WithTemplate(R"({"name":"e","kind":"milestone","event_id":"derive",)"
                               R"("occurred_at":{"path":"t","time":"rfc3339"},)"
                               R"("shipment_id":{"path":"s"}})")) ==
        "$.events[0]: a milestone needs a status or a source_code rule");
  CHECK(LoadError(WithTemplate(Templ(R"(,"charges":{"basis":"quoted"})"))) ==
        "$.events[0].charges: not allowed for kind \"order\"");
  CHECK(LoadError(WithTemplate(R"({"name":"e","kind":"charges","event_id":"derive",)"
                               R"("occurred_at":{"path":"t","time":"rfc3339"},)"
                               R"("shipment_id":{"path":"s"}})")) ==
        "$.events[0].charges: required for kind \"charges\"");
  CHECK(LoadError(WithTemplate(
            R"({"name":"e","kind":"charges","event_id":"derive",)"
            R"("occurred_at":{"path":"t","time":"rfc3339"},"shipment_id":{"path":"s"},)"
            R"("charges":{"basis":"quoted","currency":{"const":"USD"},)"
            R"("lines":{"each":"Charges","code":{"path":"c"},"amount":{"path":"a"}}}})")) ==
        "$.events[0].charges.lines.each: path \"Charges\": an \"each\" path ends in [*] and has "
        "no other [*] (\"Charges[*]\")");
  CHECK(LoadError(WithTemplate(Templ(R"(,"when":{"exists":"a","non_empty":"b"})"))) ==
        "$.events[0].when: needs exactly one of exists, non_empty, equals");
  CHECK(LoadError(WithTemplate(Templ(R"(,"when":"sometimes")"))) ==
        "$.events[0].when: expected \"always\" or an object with exists, non_empty or equals");
  CHECK(LoadError(WithTemplate(Templ(R"(,"order_id":{"path":"a"},"order_id":{"path":"b"})"))) ==
        "$.events[0].order_id: duplicate key");
}

TEST_CASE("mapping file: two templates giving one message two events with one id") {
  const std::string two = WithTemplate(Templ("") + "," +
                                       R"({"name":"f","kind":"order","event_id":{"path":"id"},)"
                                       R"("occurred_at":{"path":"t","time":"rfc3339"},)"
                                       R"("shipment_id":{"path":"s"}})");
  CHECK(LoadError(two).rfind("$.events[1].event_id: gives the same id as events[0]", 0) == 0);
  const std::string same_name = WithTemplate(Templ("") + "," + Templ(""));
  CHECK(LoadError(same_name) == "$.events[1].name: duplicate template name \"e\" (also events[0])");
}

// Every file under schemas/mappings with "kind": "mapping" loads, and is the embedded set.
TEST_CASE("mapping file: every shipped mapping file loads and is embedded") {
  const std::filesystem::path dir = std::filesystem::path(SourceDir()) / "schemas" / "mappings";
  std::set<std::string> on_disk;
  simdjson::dom::parser parser;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    const std::string text = ReadFile(entry.path().string());
    simdjson::dom::element root;
    REQUIRE_MESSAGE(parser.parse(text).get(root) == simdjson::SUCCESS, entry.path().string());
    std::string_view kind;
    if (root["kind"].get(kind) != simdjson::SUCCESS || kind != "mapping") continue;
    INFO("file: ", entry.path().string());
    auto adapter = MakeMappingAdapter(text);
    REQUIRE_MESSAGE(adapter.ok(), adapter.status().ToString());
    // The format is the file's name, so `--format NAME` finds mappings/NAME.json.
    CHECK((*adapter)->format() == entry.path().stem().string());
    on_disk.insert(entry.path().stem().string());
    // The embedded copy is the same bytes as the file.
    auto embedded = EmbeddedFile("mappings/" + entry.path().filename().string());
    REQUIRE(embedded.has_value());
    CHECK(*embedded == text);
  }
  CHECK(on_disk.count("sap-s4-delivery") == 1);
  CHECK(on_disk.count("d365-sales-order") == 1);
  const std::vector<std::string> formats = EmbeddedMappingFormats();
  CHECK(std::set<std::string>(formats.begin(), formats.end()) == on_disk);
  for (const std::string& f : formats) {
    auto adapter = MakeEmbeddedMappingAdapter(f);
    REQUIRE_MESSAGE(adapter.ok(), adapter.status().ToString());
    CHECK((*adapter)->format() == f);
  }
  auto missing = MakeEmbeddedMappingAdapter("x12-214-status");  // a code table, not a mapping
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == ErrorCode::kNotFound);
}

TEST_CASE("mapping file: the JSON Schema of the language is valid JSON and names every key") {
  const std::string text = ReadFile(SourceDir() + "/schemas/mapping.schema.json");
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  REQUIRE(parser.parse(text).get(root) == simdjson::SUCCESS);
  simdjson::dom::object props;
  REQUIRE(root["properties"].get(props) == simdjson::SUCCESS);
  std::set<std::string> keys;
  for (auto kv : props) keys.insert(std::string(kv.key));
  CHECK(keys == std::set<std::string>{"$schema", "kind", "version", "format", "description",
                                      "input", "source_system", "tables", "events"});
}

}  // namespace
}  // namespace waybill::ingest::testing
