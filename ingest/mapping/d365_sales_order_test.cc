// schemas/mappings/d365-sales-order.json against Dynamics 365 business events.
#include <doctest/doctest.h>

#include "ingest/mapping/mapping_test_util.h"

namespace waybill::ingest::testing {
namespace {

TEST_CASE("d365-sales-order: a released order with charges yields an order and a charges event") {
  auto adapter = Embedded("d365-sales-order");
  CHECK(adapter->format() == "d365-sales-order");
  const std::string doc = Fixture("d365-sales-order-released.json");
  auto messages = MapAll(*adapter, doc);
  REQUIRE(messages.size() == 1);
  const MappedMessage& m = messages[0];
  CHECK(m.position == "$");
  CHECK(m.unit == doc);
  REQUIRE_MESSAGE(m.errors.empty(), Errors(m));
  REQUIRE(m.events.size() == 2);

  const Event& order = m.events[0];
  CHECK(order.event_id == "0C2D9A6B-3F1E-4B7A-9E21-7B0F3C5D8A11");
  CHECK(order.kind == EventKind::kOrder);
  CHECK(order.status == ShipmentStatus::kOrderReleased);
  CHECK(order.occurred_at == Ms(1741012200000));  // "\/Date(1741012200000)\/"
  CHECK(FormatUtc(order.occurred_at) == "2025-03-03T14:30:00Z");
  CHECK(order.occurred_offset_minutes == 0);
  CHECK(order.source.system == SourceSystem::kErp);
  CHECK(order.source.format == "d365-sales-order");
  CHECK(order.shipment_id == "SH-00098");
  CHECK(order.order_id == std::string("SO-001234"));
  CHECK(order.customer_id == std::string("US-004"));
  REQUIRE(order.references.size() == 1);
  CHECK(order.references[0] == Reference{"LOAD", "LD-000451"});
  CHECK_FALSE(order.charges.has_value());

  const Event& charges = m.events[1];
  CHECK(charges.event_id == "0C2D9A6B-3F1E-4B7A-9E21-7B0F3C5D8A11:charges");
  CHECK(charges.kind == EventKind::kCharges);
  CHECK_FALSE(charges.status.has_value());
  CHECK(charges.occurred_at == order.occurred_at);
  CHECK(charges.shipment_id == "SH-00098");
  CHECK(charges.order_id == std::string("SO-001234"));
  CHECK(charges.customer_id == std::string("US-004"));
  REQUIRE(charges.charges.has_value());
  const Charges& c = *charges.charges;
  CHECK(c.basis == ChargeBasis::kQuoted);
  CHECK(c.currency == "USD");
  // 125.50 + 18.35 USD; the EUR line is kept but not summed; the sales lines (4999.90 and
  // 120.00 of goods) are never freight.
  CHECK(c.total == 14385);
  REQUIRE(c.lines.size() == 3);
  CHECK(c.lines[0] == ChargeLine{"FREIGHT", std::nullopt, 12550, "USD"});
  CHECK(c.lines[1] == ChargeLine{"FUEL", std::nullopt, 1835, "USD"});
  CHECK(c.lines[2] == ChargeLine{"CUSTOMS", std::nullopt, 4000, "EUR"});
}

TEST_CASE("d365-sales-order: sales-line amounts are ignored") {
  auto adapter = Embedded("d365-sales-order");
  std::string doc = Fixture("d365-sales-order-released.json");
  auto before = MapAll(*adapter, doc);
  const std::string amount = "\"LineAmount\": 4999.90";
  REQUIRE(doc.find(amount) != std::string::npos);
  doc.replace(doc.find(amount), amount.size(), "\"LineAmount\": 1000000.00");
  auto after = MapAll(*adapter, doc);
  REQUIRE(before.size() == 1);
  REQUIRE(after.size() == 1);
  REQUIRE(before[0].events.size() == 2);
  CHECK(before[0].events == after[0].events);
  for (const ChargeLine& line : after[0].events[1].charges->lines) {
    CHECK(line.amount != 499990);
    CHECK(line.amount != 100000000);
  }
}

TEST_CASE("d365-sales-order: NDJSON events") {
  auto adapter = Embedded("d365-sales-order");
  const std::string doc = Fixture("d365-sales-order-events.ndjson");
  auto messages = MapAll(*adapter, doc);
  REQUIRE(messages.size() == 9);  // 10 lines, one blank

  SUBCASE("line 1: empty Charges gives the order event only") {
    const MappedMessage& m = messages[0];
    CHECK(m.position == "line 1");
    REQUIRE_MESSAGE(m.errors.empty(), Errors(m));
    REQUIRE(m.events.size() == 1);
    CHECK(m.events[0].kind == EventKind::kOrder);
    CHECK(m.events[0].event_id == "7A1B2C3D-0000-4000-8000-000000000001");
    CHECK(FormatUtc(m.events[0].occurred_at) == "2025-03-05T09:15:00Z");
  }
  SUBCASE("line 2: /Date(ms+0100)/ keeps the UTC milliseconds and the offset; empty LoadId") {
    const MappedMessage& m = messages[1];
    REQUIRE_MESSAGE(m.errors.empty(), Errors(m));
    REQUIRE(m.events.size() == 1);
    CHECK(m.events[0].occurred_at == Ms(1741166100000));
    CHECK(m.events[0].occurred_offset_minutes == 60);
    CHECK(m.events[0].references.empty());
  }
  SUBCASE("line 3: exact money beyond double precision, mixed currencies, exponent token") {
    const MappedMessage& m = messages[2];
    REQUIRE_MESSAGE(m.errors.empty(), Errors(m));
    REQUIRE(m.events.size() == 2);
    CHECK(m.events[0].occurred_offset_minutes == -300);
    CHECK(m.events[0].occurred_at == Ms(1741166100000));
    const Charges& c = *m.events[1].charges;
    CHECK(m.events[1].event_id == "7A1B2C3D-0000-4000-8000-000000000003:charges");
    CHECK(c.currency == "USD");
    REQUIRE(c.lines.size() == 3);
    CHECK(c.lines[0].amount == 9007199254740993LL);  // 90071992547409.93, not a double
    CHECK(c.lines[1] == ChargeLine{"HANDLING", std::nullopt, 1500, "JPY"});
    CHECK(c.lines[2] == ChargeLine{"INSURANCE", std::nullopt, 1000, "USD"});  // 1.0e1
    CHECK(c.total == 9007199254741993LL);
  }
  SUBCASE("line 4: ShipmentId missing, reported once although two templates read it") {
    const MappedMessage& m = messages[3];
    CHECK(m.events.empty());
    REQUIRE(m.errors.size() == 1);
    CHECK(m.errors[0] == "line 4: $.ShipmentId: required, missing");
  }
  SUBCASE("line 5: bad charge lines reject the whole message") {
    const MappedMessage& m = messages[4];
    CHECK(m.events.empty());
    REQUIRE_MESSAGE(m.errors.size() == 3, Errors(m));
    CHECK(m.errors[0].rfind("line 5: $.Charges[0].CalculatedAmount: ", 0) == 0);
    CHECK(m.errors[0].find("12.345") != std::string::npos);
    CHECK(m.errors[1] ==
          "line 5: $.Charges[1].CalculatedAmount: expected a decimal string or a number, got "
          "boolean");
    CHECK(m.errors[2] == "line 5: $.Charges[2].CurrencyCode: unknown ISO 4217 currency \"XYZ\"");
  }
  SUBCASE("line 6: EventTime not in /Date(ms)/ form") {
    const MappedMessage& m = messages[5];
    REQUIRE(m.errors.size() == 1);
    CHECK(m.errors[0] ==
          "line 6: $.EventTime: \"2025-03-05T09:15:00Z\": is not a /Date(milliseconds)/ time");
  }
  SUBCASE("line 8: wrong types") {
    const MappedMessage& m = messages[6];
    CHECK(m.position == "line 8");
    REQUIRE_MESSAGE(m.errors.size() == 2, Errors(m));
    CHECK(m.errors[0] == "line 8: $.OrderingCustomerAccountNumber: expected a string, got object");
    CHECK(m.errors[1] == "line 8: $.Charges: expected an array, got object");
  }
  SUBCASE("line 9: malformed JSON") {
    const MappedMessage& m = messages[7];
    CHECK(m.position == "line 9");
    REQUIRE(m.errors.size() == 1);
    CHECK(m.errors[0].rfind("line 9: $: malformed JSON", 0) == 0);
  }
  SUBCASE("line 10: a numeric order number is read as its digits; EUR charges") {
    const MappedMessage& m = messages[8];
    REQUIRE_MESSAGE(m.errors.empty(), Errors(m));
    REQUIRE(m.events.size() == 2);
    CHECK(m.events[0].order_id == std::string("1234567"));
    CHECK(m.events[1].charges->currency == "EUR");
    CHECK(m.events[1].charges->total == 10000);  // 99.90 + 0.1
  }
}

TEST_CASE("d365-sales-order: an empty EventTime is missing, not a parse error") {
  auto adapter = Embedded("d365-sales-order");
  const std::string doc = R"({"EventId":"E1","EventTime":"","ShipmentId":"S1"})";
  auto messages = MapAll(*adapter, doc);
  REQUIRE(messages.size() == 1);
  REQUIRE(messages[0].errors.size() == 1);
  CHECK(messages[0].errors[0] == "$.EventTime: required, empty");
}

TEST_CASE("d365-sales-order: an array document") {
  auto adapter = Embedded("d365-sales-order");
  const std::string doc = Fixture("d365-sales-order-array.json");
  auto messages = MapAll(*adapter, doc);
  REQUIRE(messages.size() == 2);
  CHECK(messages[0].position == "$[0]");
  REQUIRE(messages[0].events.size() == 2);
  CHECK(messages[0].events[1].charges->total == 25000);
  CHECK(messages[1].position == "$[1]");
  REQUIRE(messages[1].events.size() == 1);
  CHECK(messages[1].events[0].event_id == "9F000000-0000-4000-8000-000000000002");
}

TEST_CASE("d365-sales-order: mapping the same document twice gives the same events") {
  auto adapter = Embedded("d365-sales-order");
  const std::string doc = Fixture("d365-sales-order-events.ndjson");
  auto first = MapAll(*adapter, doc);
  auto second = MapAll(*adapter, doc);
  REQUIRE(first.size() == second.size());
  for (std::size_t i = 0; i < first.size(); ++i) {
    CHECK(first[i].events == second[i].events);
    CHECK(first[i].errors == second[i].errors);
  }
}

}  // namespace
}  // namespace waybill::ingest::testing
