#include "ingest/dcsa/dcsa_adapter.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "ingest/dcsa/dcsa_mappings.h"
#include "schemas/embedded_data.h"
#include "schemas/event_validate.h"
#include "schemas/time.h"

namespace waybill::ingest {
namespace {

std::string Fixture(const std::string& name) {
  const char* dir = std::getenv("WAYBILL_SOURCE_DIR");
  REQUIRE(dir != nullptr);
  std::ifstream in(std::string(dir) + "/tests/fixtures/dcsa/" + name, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing fixture " << name);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Mapped {
  std::string position;
  std::string unit;
  bool unit_inside_document = false;
  std::vector<Event> events;
  std::vector<std::string> errors;
};

std::vector<Mapped> MapAll(const std::string& doc, std::optional<std::string> partner = "MAEU") {
  auto adapter = MakeDcsaTntAdapter();
  AdapterContext ctx;
  PartnerProfiles profiles;
  ctx.profiles = &profiles;
  ctx.partner = std::move(partner);
  std::vector<Mapped> out;
  adapter->Map(doc, ctx, [&](MappedMessage&& m) {
    Mapped r;
    r.position = m.position;
    r.unit = std::string(m.unit);
    r.unit_inside_document =
        m.unit.data() >= doc.data() && m.unit.data() + m.unit.size() <= doc.data() + doc.size();
    r.events = std::move(m.events);
    r.errors = std::move(m.errors);
    // The contract: rejected messages carry no events, accepted ones only valid events.
    CHECK((r.errors.empty() || r.events.empty()));
    for (const auto& e : r.events) CHECK_MESSAGE(ValidateEvent(e).ok(), r.position);
    out.push_back(std::move(r));
  });
  return out;
}

std::string Utc(UnixNanos t) { return FormatUtc(t); }

bool HasError(const Mapped& m, const std::string& needle) {
  for (const auto& e : m.errors) {
    if (e.find(needle) != std::string::npos) return true;
  }
  return false;
}

std::string AllErrors(const Mapped& m) {
  std::string s;
  for (const auto& e : m.errors) s += e + "\n";
  return s;
}

}  // namespace

TEST_CASE("the embedded DCSA mapping table parses") {
  const auto& m = DcsaMappingsEmbedded();
  REQUIRE_MESSAGE(m.ok(), m.status().ToString());
  CHECK(m->version == 1);
  CHECK(m->classifiers.at("ACT") == DcsaClassifier::kActual);
  CHECK(m->classifiers.at("PLN") == DcsaClassifier::kEstimate);
  CHECK(m->classifiers.count("REQ") == 0);
  CHECK(m->document_reference_types.at("TRD (Transport Document)") == "TRD");
  CHECK(m->document_reference_types.at("BKG (Booking)") == "BKG");
  auto* load_laden = m->FindActual("EQUIPMENT", "LOAD", "LADEN", std::nullopt);
  REQUIRE(load_laden != nullptr);
  CHECK(load_laden->status == ShipmentStatus::kPickedUp);
  CHECK(m->FindActual("EQUIPMENT", "LOAD", "EMPTY", std::nullopt) == nullptr);
  CHECK(m->FindActual("EQUIPMENT", "LOAD", std::nullopt, std::nullopt) == nullptr);
  CHECK(m->FindActual("TRANSPORT", "ARRI", std::nullopt, "POTE") == nullptr);
  CHECK(m->FindActual("TRANSPORT", "ARRI", std::nullopt, "CLOC")->status ==
        ShipmentStatus::kAtDelivery);
  CHECK(m->FindEstimate("TRANSPORT", "ARRI", std::nullopt, "CLOC")->of == EstimateOf::kDelivery);
  CHECK(m->FindEstimate("TRANSPORT", "ARRI", std::nullopt, "POTE")->of == EstimateOf::kArrival);
  CHECK(m->FindEstimate("EQUIPMENT", "INSP", "LADEN", std::nullopt) == nullptr);
}

TEST_CASE("bad DCSA mapping tables are rejected naming the entry") {
  auto bad_status = ParseDcsaMappings(R"({"version":1,"classifiers":{"ACT":"actual"},
      "actual":[{"eventType":"TRANSPORT","code":"DEPA","status":"GONE"}],"estimate":[],
      "document_types":{},"document_reference_types":{}})");
  REQUIRE_FALSE(bad_status.ok());
  CHECK(bad_status.status().message().find("$.actual[0].status") != std::string::npos);
  auto no_version = ParseDcsaMappings(R"({"classifiers":{}})");
  CHECK(no_version.status().message().find("$.version") != std::string::npos);
  auto bad_of = ParseDcsaMappings(R"({"version":1,"classifiers":{},"actual":[],
      "estimate":[{"eventType":"TRANSPORT","code":"ARRI","of":"soon"}]})");
  CHECK(bad_of.status().message().find("$.estimate[0].of") != std::string::npos);
  CHECK_FALSE(ParseDcsaMappings("{").ok());
}

