#include "ingest/epcis/epcis_adapter.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "ingest/epcis/epcis_mappings.h"
#include "schemas/event_validate.h"
#include "schemas/time.h"

namespace waybill::ingest {
namespace {

std::string Fixture(const std::string& name) {
  const char* dir = std::getenv("WAYBILL_SOURCE_DIR");
  REQUIRE(dir != nullptr);
  std::ifstream in(std::string(dir) + "/tests/fixtures/epcis/" + name, std::ios::binary);
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

std::vector<Mapped> MapAll(const std::string& doc, std::optional<std::string> partner = "ACMEDC") {
  auto adapter = MakeEpcisAdapter();
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

const std::string kLocation00 = "urn:epc:id:sgln:4012345.00022.0";

}  // namespace

TEST_CASE("the embedded EPCIS mapping table parses and strips CBV prefixes") {
  const auto& m = EpcisMappingsEmbedded();
  REQUIRE_MESSAGE(m.ok(), m.status().ToString());
  CHECK(m->version == 1);
  CHECK(m->shipment_biz_transaction_type == "desadv");
  CHECK(m->BizStepShortName("shipping") == "shipping");
  CHECK(m->BizStepShortName("urn:epcglobal:cbv:bizstep:shipping") == "shipping");
  CHECK(m->BizStepShortName("https://ref.gs1.org/cbv/BizStep-receiving") == "receiving");
  CHECK(m->BizStepShortName("https://example.com/x") == "https://example.com/x");
  CHECK(m->BizTransactionTypeShortName("urn:epcglobal:cbv:btt:desadv") == "desadv");
  CHECK(m->BizTransactionTypeShortName("https://ref.gs1.org/cbv/BTT-desadv") == "desadv");
  CHECK(m->bizsteps.at("arriving") == ShipmentStatus::kAtDelivery);
  CHECK(m->bizsteps.at("accepting") == ShipmentStatus::kDelivered);
  CHECK(m->reference_types.at("po") == "PO");
}

TEST_CASE("bad EPCIS mapping tables are rejected naming the entry") {
  auto bad = ParseEpcisMappings(R"({"version":1,"bizstep_prefixes":[],
      "biz_transaction_type_prefixes":[],"bizsteps":{"shipping":"SHIPPED"},
      "shipment_biz_transaction_type":"desadv","reference_types":{}})");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("$.bizsteps.shipping") != std::string::npos);
  CHECK(ParseEpcisMappings(R"({"version":1})").status().message().find("$.bizstep_prefixes") !=
        std::string::npos);
  CHECK_FALSE(ParseEpcisMappings("[]").ok());
}

TEST_CASE("an EPCISDocument maps event by event") {
  const std::string doc = Fixture("shipment.jsonld");
  auto msgs = MapAll(doc);
  REQUIRE(msgs.size() == 8);
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    INFO("message " << i << ": " << AllErrors(msgs[i]));
    CHECK(msgs[i].position == "$.epcisBody.eventList[" + std::to_string(i) + "]");
    REQUIRE(msgs[i].errors.empty());
    REQUIRE(msgs[i].events.size() == 1);
    CHECK(msgs[i].unit_inside_document);
    CHECK(msgs[i].unit.front() == '{');
    CHECK(msgs[i].unit.back() == '}');
    const Event& e = msgs[i].events[0];
    CHECK(e.kind == EventKind::kMilestone);
    CHECK(e.shipment_id == "DESADV-4711");
    CHECK(e.source.system == SourceSystem::kCarrier);
    CHECK(e.source.format == "epcis");
    CHECK(e.source.partner == std::optional<std::string>("ACMEDC"));
    CHECK(e.correlation_id == std::optional<std::string>("DESADV-4711"));
    if (e.event_id.rfind("d:", 0) != 0) CHECK(msgs[i].unit.find(e.event_id) != std::string::npos);
  }

