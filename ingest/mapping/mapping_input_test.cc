// Input shapes, and the parts of the language the two shipped files do not use (milestones,
// estimates, documents, derived ids, epoch-ms, conditions), on a small TMS mapping.
#include <doctest/doctest.h>

#include "ingest/mapping/mapping_test_util.h"

namespace waybill::ingest::testing {
namespace {

std::string TmsMapping(std::string_view input) {
  std::string s = R"({"kind":"mapping","version":1,"format":"test-tms","input":")";
  s += input;
  s += R"(","source_system":"tms",
  "tables":{"status":{"PU":"PICKED_UP","DL":"DELIVERED"}},
  "events":[
    {"name":"status","when":{"exists":"status"},"kind":"milestone","event_id":"derive",
     "occurred_at":{"path":"ts","time":["epoch-ms","rfc3339"]},
     "shipment_id":{"path":"load.ref"},"carrier":{"path":"scac"},
     "status":{"path":"status","table":"status"},"reason_code":{"path":"reason"},
     "location":{"name":{"path":"stop.name"},"city":{"path":"stop.city"},
                 "country":{"path":"stop.country"},"unlocode":{"path":"stop.locode"}}},
    {"name":"eta","when":{"non_empty":"eta"},"kind":"estimate",
     "event_id":{"path":"msg_id","suffix":":eta"},
     "occurred_at":{"path":"ts","time":["epoch-ms","rfc3339"]},"shipment_id":{"path":"load.ref"},
     "estimate":{"of":"delivery","estimated_at":{"path":"eta","time":"rfc3339"}}},
    {"name":"pod","when":{"equals":{"path":"doc.type","value":"POD"}},"kind":"document",
     "event_id":{"path":"msg_id","suffix":":pod"},
     "occurred_at":{"path":"ts","time":["epoch-ms","rfc3339"]},"shipment_id":{"path":"load.ref"},
     "document":{"type":{"const":"proof_of_delivery"},"number":{"path":"doc.number"}}}
  ]})";
  return s;
}

std::unique_ptr<Adapter> Tms(std::string_view input = "auto") {
  auto a = MakeMappingAdapter(TmsMapping(input));
  REQUIRE_MESSAGE(a.ok(), a.status().ToString());
  return std::move(a).value();
}

TEST_CASE("mapping: milestone with table status, location, derived id, epoch-ms") {
  auto adapter = Tms();
  const std::string doc =
      R"({"msg_id":"m1","ts":1741012200000,"load":{"ref":"L-1"},"scac":"ABCD","status":"PU",)"
      R"("stop":{"name":"Dock 4","city":"Chicago","country":"US","locode":"USCHI"}})";
  auto messages = MapAll(*adapter, doc, "TMS1");
  REQUIRE(messages.size() == 1);
  REQUIRE_MESSAGE(messages[0].errors.empty(), Errors(messages[0]));
  REQUIRE(messages[0].events.size() == 1);
  const Event& e = messages[0].events[0];
  CHECK(e.kind == EventKind::kMilestone);
  CHECK(e.status == ShipmentStatus::kPickedUp);
  CHECK_FALSE(e.source_code.has_value());
  CHECK(e.carrier == std::string("ABCD"));
  CHECK(e.source.system == SourceSystem::kTms);
  CHECK(e.source.partner == std::string("TMS1"));
  CHECK(FormatUtc(e.occurred_at) == "2025-03-03T14:30:00Z");
  REQUIRE(e.location.has_value());
  CHECK(e.location->unlocode == std::string("USCHI"));
  CHECK(e.location->name == std::string("Dock 4"));
  CHECK(e.event_id.rfind("d:", 0) == 0);
  CHECK(e.event_id == DeriveEventId(e));

  // The same status in a new envelope (other msg_id, same content) is the same event id.
  std::string resent = doc;
  resent.replace(resent.find("\"m1\""), 4, "\"m2\"");
  auto again = MapAll(*adapter, resent, "TMS1");
  CHECK(again.at(0).events.at(0).event_id == e.event_id);
}

TEST_CASE("mapping: unknown status codes are kept as source_code, not guessed") {
  auto adapter = Tms();
  auto messages = MapAll(
      *adapter,
      R"({"ts":"2025-03-03T09:30:00-05:00","load":{"ref":"L-1"},"status":"XB","reason":"NS"})");
  REQUIRE(messages.size() == 1);
  REQUIRE_MESSAGE(messages[0].errors.empty(), Errors(messages[0]));
  const Event& e = messages[0].events.at(0);
  CHECK_FALSE(e.status.has_value());
  CHECK(e.source_code == std::string("XB"));
  CHECK(e.reason_code == std::string("NS"));
  CHECK(e.occurred_offset_minutes == -300);
}

TEST_CASE("mapping: one message, three templates, three distinct events") {
  auto adapter = Tms();
  auto messages = MapAll(*adapter, R"({"msg_id":"m9","ts":1741012200000,"load":{"ref":"L-2"},)"
                                   R"("status":"DL","eta":"2025-03-04T10:00:00+01:00",)"
                                   R"("doc":{"type":"POD","number":"POD-77"}})");
  REQUIRE(messages.size() == 1);
  REQUIRE_MESSAGE(messages[0].errors.empty(), Errors(messages[0]));
  const auto& ev = messages[0].events;
  REQUIRE(ev.size() == 3);
  CHECK(ev[0].status == ShipmentStatus::kDelivered);
  CHECK(ev[1].event_id == "m9:eta");
  CHECK(ev[1].kind == EventKind::kEstimate);
  CHECK(FormatUtc(ev[1].estimate->estimated_at) == "2025-03-04T09:00:00Z");
  CHECK(ev[1].estimate->issued_at == ev[1].occurred_at);
  CHECK(ev[1].estimate->of == EstimateOf::kDelivery);
  CHECK(ev[2].event_id == "m9:pod");
  CHECK(ev[2].document == DocumentBody{"proof_of_delivery", std::string("POD-77")});
}