TEST_CASE("a DCSA voyage maps event by event, in document order") {
  const std::string doc = Fixture("voyage.json");
  auto msgs = MapAll(doc);
  REQUIRE(msgs.size() == 11);
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    INFO("message " << i << ": " << AllErrors(msgs[i]));
    CHECK(msgs[i].position == "$[" + std::to_string(i) + "]");
    REQUIRE(msgs[i].errors.empty());
    REQUIRE(msgs[i].events.size() == 1);
    CHECK(msgs[i].unit_inside_document);
    CHECK(msgs[i].unit.front() == '{');
    CHECK(msgs[i].unit.back() == '}');
    const Event& e = msgs[i].events[0];
    CHECK(msgs[i].unit.find(e.event_id) != std::string::npos);
    CHECK(e.source.system == SourceSystem::kCarrier);
    CHECK(e.source.format == "dcsa-tnt");
    CHECK(e.source.partner == std::optional<std::string>("MAEU"));
    CHECK_FALSE(e.source.principal.has_value());
    CHECK(IsZero(e.raw_hash));
    CHECK(e.correlation_id == std::optional<std::string>(e.shipment_id));
  }

  SUBCASE("laden LOAD is PICKED_UP, with the transport call's place and carrier") {
    const Event& e = msgs[0].events[0];
    CHECK(e.event_id == "5e51e72c-d872-11ea-811c-0242ac130003");
    CHECK(e.kind == EventKind::kMilestone);
    CHECK(e.status == ShipmentStatus::kPickedUp);
    CHECK(e.source_code == std::optional<std::string>("LOAD"));
    CHECK(Utc(e.occurred_at) == "2025-03-02T05:47:00Z");
    CHECK(e.occurred_offset_minutes == 480);
    CHECK(e.shipment_id == "MAEU221234567");  // the TRD reference, long spelling
    CHECK(e.carrier == std::optional<std::string>("MAEU"));
    std::vector<Reference> want{{"FF", "KN-88231"},
                                {"PO", "4500012345"},
                                {"BKG", "221234567"},
                                {"TRD", "MAEU221234567"},
                                {"EQ", "MSKU1234565"}};
    CHECK(e.references == want);
    REQUIRE(e.location.has_value());
    CHECK(e.location->unlocode == std::optional<std::string>("CNSHA"));
    CHECK(e.location->country == std::optional<std::string>("CN"));
    CHECK_FALSE(e.location->name.has_value());
  }
  SUBCASE("laden GTIN is PICKED_UP at the event location; earlier in time, later in the file") {
    const Event& e = msgs[1].events[0];
    CHECK(e.status == ShipmentStatus::kPickedUp);
    CHECK(Utc(e.occurred_at) == "2025-03-01T01:15:00Z");
    CHECK(e.occurred_at < msgs[0].events[0].occurred_at);
    CHECK(e.shipment_id == "MAEU221234567");  // TRD, short spelling
    CHECK_FALSE(e.carrier.has_value());
    REQUIRE(e.location.has_value());
    CHECK(e.location->name == std::optional<std::string>("Yangshan Deep Water Port Phase IV"));
    CHECK(e.location->city == std::optional<std::string>("Shanghai"));
    CHECK(e.location->country == std::optional<std::string>("CN"));  // "China" is not ISO
    CHECK(e.location->lat == std::optional<double>(30.6268));
    CHECK(e.location->lon == std::optional<double>(122.0638));
  }
  SUBCASE("DEPA is IN_TRANSIT and keeps the delay reason") {
    const Event& e = msgs[2].events[0];
    CHECK(e.status == ShipmentStatus::kInTransit);
    CHECK(e.source_code == std::optional<std::string>("DEPA"));
    CHECK(e.reason_code == std::optional<std::string>("WEA"));
    CHECK(Utc(e.occurred_at) == "2025-03-03T10:40:00Z");
    CHECK(e.occurred_offset_minutes == 480);
    CHECK(e.carrier == std::optional<std::string>("MAEU"));  // provider not stated
    CHECK(e.location->name == std::optional<std::string>("Yangshan Terminal Phase IV"));
    CHECK(e.location->unlocode == std::optional<std::string>("CNSHA"));
  }
  SUBCASE("EST ARRI is an arrival estimate issued at eventCreatedDateTime") {
    const Event& e = msgs[3].events[0];
    CHECK(e.kind == EventKind::kEstimate);
    CHECK_FALSE(e.status.has_value());
    REQUIRE(e.estimate.has_value());
    CHECK(e.estimate->of == EstimateOf::kArrival);
    CHECK(Utc(e.estimate->estimated_at) == "2025-04-02T04:00:00Z");
    CHECK(Utc(e.estimate->issued_at) == "2025-03-03T11:00:00Z");
    CHECK(e.occurred_at == e.estimate->issued_at);
    CHECK(e.occurred_offset_minutes == 0);
    CHECK_FALSE(e.carrier.has_value());  // SMDG operator code, not a SCAC
    CHECK(e.location->unlocode == std::optional<std::string>("NLRTM"));
  }
  SUBCASE("PLN DEPA is a departure estimate; the creation offset is kept") {
    const Event& e = msgs[4].events[0];
    CHECK(e.kind == EventKind::kEstimate);
    CHECK(e.estimate->of == EstimateOf::kDeparture);
    CHECK(Utc(e.estimate->estimated_at) == "2025-04-03T21:00:00Z");
    CHECK(Utc(e.estimate->issued_at) == "2025-03-20T13:00:00Z");
    CHECK(e.occurred_offset_minutes == -300);
  }
  SUBCASE("ARRI at a port terminal is not a final destination: source code only") {
    const Event& e = msgs[5].events[0];
    CHECK(e.kind == EventKind::kMilestone);
    CHECK_FALSE(e.status.has_value());
    CHECK(e.source_code == std::optional<std::string>("ARRI"));
    CHECK(Utc(e.occurred_at) == "2025-04-02T05:30:00Z");
    CHECK(e.occurred_offset_minutes == 120);
  }
  SUBCASE("other ACT codes keep their code and no status") {
    const Event& disc = msgs[6].events[0];
    CHECK_FALSE(disc.status.has_value());
    CHECK(disc.source_code == std::optional<std::string>("DISC"));
    const Event& empty_out = msgs[9].events[0];
    CHECK_FALSE(empty_out.status.has_value());
    CHECK(empty_out.source_code == std::optional<std::string>("GTOT"));
    CHECK(empty_out.shipment_id == "221234567");  // only a BKG reference yet
    CHECK(Utc(empty_out.occurred_at) == "2025-02-27T07:30:00Z");
  }
  SUBCASE("ARRI at a customer location is AT_DELIVERY") {
    const Event& e = msgs[7].events[0];
    CHECK(e.status == ShipmentStatus::kAtDelivery);
    CHECK(Utc(e.occurred_at) == "2025-04-04T12:20:00Z");
    REQUIRE(e.location.has_value());
    CHECK(e.location->name == std::optional<std::string>("Rheinmetall Logistics DC"));
    CHECK(e.location->city == std::optional<std::string>("Düsseldorf"));
    CHECK(e.location->region == std::optional<std::string>("NW"));
    CHECK(e.location->country == std::optional<std::string>("DE"));
    CHECK(e.location->unlocode == std::optional<std::string>("DEDUS"));
  }
  SUBCASE("a SHIPMENT event is a document event numbered by its TRD") {
    const Event& e = msgs[8].events[0];
    CHECK(e.kind == EventKind::kDocument);
    REQUIRE(e.document.has_value());
    CHECK(e.document->type == "bill_of_lading");
    CHECK(e.document->number == std::optional<std::string>("MAEU221234567"));
    CHECK(e.source_code == std::optional<std::string>("ISSU"));
    CHECK(e.shipment_id == "MAEU221234567");
    CHECK(Utc(e.occurred_at) == "2025-03-04T02:12:33Z");
    std::vector<Reference> want{{"CR", "ACME-IMPORT-77"}, {"TRD", "MAEU221234567"}};
    CHECK(e.references == want);
  }
  SUBCASE("an estimated laden gate-out is a delivery estimate; numeric coordinates work") {
    const Event& e = msgs[10].events[0];
    CHECK(e.kind == EventKind::kEstimate);
    CHECK(e.estimate->of == EstimateOf::kDelivery);
    CHECK(Utc(e.estimate->estimated_at) == "2025-04-04T06:00:00Z");
    CHECK(Utc(e.estimate->issued_at) == "2025-04-03T03:30:00Z");
    CHECK(e.occurred_offset_minutes == 330);
    CHECK(e.location->lat == std::optional<double>(51.9515));
    CHECK(e.location->lon == std::optional<double>(4.0431));
  }
}

