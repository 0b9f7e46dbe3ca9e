// schemas/mappings/sap-s4-delivery.json against SAP S/4HANA outbound delivery CloudEvents.
#include <doctest/doctest.h>

#include "ingest/mapping/mapping_test_util.h"

namespace waybill::ingest::testing {
namespace {

constexpr std::string_view kCreated = "sap.s4.beh.outbounddelivery.v1.OutboundDelivery.Created.v1";

TEST_CASE("sap-s4-delivery: a Created CloudEvent in OData v2 shape is an order release") {
  auto adapter = Embedded("sap-s4-delivery");
  CHECK(adapter->format() == "sap-s4-delivery");
  const std::string doc = Fixture("sap-s4-delivery-created.json");
  auto messages = MapAll(*adapter, doc);
  REQUIRE(messages.size() == 1);
  const MappedMessage& m = messages[0];
  CHECK(m.position == "$");
  CHECK(m.unit == doc);
  REQUIRE_MESSAGE(m.errors.empty(), Errors(m));
  REQUIRE(m.events.size() == 1);
  const Event& e = m.events[0];
  CHECK(e.event_id == "6f2d1c9e-4b1a-1eef-a5c1-0a58a9feac04");  // the CloudEvents id
  CHECK(e.kind == EventKind::kOrder);
  CHECK(e.status == ShipmentStatus::kOrderReleased);
  CHECK(e.source_code == std::string(kCreated));
  // The CloudEvents time, not CreationDate/CreationTime (SAP local time).
  CHECK(FormatUtc(e.occurred_at) == "2025-03-03T14:30:00Z");
  CHECK(e.occurred_offset_minutes == 0);
  CHECK(e.source.system == SourceSystem::kErp);
  CHECK(e.source.format == "sap-s4-delivery");
  CHECK_FALSE(e.source.partner.has_value());
  CHECK(e.shipment_id == "80000123");
  CHECK(e.order_id == std::string("4500017"));
  CHECK(e.customer_id == std::string("17100001"));
  CHECK(e.correlation_id == std::string("4500017/80000123"));
  REQUIRE(e.references.size() == 1);
  CHECK(e.references[0] == Reference{"SHIPPING_POINT", "1710"});
  REQUIRE(e.order.has_value());
  REQUIRE(e.order->ship_to.has_value());
  CHECK(e.order->ship_to->name == std::string("17100002"));
  REQUIRE(e.order->promised.has_value());
  // DeliveryDate "/Date(1741564800000)/" is the promised date, not an ETA.
  CHECK(e.order->promised->date == std::string("2025-03-10"));
  CHECK_FALSE(e.order->promised->window_start.has_value());
  CHECK_FALSE(e.estimate.has_value());
  CHECK_FALSE(e.location.has_value());
}

TEST_CASE("sap-s4-delivery: the channel's partner is kept") {
  auto adapter = Embedded("sap-s4-delivery");
  const std::string doc = Fixture("sap-s4-delivery-created.json");
  auto messages = MapAll(*adapter, doc, "S4PRD-100");
  REQUIRE(messages.size() == 1);
  REQUIRE(messages[0].events.size() == 1);
  CHECK(messages[0].events[0].source.partner == std::string("S4PRD-100"));
}

TEST_CASE("sap-s4-delivery: CreationDate and CreationTime never change the event time") {
  auto adapter = Embedded("sap-s4-delivery");
  std::string doc = Fixture("sap-s4-delivery-created.json");
  const std::string before = "\"CreationDate\": \"/Date(1740960000000)/\"";
  REQUIRE(doc.find(before) != std::string::npos);
  doc.replace(doc.find(before), before.size(), "\"CreationDate\": \"/Date(1262304000000)/\"");
  doc.replace(doc.find("PT09:30:00"), 10, "PT23:59:59");
  auto messages = MapAll(*adapter, doc);
  REQUIRE(messages.size() == 1);
  REQUIRE(messages[0].events.size() == 1);
  CHECK(FormatUtc(messages[0].events[0].occurred_at) == "2025-03-03T14:30:00Z");
}

TEST_CASE("sap-s4-delivery: NDJSON of several events, with rejects naming line and path") {
  auto adapter = Embedded("sap-s4-delivery");
  const std::string doc = Fixture("sap-s4-delivery-events.ndjson");
  auto messages = MapAll(*adapter, doc);
  REQUIRE(messages.size() == 9);  // 10 lines, one blank

  SUBCASE("line 1: offset kept, UTC exact, OData v2 items") {
    const MappedMessage& m = messages[0];
    CHECK(m.position == "line 1");
    CHECK(m.unit.substr(0, 18) == "{\"specversion\":\"1.");
    CHECK(m.unit.back() == '}');
    REQUIRE_MESSAGE(m.errors.empty(), Errors(m));
    REQUIRE(m.events.size() == 1);
    const Event& e = m.events[0];
    CHECK(e.event_id == "sap-evt-0001");
    CHECK(e.occurred_at == Ms(1741010712250));  // 2025-03-03T15:05:12.25+01:00
    CHECK(FormatUtc(e.occurred_at) == "2025-03-03T14:05:12.25Z");
    CHECK(e.occurred_offset_minutes == 60);
    CHECK(e.order_id == std::string("4500018"));
    CHECK(e.order->promised->date == std::string("2025-03-04"));
  }
  SUBCASE("line 2: Changed, items as a plain array, DeliveryDate as YYYY-MM-DD") {
    const MappedMessage& m = messages[1];
    CHECK(m.position == "line 2");
    REQUIRE_MESSAGE(m.errors.empty(), Errors(m));
    REQUIRE(m.events.size() == 1);
    const Event& e = m.events[0];
    CHECK(e.event_id == "sap-evt-0002");
    CHECK(e.status == ShipmentStatus::kOrderReleased);
    CHECK(e.order_id == std::string("4500018"));
    CHECK(e.order->promised->date == std::string("2025-03-05"));
    CHECK(e.references.empty());  // no ShippingPoint in this message
  }
  SUBCASE("line 3: an event type the table does not know keeps its code, no status") {
    const MappedMessage& m = messages[2];
    REQUIRE_MESSAGE(m.errors.empty(), Errors(m));
    REQUIRE(m.events.size() == 1);
    const Event& e = m.events[0];
    CHECK_FALSE(e.status.has_value());
    CHECK(e.source_code ==
          std::string("sap.s4.beh.outbounddelivery.v1.OutboundDelivery.Deleted.v1"));
    CHECK(e.shipment_id == "80000125");
    CHECK_FALSE(e.order.has_value());
  }
  SUBCASE("line 4: DeliveryDocument missing") {
    const MappedMessage& m = messages[3];
    CHECK(m.position == "line 4");
    CHECK(m.events.empty());
    REQUIRE(m.errors.size() == 1);
    CHECK(m.errors[0] == "line 4: $.data.DeliveryDocument: required, missing");
  }
  SUBCASE("line 6: negative offset; /Date(ms+0100)/ promised date is the UTC date") {
    const MappedMessage& m = messages[4];
    CHECK(m.position == "line 6");
    REQUIRE_MESSAGE(m.errors.empty(), Errors(m));
    const Event& e = m.events.at(0);
    CHECK(FormatUtc(e.occurred_at) == "2025-03-10T04:30:00Z");
    CHECK(e.occurred_offset_minutes == -300);
    CHECK(e.order->promised->date == std::string("2025-03-04"));
    CHECK_FALSE(e.order_id.has_value());  // no items
    CHECK(e.correlation_id == std::string("80000126"));
  }
  SUBCASE("line 7: malformed JSON is rejected alone") {
    const MappedMessage& m = messages[5];
    CHECK(m.position == "line 7");
    REQUIRE(m.errors.size() == 1);
    CHECK(m.errors[0].rfind("line 7: $: malformed JSON", 0) == 0);
  }
  SUBCASE("line 8: data of the wrong type") {
    const MappedMessage& m = messages[6];
    REQUIRE(m.errors.size() == 1);
    CHECK(m.errors[0] == "line 8: $.data: expected an object, got string");
  }
  SUBCASE("line 9: a time without offset and an unknown date form") {
    const MappedMessage& m = messages[7];
    REQUIRE_MESSAGE(m.errors.size() == 2, Errors(m));
    CHECK(m.errors[0].rfind("line 9: $.time: \"2025-03-05T10:00:00\": ", 0) == 0);
    CHECK(m.errors[1] ==
          "line 9: $.data.DeliveryDate: \"05.03.2025\" matches none of the date formats date, "
          "ms-date, rfc3339");
  }
  SUBCASE("line 10: not CloudEvents 1.0") {
    const MappedMessage& m = messages[8];
    REQUIRE(m.errors.size() == 1);
    CHECK(m.errors[0] ==
          "line 10: $: no event template applies (order: $.specversion is not \"1.0\")");
  }
}

TEST_CASE("sap-s4-delivery: an array of CloudEvents, one bad element rejected alone") {
  auto adapter = Embedded("sap-s4-delivery");
  const std::string doc = Fixture("sap-s4-delivery-array.json");
  auto messages = MapAll(*adapter, doc);
  REQUIRE(messages.size() == 3);
  CHECK(messages[0].position == "$[0]");
  CHECK(messages[0].unit.front() == '{');
  CHECK(messages[0].unit.find("sap-arr-0001") != std::string_view::npos);
  CHECK(messages[0].unit.find("sap-arr-0002") == std::string_view::npos);
  CHECK(messages[0].unit.back() == '}');
  REQUIRE(messages[0].events.size() == 1);
  CHECK(messages[0].events[0].order_id == std::string("4500100"));
  CHECK(messages[0].events[0].order->promised->date == std::string("2025-03-10"));

  CHECK(messages[1].position == "$[1]");
  REQUIRE(messages[1].errors.size() == 1);
  CHECK(messages[1].errors[0] == "$[1].data.SoldToParty: expected a string, got object");

  REQUIRE(messages[2].events.size() == 1);
  CHECK_FALSE(messages[2].events[0].order_id.has_value());  // results: []
  CHECK(messages[2].events[0].customer_id == std::string("17100009"));
}

TEST_CASE("sap-s4-delivery: ambiguous duplicate keys and missing ids are rejected") {
  auto adapter = Embedded("sap-s4-delivery");
  std::string doc = R"({"specversion":"1.0","type":"x","id":"e1","time":"2025-03-03T14:30:00Z",)"
                    R"("data":{"DeliveryDocument":"1","DeliveryDocument":"2"}})";
  auto messages = MapAll(*adapter, doc);
  REQUIRE(messages.size() == 1);
  REQUIRE(messages[0].errors.size() == 1);
  CHECK(messages[0].errors[0] == "$.data.DeliveryDocument: duplicate key (ambiguous)");

  doc = R"({"specversion":"1.0","type":"x","id":"","time":"2025-03-03T14:30:00Z",)"
        R"("data":{"DeliveryDocument":"1"}})";
  messages = MapAll(*adapter, doc);
  REQUIRE(messages.size() == 1);
  REQUIRE(messages[0].errors.size() == 1);
  CHECK(messages[0].errors[0] == "$.id: required, empty");
}

}  // namespace
}  // namespace waybill::ingest::testing