TEST_CASE("mapping: a message no template applies to is rejected, not dropped") {
  auto adapter = Tms();
  auto messages = MapAll(*adapter, R"({"ts":1,"load":{"ref":"L-3"},"eta":""})");
  REQUIRE(messages.size() == 1);
  REQUIRE(messages[0].errors.size() == 1);
  CHECK(messages[0].errors[0] ==
        "$: no event template applies (status: $.status is missing; eta: $.eta is missing or "
        "empty; pod: $.doc.type is not \"POD\")");
}

TEST_CASE("mapping: oversize and control-character values are rejected with their path") {
  auto adapter = Tms();
  const std::string long_ref(300, 'x');
  auto messages = MapAll(
      *adapter, R"({"ts":1,"status":"PU","load":{"ref":")" + long_ref + R"("},"scac":"A\u0001"})");
  REQUIRE(messages.size() == 1);
  REQUIRE(messages[0].errors.size() == 2);
  CHECK(messages[0].errors[0].rfind("$.load.ref: \"xxx", 0) == 0);
  CHECK(messages[0].errors[0].find("is 300 bytes long, at most 256 are allowed") !=
        std::string::npos);
  CHECK(messages[0].errors[1] == "$.scac: \"A\\x01\" contains control characters");
}

TEST_CASE("input: auto detects one object, a pretty-printed object, arrays and NDJSON") {
  auto adapter = Tms();
  const std::string one = R"({"ts":1,"load":{"ref":"L"},"status":"PU"})";
  auto m = MapAll(*adapter, "\n  " + one + "\n\n");
  REQUIRE(m.size() == 1);
  CHECK(m[0].position == "$");
  CHECK(m[0].events.size() == 1);

  m = MapAll(*adapter, "{\n  \"ts\": 1,\n  \"load\": {\"ref\": \"L\"},\n  \"status\": \"PU\"\n}\n");
  REQUIRE(m.size() == 1);
  CHECK(m[0].position == "$");
  CHECK(m[0].events.size() == 1);

  const std::string ndjson = one + "\r\n" + R"({"ts":2,"load":{"ref":"M"},"status":"DL"})" + "\r\n";
  m = MapAll(*adapter, ndjson);
  REQUIRE(m.size() == 2);
  CHECK(m[0].position == "line 1");
  CHECK(m[0].unit == one);
  CHECK(m[1].position == "line 2");
  CHECK(m[1].events.at(0).shipment_id == "M");

  // A broken first line does not turn NDJSON into one broken object.
  const std::string broken_first = R"({"ts":1,"load":{"ref":"L"},"status":"PU",})"
                                   "\n" +
                                   one;
  m = MapAll(*adapter, broken_first);
  REQUIRE(m.size() == 2);
  CHECK(m[0].position == "line 1");
  CHECK(m[0].rejected());
  CHECK(m[1].events.size() == 1);

  m = MapAll(*adapter, "\xEF\xBB\xBF" + one);  // byte order mark
  REQUIRE(m.size() == 1);
  CHECK(m[0].events.size() == 1);

  m = MapAll(*adapter, "[]");
  CHECK(m.empty());

  const std::string two = "[" + one + ", 42]";
  m = MapAll(*adapter, two);
  REQUIRE(m.size() == 2);
  CHECK(m[0].unit == one);
  CHECK(m[1].unit == "42");
  REQUIRE(m[1].errors.size() == 1);
  CHECK(m[1].errors[0] == "$[1]: expected a JSON object, got number");
}

TEST_CASE("input: documents that cannot be parsed are one reject holding the whole document") {
  auto adapter = Tms();
  const std::string one = R"({"ts":1,"load":{"ref":"L"},"status":"PU"})";
  for (const std::string& doc : {std::string(""), std::string("  \n "), "[" + one + ", {\"ts\": ]",
                                 one + " trailing", std::string("{\"a\":1,")}) {
    INFO(doc);
    auto m = MapAll(*adapter, doc);
    REQUIRE(m.size() == 1);
    CHECK(m[0].position == "$");
    CHECK(m[0].unit == doc);
    REQUIRE(m[0].errors.size() == 1);
    CHECK(m[0].events.empty());
  }
  auto m = MapAll(*adapter, "[" + one + ", {\"ts\": ]");
  CHECK(m[0].errors[0].rfind("$[1]: malformed JSON at byte ", 0) == 0);
  m = MapAll(*adapter, "");
  CHECK(m[0].errors[0] == "$: empty document");
}

TEST_CASE("input: explicit shapes") {
  const std::string one = R"({"ts":1,"load":{"ref":"L"},"status":"PU"})";
  auto object = Tms("object");
  auto m = MapAll(*object, "[" + one + "]");
  REQUIRE(m.size() == 1);
  CHECK(m[0].errors.at(0) == "$: expected a JSON object, got array");

  auto array = Tms("array");
  m = MapAll(*array, one);
  REQUIRE(m.size() == 1);
  CHECK(m[0].errors.at(0) == "$: expected a JSON array, got object");

  auto ndjson = Tms("ndjson");
  m = MapAll(*ndjson, one);
  REQUIRE(m.size() == 1);
  CHECK(m[0].position == "line 1");
  m = MapAll(*ndjson, one + "\n[1]\n");
  REQUIRE(m.size() == 2);
  CHECK(m[1].errors.at(0) == "line 2: $: expected a JSON object, got array");
}

}  // namespace
}  // namespace waybill::ingest::testing