TEST_CASE("mapping is deterministic: the same bytes give the same events") {
  const std::string doc = Fixture("voyage.json");
  auto a = MapAll(doc);
  auto b = MapAll(doc, "MAEU");
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i].events == b[i].events);
}

TEST_CASE("shipment id precedence: SI, then TRD, then BKG; none is a reject") {
  auto msgs = MapAll(Fixture("references.json"));
  REQUIRE(msgs.size() == 5);
  REQUIRE(msgs[0].events.size() == 1);
  CHECK(msgs[0].events[0].shipment_id == "SHPR-REF-0042");
  std::vector<Reference> want{{"FF", "DHL-555"},
                              {"SI", "SHPR-REF-0042"},
                              {"BKG", "HLCU-BKG-9001"},
                              {"TRD", "HLCUFXT250500017"}};
  CHECK(msgs[0].events[0].references == want);
  REQUIRE(msgs[1].events.size() == 1);
  CHECK(msgs[1].events[0].shipment_id == "HLCUFXT250500017");
  REQUIRE(msgs[2].events.size() == 1);
  CHECK(msgs[2].events[0].shipment_id == "HLCU-BKG-9001");
  CHECK(msgs[2].events[0].references == std::vector<Reference>{{"BKG", "HLCU-BKG-9001"}});

  CHECK(msgs[3].events.empty());
  CHECK(HasError(msgs[3], "$[3].references: no shipment reference"));
  CHECK(msgs[4].events.empty());
  CHECK(HasError(msgs[4], "$[4].references: no shipment reference"));
}

