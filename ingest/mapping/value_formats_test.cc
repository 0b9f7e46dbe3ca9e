// Time formats, dates, exact money and paths of the mapping language.
#include "ingest/mapping/value_formats.h"

#include <doctest/doctest.h>

#include "ingest/mapping/json_path.h"
#include "ingest/mapping/json_tree.h"
#include "schemas/time.h"

namespace waybill::ingest::mapping {
namespace {

JsonNode Str(std::string_view s) {
  JsonNode n;
  n.type = JsonType::kString;
  n.text = s;
  return n;
}

JsonNode Num(std::string_view s) {
  JsonNode n;
  n.type = JsonType::kNumber;
  n.text = s;
  return n;
}

TEST_CASE("ms-date: UTC milliseconds; the offset suffix is informational") {
  auto t = ParseMsDate("/Date(1700000000000)/");
  REQUIRE(t.ok());
  CHECK(t->utc == 1700000000000LL * 1000000);
  CHECK(t->offset_minutes == 0);
  t = ParseMsDate("/Date(1700000000000+0100)/");
  REQUIRE(t.ok());
  CHECK(t->utc == 1700000000000LL * 1000000);  // never shifted by the suffix
  CHECK(t->offset_minutes == 60);
  t = ParseMsDate("/Date(1700000000000-0530)/");
  REQUIRE(t.ok());
  CHECK(t->offset_minutes == -330);
  t = ParseMsDate("/Date(-2208988800000)/");  // D365's "no date", 1900-01-01
  REQUIRE(t.ok());
  CHECK(FormatUtc(t->utc) == "1900-01-01T00:00:00Z");

  for (std::string_view bad : {"/Date()/", "/Date(abc)/", "Date(1700000000000)", "/Date(17+01)/",
                               "/Date(1700000000000+2400)/", "/Date(1700000000000)",
                               "1700000000000", "/Date(99999999999999999)/", "/Date(-)/"}) {
    INFO(bad);
    CHECK_FALSE(ParseMsDate(bad).ok());
  }
  CHECK(ParseMsDate("/Date(x)/").status().message() ==
        "\"/Date(x)/\": expected milliseconds since 1970-01-01T00:00:00Z (digits only)");
}

TEST_CASE("time formats on JSON values") {
  auto t = ParseTimeValue(Str("2025-03-03T15:05:12.25+01:00"), TimeFormat::kRfc3339);
  REQUIRE(t.ok());
  CHECK(FormatUtc(t->utc) == "2025-03-03T14:05:12.25Z");
  CHECK(t->offset_minutes == 60);
  t = ParseTimeValue(Num("1741012200000"), TimeFormat::kEpochMs);
  REQUIRE(t.ok());
  CHECK(FormatUtc(t->utc) == "2025-03-03T14:30:00Z");
  t = ParseTimeValue(Str("1741012200000"), TimeFormat::kEpochMs);
  REQUIRE(t.ok());
  CHECK(FormatUtc(t->utc) == "2025-03-03T14:30:00Z");
  CHECK_FALSE(ParseTimeValue(Num("1741012200000.5"), TimeFormat::kEpochMs).ok());
  t = ParseTimeValue(Str("2025-03-10"), TimeFormat::kDate);
  REQUIRE(t.ok());
  CHECK(FormatUtc(t->utc) == "2025-03-10T00:00:00Z");
  CHECK_FALSE(ParseTimeValue(Str("2025-02-29"), TimeFormat::kDate).ok());
  CHECK(ParseTimeValue(Num("1"), TimeFormat::kMsDate).status().message() ==
        "expected a string, got number");
}

TEST_CASE("dates: YYYY-MM-DD as given, /Date(ms)/ as its UTC date, RFC 3339 as its own date") {
  CHECK(*ParseDateValue(Str("2025-03-10"), TimeFormat::kDate) == "2025-03-10");
  CHECK(*ParseDateValue(Str("/Date(1741564800000)/"), TimeFormat::kMsDate) == "2025-03-10");
  CHECK(*ParseDateValue(Str("/Date(1741046400000+0100)/"), TimeFormat::kMsDate) == "2025-03-04");
  CHECK(*ParseDateValue(Str("2025-03-10T23:30:00-05:00"), TimeFormat::kRfc3339) == "2025-03-10");
  CHECK(*ParseDateValue(Num("1741564800000"), TimeFormat::kEpochMs) == "2025-03-10");
  CHECK_FALSE(ParseDateValue(Str("10.03.2025"), TimeFormat::kDate).ok());
}

TEST_CASE("money: exact decimals from strings and number tokens") {
  CHECK(*ParseMoneyValue(Str("2025.75"), "USD") == 202575);
  CHECK(*ParseMoneyValue(Num("2025.75"), "USD") == 202575);
  CHECK(*ParseMoneyValue(Num("90071992547409.93"), "USD") == 9007199254740993LL);
  CHECK(*ParseMoneyValue(Num("2.02575e3"), "USD") == 202575);
  CHECK(*ParseMoneyValue(Num("125E-2"), "USD") == 125);
  CHECK(*ParseMoneyValue(Num("-0.5"), "EUR") == -50);
  CHECK(*ParseMoneyValue(Num("1500"), "JPY") == 1500);
  CHECK(*ParseMoneyValue(Num("1.230"), "USD") == 123);
  CHECK_FALSE(ParseMoneyValue(Num("1.234"), "USD").ok());
  CHECK_FALSE(ParseMoneyValue(Num("1e300"), "USD").ok());
  CHECK_FALSE(ParseMoneyValue(Num("99999999999999999999"), "USD").ok());
  JsonNode b;
  b.type = JsonType::kBool;
  b.text = "true";
  CHECK(ParseMoneyValue(b, "USD").status().message() ==
        "expected a decimal string or a number, got boolean");
}

TEST_CASE("paths compile and resolve, with rendering of the input JSON path") {
  JsonTreeParser parser;
  JsonTree tree;
  REQUIRE(parser
              .ParseOne(R"({"data":{"items":{"results":[{"ref":"A"},{"ref":"B"}]},"n":null},)"
                        R"("s":"x","a.b":1})",
                        &tree)
              .ok());
  auto p = JsonPath::Parse("$.data.items.results[1].ref");
  REQUIRE(p.ok());
  LookupResult r = Resolve(tree, 0, *p);
  REQUIRE(r.outcome == Lookup::kFound);
  CHECK(tree[r.node].text == "B");
  CHECK(RenderPath("$[2]", *p) == "$[2].data.items.results[1].ref");

  p = JsonPath::Parse("data.items.results[2].ref");
  CHECK(Resolve(tree, 0, *p).outcome == Lookup::kMissing);
  p = JsonPath::Parse("data.n.x");
  CHECK(Resolve(tree, 0, *p).outcome == Lookup::kMissing);  // null on the way is absent
  p = JsonPath::Parse("s.x");
  r = Resolve(tree, 0, *p);
  CHECK(r.outcome == Lookup::kWrongType);
  CHECK(r.step == 1);
  CHECK(r.got == JsonType::kString);
  p = JsonPath::Parse("data.items[0]");
  r = Resolve(tree, 0, *p);
  CHECK(r.outcome == Lookup::kWrongType);
  CHECK(r.got == JsonType::kObject);

  auto each = JsonPath::Parse("Charges[*]");
  REQUIRE(each.ok());
  CHECK(each->each_count() == 1);
  CHECK(JsonPath::Parse("$").status().message() ==
        "path \"$\": names the whole message, not a value");
  CHECK(JsonPath::Parse("$x").status().message() ==
        "path \"$x\": expected '.' after '$' at position 1");
  CHECK(JsonPath::Parse("a.").status().message() == "path \"a.\": empty member name at position 2");
  CHECK(JsonPath::Parse("a[99999999999]").status().message() ==
        "path \"a[99999999999]\": index too large at position 2");
}

TEST_CASE("json tree: unescaping, number tokens, malformed input, depth") {
  JsonTreeParser parser;
  JsonTree tree;
  REQUIRE(parser.ParseOne(R"({"k\u00e9y":"a\"b\/c","n":-1.50e+2,"t":true,"z":null,"e":[]})", &tree)
              .ok());
  REQUIRE(tree.nodes.size() == 6);
  CHECK(tree[1].key == "k\xc3\xa9y");
  CHECK(tree[1].text == "a\"b/c");
  CHECK(tree[2].type == JsonType::kNumber);
  CHECK(tree[2].text == "-1.50e+2");
  CHECK(tree[3].text == "true");
  CHECK(tree[4].type == JsonType::kNull);
  CHECK(tree[5].type == JsonType::kArray);
  CHECK(tree[5].size == 0);
  CHECK(tree[0].size == 5);

  for (std::string_view bad : {R"({"a":01})", R"({"a":1.})", R"({"a":tru})", R"({"a":nul})",
                               R"({"a":1} x)", R"({"a":"\x"})", R"({"a" 1})", "{", "",
                               "{\"a\":\"\xff\"}", R"({"a":[1,]})", R"({"a":-})"}) {
    INFO(bad);
    Status st = parser.ParseOne(bad, &tree);
    CHECK_FALSE(st.ok());
    CHECK(st.message().rfind("malformed JSON", 0) == 0);
  }
  std::string deep(100, '[');
  deep += std::string(100, ']');
  Status st = parser.ParseOne("{\"a\":" + deep + "}", &tree);
  CHECK_FALSE(st.ok());
  CHECK(st.message().find("nested deeper than 64 levels") != std::string::npos);
}

}  // namespace
}  // namespace waybill::ingest::mapping