  SUBCASE("shipping is IN_TRANSIT at the read point, with the PO as reference") {
    const Event& e = msgs[0].events[0];
    CHECK(e.event_id ==
          "ni:///sha-256;4f1d6e8a0c2b3d5e7f9a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e"
          "?ver=CBV2.0");
    CHECK(e.status == ShipmentStatus::kInTransit);
    CHECK(e.source_code == std::optional<std::string>("shipping"));
    CHECK(Utc(e.occurred_at) == "2025-03-10T00:15:00Z");
    CHECK(e.occurred_offset_minutes == 480);
    CHECK(e.references == std::vector<Reference>{{"PO", "PO-77831"}});
    REQUIRE(e.location.has_value());
    CHECK(e.location->name == std::optional<std::string>("urn:epc:id:sgln:0614141.00777.0"));
  }
  SUBCASE("a UTC eventTime keeps offset 0: eventTimeZoneOffset is never applied") {
    const Event& e = msgs[1].events[0];
    CHECK(e.status == ShipmentStatus::kInTransit);
    CHECK(e.source_code == std::optional<std::string>("departing"));
    CHECK(Utc(e.occurred_at) == "2025-03-09T23:40:00Z");
    CHECK(e.occurred_offset_minutes == 0);
    CHECK(e.occurred_at < msgs[0].events[0].occurred_at);  // out of order in the file
    CHECK(e.references.empty());
  }
  SUBCASE("arriving (CBV web URI) is AT_DELIVERY at the business location") {
    const Event& e = msgs[2].events[0];
    CHECK(e.status == ShipmentStatus::kAtDelivery);
    CHECK(e.source_code == std::optional<std::string>("arriving"));
    CHECK(Utc(e.occurred_at) == "2025-03-14T11:05:30.25Z");
    CHECK(e.occurred_offset_minutes == -300);
    CHECK(e.location->name == std::optional<std::string>(kLocation00));
    CHECK(e.references == std::vector<Reference>{{"PO", "PO-77831"}});
  }
  SUBCASE("receiving is DELIVERED; without an eventID the id is derived from content") {
    const Event& e = msgs[3].events[0];
    CHECK(e.status == ShipmentStatus::kDelivered);
    CHECK(e.event_id.rfind("d:", 0) == 0);
    CHECK(e.event_id == DeriveEventId(e));
    CHECK(Utc(e.occurred_at) == "2025-03-14T13:30:00Z");
    CHECK(e.occurred_offset_minutes == 60);
    CHECK(e.location->name == std::optional<std::string>(kLocation00));  // not the readPoint
    CHECK(e.references == std::vector<Reference>{{"RECADV", "RA-0093"}});
  }
  SUBCASE("accepting is DELIVERED and every other bizTransaction is a reference") {
    const Event& e = msgs[4].events[0];
    CHECK(e.status == ShipmentStatus::kDelivered);
    std::vector<Reference> want{{"PO", "PO-77831"}, {"INV", "INV-2025-118"}};
    CHECK(e.references == want);
    CHECK(Utc(e.occurred_at) == "2025-03-14T14:00:00Z");
  }
  SUBCASE("other bizSteps keep their short name and no status") {
    CHECK_FALSE(msgs[5].events[0].status.has_value());
    CHECK(msgs[5].events[0].source_code == std::optional<std::string>("storing"));
    CHECK_FALSE(msgs[6].events[0].status.has_value());
    CHECK(msgs[6].events[0].source_code == std::optional<std::string>("ObjectEvent"));
    CHECK(Utc(msgs[6].events[0].occurred_at) == "2025-03-10T17:00:00Z");
    CHECK(msgs[6].events[0].occurred_offset_minutes == 540);
    CHECK_FALSE(msgs[6].events[0].location.has_value());
    CHECK(msgs[7].events[0].source_code ==
          std::optional<std::string>("https://example.com/bizstep/cross-docking"));
    CHECK(msgs[7].events[0].occurred_offset_minutes == 330);
  }
}

TEST_CASE("an EPCISQueryDocument and URI document numbers") {
  auto msgs = MapAll(Fixture("query.jsonld"));
  REQUIRE(msgs.size() == 1);
  CHECK(msgs[0].position == "$.epcisBody.queryResults.resultsBody.eventList[0]");
  INFO(AllErrors(msgs[0]));
  REQUIRE(msgs[0].events.size() == 1);
  const Event& e = msgs[0].events[0];
  CHECK(e.event_id == "urn:uuid:2f6a3c1e-6b8d-4f0a-9c1e-7d5b3a2f1e0d");
  CHECK(e.shipment_id == "4012345000054987");
  std::vector<Reference> want{
      {"PO", "12345678"}, {"BT", "X-1"}, {"urn:example:btt:customs", "MRN25DE000000000001"}};
  CHECK(e.references == want);
  CHECK(e.status == ShipmentStatus::kInTransit);
  CHECK(Utc(e.occurred_at) == "2025-04-01T05:45:00Z");
  CHECK(e.occurred_offset_minutes == -420);
}

TEST_CASE("a single EPCIS event is position $") {
  const std::string doc = Fixture("single_event.json");
  auto msgs = MapAll(doc, std::nullopt);
  REQUIRE(msgs.size() == 1);
  CHECK(msgs[0].position == "$");
  CHECK(msgs[0].unit.front() == '{');
  CHECK(msgs[0].unit.back() == '}');
  INFO(AllErrors(msgs[0]));
  REQUIRE(msgs[0].events.size() == 1);
  const Event& e = msgs[0].events[0];
  CHECK(e.shipment_id == "4012345.00001.D-88");
  CHECK(e.status == ShipmentStatus::kInTransit);
  CHECK(e.source_code == std::optional<std::string>("shipping"));
  CHECK(Utc(e.occurred_at) == "2025-02-01T04:00:00.5Z");
  CHECK(e.occurred_offset_minutes == 180);
  CHECK_FALSE(e.source.partner.has_value());
  // The same event inside a document is a duplicate: same derived id.
  auto wrapped =
      MapAll(R"({"type":"EPCISDocument","epcisBody":{"eventList":[)" + doc + "]}}", std::nullopt);
  REQUIRE(wrapped.size() == 1);
  REQUIRE(wrapped[0].events.size() == 1);
  CHECK(wrapped[0].events[0].event_id == e.event_id);
  CHECK(wrapped[0].unit == msgs[0].unit);
}

TEST_CASE("bad EPCIS events are rejected alone, each error naming the JSON path") {
  const std::string doc = Fixture("rejects.jsonld");
  auto msgs = MapAll(doc);
  REQUIRE(msgs.size() == 14);
  const std::string p = "$.epcisBody.eventList";
  auto rejected = [&](std::size_t i, const std::string& needle) {
    INFO("message " << i << ": " << AllErrors(msgs[i]));
    CHECK(msgs[i].unit_inside_document);
    CHECK(msgs[i].events.empty());
    CHECK(HasError(msgs[i], p + "[" + std::to_string(i) + "]" + needle));
  };
  rejected(0, ".bizTransactionList: no bizTransaction of type desadv");
  rejected(1, ".bizTransactionList: no bizTransaction of type desadv");
  rejected(2, ".eventTime: required");
  rejected(3, ".eventTime: \"2025-03-10T08:15:00\" is not an RFC 3339");
  rejected(4, ".eventTime: expected a string, got a number");
  rejected(5, ".type: unknown EPCIS event type \"SensorEvent\"");
  rejected(6, ".errorDeclaration: error declarations");
  rejected(7, ".bizTransactionList[1]: a second desadv \"DESADV-9999\" contradicts");
  rejected(8, ".eventID: is 300 bytes long, at most 256 are allowed");
  rejected(9, ".bizTransactionList: expected an array, got an object");
  rejected(10, ".readPoint: expected an object, got a string");
  rejected(11, ": expected an EPCIS event object, got a string");
  CHECK(msgs[11].unit == "\"oops\"");
  INFO(AllErrors(msgs[12]));
  REQUIRE(msgs[12].events.size() == 1);
  CHECK(msgs[12].events[0].event_id == "urn:uuid:00000000-0000-4000-8000-000000000012");
  CHECK(Utc(msgs[12].events[0].occurred_at) == "2025-03-10T06:15:00Z");
  rejected(13,
           ".bizTransactionList[0].bizTransaction: \"urn:epcglobal:cbv:bt:0614141000005:\" "
           "has no document number");
}

TEST_CASE("EPCIS documents that cannot be read are one rejected message") {
  SUBCASE("truncated JSON") {
    const std::string doc = Fixture("malformed.jsonld");
    auto msgs = MapAll(doc);
    REQUIRE(msgs.size() == 1);
    CHECK(msgs[0].position == "$");
    CHECK(msgs[0].unit == doc);
    CHECK(HasError(msgs[0], "$: not valid JSON"));
  }
  SUBCASE("no event list") {
    auto msgs = MapAll(Fixture("no_event_list.jsonld"));
    REQUIRE(msgs.size() == 1);
    CHECK(HasError(msgs[0], "$.epcisBody.eventList: required"));
  }
  SUBCASE("event list of the wrong type") {
    auto msgs = MapAll(R"({"type":"EPCISDocument","epcisBody":{"eventList":{}}})");
    REQUIRE(msgs.size() == 1);
    CHECK(HasError(msgs[0], "$.epcisBody.eventList: expected an array, got an object"));
  }
  SUBCASE("unknown document type") {
    auto msgs = MapAll(R"({"type":"EPCISMasterDataDocument","epcisBody":{}})");
    REQUIRE(msgs.size() == 1);
    CHECK(HasError(msgs[0], "$.type: \"EPCISMasterDataDocument\" is neither"));
  }
  SUBCASE("no type") {
    auto msgs = MapAll(R"({"epcisBody":{"eventList":[]}})");
    REQUIRE(msgs.size() == 1);
    CHECK(HasError(msgs[0], "$.type: required"));
  }
  SUBCASE("an array is not an EPCIS document") {
    auto msgs = MapAll("[]");
    REQUIRE(msgs.size() == 1);
    CHECK(HasError(msgs[0], "$: expected an EPCISDocument or an EPCIS event object, got an array"));
  }
  SUBCASE("deep nesting") {
    std::string deep = R"({"type":"EPCISDocument","epcisBody":{"eventList":[{"ilmd":)";
    for (int i = 0; i < 200; ++i) deep += "{\"a\":";
    deep += "1";
    for (int i = 0; i < 200; ++i) deep += "}";
    deep += "}]}}";
    auto msgs = MapAll(deep);
    REQUIRE(msgs.size() == 1);
    CHECK(msgs[0].unit == deep);
    CHECK(HasError(msgs[0], "$: not valid JSON"));
  }
  SUBCASE("an empty event list has no messages") {
    CHECK(MapAll(R"({"type":"EPCISDocument","epcisBody":{"eventList":[]}})").empty());
  }
}

}  // namespace waybill::ingest