TEST_CASE("bad events are rejected alone, each error naming the JSON path") {
  const std::string doc = Fixture("rejects.json");
  auto msgs = MapAll(doc);
  REQUIRE(msgs.size() == 16);
  for (const auto& m : msgs) CHECK(m.unit_inside_document);
  auto rejected = [&](std::size_t i, const std::string& needle) {
    INFO("message " << i << ": " << AllErrors(msgs[i]));
    CHECK(msgs[i].events.empty());
    CHECK(HasError(msgs[i], needle));
  };
  rejected(0, "$[0].eventDateTime: expected a string, got a number");
  rejected(1, "$[1].eventDateTime: required");
  rejected(2, "$[2].eventDateTime: \"2025-02-30T10:00:00+01:00\" is not an RFC 3339");
  rejected(3, "$[3].eventDateTime: \"2025-03-01T10:00:00\" is not an RFC 3339");
  rejected(4, "$[4].eventType: unknown event type \"OPERATIONS\"");
  rejected(5, "$[5].eventClassifierCode: classifier \"REQ\" is not mapped");
  rejected(6, "$[6].eventID: is 300 bytes long, at most 256 are allowed");
  rejected(7, "$[7].transportCall.UNLocationCode: \"Rotterdam\" is not a UN/LOCODE");
  rejected(8, "$[8].eventLocation.latitude: must be within [-90, 90]");
  rejected(9, "$[9]: expected an event object, got a number");
  CHECK(msgs[9].unit == "42");
  rejected(10, "$[10].eventCreatedDateTime: required");
  rejected(11, "$[11].equipmentEventTypeCode: no estimate rule for EQUIPMENT \"INSP\"");
  rejected(12, "$[12].references: expected an array, got an object");
  INFO(AllErrors(msgs[13]));
  REQUIRE(msgs[13].events.size() == 1);
  CHECK(msgs[13].events[0].event_id == "22222222-0000-4000-8000-000000000013");
  CHECK(msgs[13].events[0].status == ShipmentStatus::kInTransit);
  rejected(14, "$[14].eventType: required");
  CHECK(HasError(msgs[14], "$[14].eventDateTime: required"));
  rejected(15, "$[15].references[0].referenceValue: is 257 bytes long");
}

TEST_CASE("a single event object is position $ with the whole object as unit") {
  const std::string doc = Fixture("single.json");
  auto msgs = MapAll(doc, std::nullopt);
  REQUIRE(msgs.size() == 1);
  CHECK(msgs[0].position == "$");
  CHECK(msgs[0].unit.front() == '{');
  CHECK(msgs[0].unit.back() == '}');
  REQUIRE(msgs[0].events.size() == 1);
  const Event& e = msgs[0].events[0];
  CHECK(e.event_id == "b1e5c7a2-3d4f-4e6a-8b9c-0d1e2f3a4b5c");
  CHECK(e.shipment_id == "EXP-2025-0611");
  CHECK(e.status == ShipmentStatus::kPickedUp);
  CHECK(Utc(e.occurred_at) == "2025-06-10T11:00:00Z");
  CHECK(e.occurred_offset_minutes == 330);
  CHECK_FALSE(e.source.partner.has_value());
  CHECK(e.location->country == std::optional<std::string>("IN"));
}

TEST_CASE("documents that cannot be read are one rejected message with the whole document") {
  SUBCASE("truncated JSON") {
    const std::string doc = Fixture("malformed.json");
    auto msgs = MapAll(doc);
    REQUIRE(msgs.size() == 1);
    CHECK(msgs[0].position == "$");
    CHECK(msgs[0].unit == doc);
    CHECK(HasError(msgs[0], "$: not valid JSON"));
  }
  SUBCASE("the T&T 3.0 envelope") {
    auto msgs = MapAll(Fixture("v3_envelope.json"));
    REQUIRE(msgs.size() == 1);
    CHECK(HasError(msgs[0], "T&T 3.0"));
  }
  SUBCASE("not an object or array") {
    auto msgs = MapAll("\"hello\"");
    REQUIRE(msgs.size() == 1);
    CHECK(HasError(msgs[0], "$: expected an event object or an array of event objects"));
  }
  SUBCASE("empty input") {
    auto msgs = MapAll("");
    REQUIRE(msgs.size() == 1);
    CHECK(msgs[0].unit.empty());
    CHECK_FALSE(msgs[0].errors.empty());
  }
  SUBCASE("deep nesting") {
    std::string deep = "[{\"x\":";
    for (int i = 0; i < 100; ++i) deep += "[";
    for (int i = 0; i < 100; ++i) deep += "]";
    deep += "}]";
    auto msgs = MapAll(deep);
    REQUIRE(msgs.size() == 1);
    CHECK(msgs[0].unit == deep);
    CHECK(HasError(msgs[0], "$: not valid JSON"));
  }
  SUBCASE("an empty array has no messages") { CHECK(MapAll(" [ ] ").empty()); }
}

TEST_CASE("events without an eventID get a content-derived id") {
  std::string doc = Fixture("single.json");
  const std::string id_field = "\"eventID\": \"b1e5c7a2-3d4f-4e6a-8b9c-0d1e2f3a4b5c\",";
  REQUIRE(doc.find(id_field) != std::string::npos);
  doc.erase(doc.find(id_field), id_field.size());
  auto a = MapAll(doc);
  REQUIRE(a.size() == 1);
  REQUIRE(a[0].events.size() == 1);
  CHECK(a[0].events[0].event_id.rfind("d:", 0) == 0);
  CHECK(a[0].events[0].event_id == DeriveEventId(a[0].events[0]));
  // Re-sent in another envelope (an array, other whitespace): the same id.
  auto b = MapAll("[" + doc + "]");
  REQUIRE(b.size() == 1);
  REQUIRE(b[0].events.size() == 1);
  CHECK(b[0].events[0].event_id == a[0].events[0].event_id);
}

}  // namespace waybill::ingest
