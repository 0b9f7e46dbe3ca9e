// ValidateEvent and the reader's rejections: every rule names the field path.
#include "schemas/event_validate.h"

#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "schemas/event_json_test_util.h"
#include "schemas/money.h"
#include "schemas/time.h"

namespace waybill {
namespace {
using namespace json_test;

TEST_CASE("validation rules name the field path") {
  struct Case {
    std::string json;
    std::string expected;
  };
  const std::string long_id(kMaxIdLength + 1, 'x');
  const std::string long_text(kMaxTextLength + 1, 'y');
  const std::vector<Case> cases = {
      // References.
      {Milestone(R"(,"references":[{"type":"BM","value":"1"},{"type":"PO","value":""}])"),
       "references[1].value: must not be empty"},
      {Milestone(R"(,"references":[{"type":"BM","value":"1"},{"type":"PO","value":"2"},)"
                 R"({"type":"PRO","value":"3"},{"type":"SI","value":""}])"),
       "references[3].value: must not be empty"},
      {Milestone(R"(,"references":[{"type":"BM"}])"), "references[0].value: required"},
      {Milestone(R"(,"references":[{"value":"1"}])"), "references[0].type: required"},
      {Milestone(R"(,"references":["BM"])"), "references[0]: expected an object, got string"},
      {Milestone(R"(,"references":{"type":"BM"})"), "references: expected an array, got object"},
      // Milestone needs a status or source code.
      {Ev("milestone", ""), "status: a milestone needs a status or a source_code"},
      {Ev("milestone", R"(,"status":"LOST")"), R"(status: unknown value "LOST")"},
      // Bodies and kinds.
      {Ev("estimate", ""), R"(estimate: required for kind "estimate")"},
      {Ev("charges", ""), R"(charges: required for kind "charges")"},
      {Ev("document", ""), R"(document: required for kind "document")"},
      {Ev("document", R"(,"document":{"type":""})"), "document.type: must not be empty"},
      {Ev("document", R"(,"document":{"number":"1"})"), "document.type: required"},
      {Ev("document", R"(,"document":{"type":"pod","number":""})"),
       "document.number: must not be empty (omit the field instead)"},
      {Milestone(R"(,"estimate":{"estimated_at":"2025-03-02T00:00:00Z","of":"pickup"})"),
       R"(estimate: not allowed for kind "milestone")"},
      {Ev("estimate", R"(,"estimate":{"estimated_at":"2025-03-02T00:00:00Z","of":"pickup"},)"
                      R"("document":{"type":"pod"})"),
       R"(document: not allowed for kind "estimate")"},
      {Ev("document", R"(,"document":{"type":"pod"},"order":{})"),
       R"(order: not allowed for kind "document")"},
      {Ev("order", R"(,"charges":{"basis":"quoted","currency":"USD","total":"1.00"})"),
       R"(charges: not allowed for kind "order")"},
      {Ev("parcel", ""), R"(kind: unknown value "parcel")"},
      {Ev("estimate", R"(,"estimate":{"of":"delivery"})"), "estimate.estimated_at: required"},
      {Ev("estimate", R"(,"estimate":{"estimated_at":"2025-03-02T00:00:00Z"})"),
       "estimate.of: required"},
      {Ev("estimate", R"(,"estimate":{"estimated_at":"2025-03-02","of":"delivery"})"),
       "estimate.estimated_at: "},
      {Ev("estimate", R"(,"estimate":{"estimated_at":"2025-03-02T00:00:00Z","of":"eta"})"),
       R"(estimate.of: unknown value "eta")"},
      // Schema version and times.
      {Milestone(R"(,"schema_version":2)"), "schema_version: 2 is newer"},
      {Milestone(R"(,"schema_version":0)"), "schema_version: must be at least 1"},
      {Milestone(R"(,"schema_version":-1)"), "schema_version: -1 is not a valid schema version"},
      {Milestone(R"(,"schema_version":1.5)"), "schema_version: 1.5 is not a valid"},
      {Milestone(R"(,"schema_version":"1")"), "schema_version: expected a number, got string"},
      {R"({"kind":"milestone","status":"DELIVERED","occurred_at":"0000-12-31T00:00:00Z",)"
       R"("source":{"system":"tms"},"shipment_id":"S1"})",
       "occurred_at: "},
      {R"({"kind":"milestone","status":"DELIVERED","occurred_at":"9999-12-31T00:00:00Z",)"
       R"("source":{"system":"tms"},"shipment_id":"S1"})",
       "occurred_at: "},
      {R"({"kind":"milestone","status":"DELIVERED","occurred_at":"2025-02-29T00:00:00Z",)"
       R"("source":{"system":"tms"},"shipment_id":"S1"})",
       "occurred_at: "},
      {R"({"kind":"milestone","status":"DELIVERED","occurred_at":"2025-03-01T10:00:00+02:00",)"
       R"("occurred_offset":"+01:00","source":{"system":"tms"},"shipment_id":"S1"})",
       R"(occurred_offset: "+01:00" does not match the offset of occurred_at (+02:00))"},
      {Milestone(R"(,"occurred_offset":"+25:00")"), "occurred_offset: "},
      // Required envelope fields.
      {R"({"kind":"milestone","status":"DELIVERED","source":{"system":"tms"},"shipment_id":"S"})",
       "occurred_at: required"},
      {R"({"status":"DELIVERED","occurred_at":"2025-03-01T08:00:00Z","source":{"system":"tms"},)"
       R"("shipment_id":"S"})",
       "kind: required"},
      {R"({"kind":"milestone","status":"DELIVERED","occurred_at":"2025-03-01T08:00:00Z",)"
       R"("shipment_id":"S"})",
       "source: required"},
      {R"({"kind":"milestone","status":"DELIVERED","occurred_at":"2025-03-01T08:00:00Z",)"
       R"("source":{"format":"x12"},"shipment_id":"S"})",
       "source.system: required"},
      {R"({"kind":"milestone","status":"DELIVERED","occurred_at":"2025-03-01T08:00:00Z",)"
       R"("source":{"system":"edi"},"shipment_id":"S"})",
       R"(source.system: unknown value "edi")"},
      {R"({"kind":"milestone","status":"DELIVERED","occurred_at":"2025-03-01T08:00:00Z",)"
       R"("source":{"system":"tms","format":""},"shipment_id":"S"})",
       "source.format: must not be empty (omit the field instead)"},
      {R"({"kind":"milestone","status":"DELIVERED","occurred_at":"2025-03-01T08:00:00Z",)"
       R"("source":{"system":"tms","partner":""},"shipment_id":"S"})",
       "source.partner: must not be empty (omit the field instead)"},
      {R"({"kind":"milestone","status":"DELIVERED","occurred_at":"2025-03-01T08:00:00Z",)"
       R"("source":{"system":"tms"}})",
       "shipment_id: required"},
      {R"({"kind":"milestone","status":"DELIVERED","occurred_at":"2025-03-01T08:00:00Z",)"
       R"("source":{"system":"tms"},"shipment_id":""})",
       "shipment_id: must not be empty"},
      {R"({"kind":"milestone","status":"DELIVERED","occurred_at":"2025-03-01T08:00:00Z",)"
       R"("source":{"system":"tms"},"shipment_id":null})",
       "shipment_id: required"},
      {R"({"kind":"milestone","status":"DELIVERED","occurred_at":"2025-03-01T08:00:00Z",)"
       R"("source":{"system":"tms"},"shipment_id":"S\u0001"})",
       "shipment_id: must not contain control characters"},
      {Milestone(R"(,"event_id":"")"), "event_id: must not be empty (omit the field instead)"},
      {Milestone(R"(,"order_id":"")"), "order_id: must not be empty (omit the field instead)"},
      {Milestone(R"(,"customer_id":"")"), "customer_id: must not be empty (omit"},
      {Milestone(R"(,"carrier":"")"), "carrier: must not be empty (omit"},
      {Milestone(R"(,"correlation_id":"")"), "correlation_id: must not be empty (omit"},
      {Milestone(R"(,"source_code":"")"), "source_code: must not be empty (omit"},
      {Milestone(R"(,"reason_code":"")"), "reason_code: must not be empty (omit"},
      // Oversize fields.
      {Milestone(R"(,"event_id":")" + long_id + "\""), "event_id: is 257 bytes long"},
      {Milestone(R"(,"order_id":")" + long_id + "\""), "order_id: is 257 bytes long"},
      {Milestone(R"(,"references":[{"type":"BM","value":")" + long_id + "\"}]"),
       "references[0].value: is 257 bytes long"},
      {Milestone(R"(,"location":{"name":")" + long_text + "\"}"),
       "location.name: is 1025 bytes long"},
      {ChargesEv(R"({"basis":"quoted","currency":"USD","lines":[{"code":"A","amount":"1",)"
                 R"("description":")" +
                 long_text + "\"}]}"),
       "charges.lines[0].description: is 1025 bytes long"},
      // Locations.
      {Milestone(R"(,"location":{})"), "location: must not be empty"},
      {Milestone(R"(,"location":{"lat":90.5})"), "location.lat: must be within [-90, 90]"},
      {Milestone(R"(,"location":{"lon":-180.01})"), "location.lon: must be within [-180, 180]"},
      {Milestone(R"(,"location":{"lat":"41.8"})"), "location.lat: expected a number, got string"},
      {Milestone(R"(,"location":{"country":"USA"})"), "location.country: "},
      {Milestone(R"(,"location":{"unlocode":"us chi"})"), "location.unlocode: "},
      {Milestone(R"(,"location":{"city":""})"),
       "location.city: must not be empty (omit the field instead)"},
      {Milestone(R"(,"location":[])"), "location: expected an object, got array"},
      {Milestone(R"(,"location":"Chicago")"), "location: expected an object, got string"},
      // Orders.
      {Ev("order", R"(,"order":{"promised":{"date":"2025-02-29"}})"), "order.promised.date: "},
      {Ev("order", R"(,"order":{"promised":{}})"), "order.promised: must not be empty"},
      {Ev("order", R"(,"order":{"promised":{"window_start":"2025-03-05T15:00:00Z",)"
                   R"("window_end":"2025-03-05T14:00:00Z"}})"),
       "order.promised.window_end: is before window_start"},
      {Ev("order", R"(,"order":{"ship_to":{"lat":-91}})"), "order.ship_to.lat: must be within"},
      {Ev("order", R"(,"order":{"ship_to":{"country":"us"}})"), "order.ship_to.country: "},
      {Ev("order", R"(,"order":{"promised":{"window_end":5}})"),
       "order.promised.window_end: expected a string, got number"},
      // Wrong types.
      {Milestone(R"(,"order_id":5)"), "order_id: expected a string, got number"},
      {Milestone(R"(,"order_id":true)"), "order_id: expected a string, got boolean"},
      {Milestone(R"(,"order_id":{})"), "order_id: expected a string, got object"},
      {Milestone(R"(,"order_id":["O1"])"), "order_id: expected a string, got array"},
      {Ev("milestone", R"(,"status":7)"), "status: expected a string, got number"},
      {R"({"kind":"milestone","status":"DELIVERED","occurred_at":"2025-03-01T08:00:00Z",)"
       R"("source":"tms","shipment_id":"S1"})",
       "source: expected an object, got string"},
      // Duplicate keys.
      {Milestone(R"(,"shipment_id":"S2")"), "shipment_id: duplicate key"},
      {Milestone(R"(,"location":{"city":"A","city":"B"})"), "location.city: duplicate key"},
      {Milestone(R"(,"references":[{"type":"BM","type":"PO","value":"1"}])"),
       "references[0].type: duplicate key"},
  };
  for (const Case& c : cases) CheckRejected(c.json, c.expected);
}

TEST_CASE("ValidateEvent on events built in code") {
  Event e = ParseOk(Milestone());
  REQUIRE(ValidateEvent(e).ok());

  Event bad = e;
  bad.shipment_id = "\xff\xfe";
  CHECK(ValidateEvent(bad).message() == "shipment_id: is not valid UTF-8");

  bad = e;
  bad.location = Location{};
  bad.location->lat = std::nan("");
  CHECK(ValidateEvent(bad).message().find("location.lat: ") == 0);

  bad = e;
  bad.schema_version = kSchemaVersion + 1;
  CHECK(ValidateEvent(bad).code() == ErrorCode::kUnsupported);

  bad = e;
  bad.kind = EventKind::kCharges;
  CHECK(ValidateEvent(bad).message() == R"(charges: required for kind "charges")");

  bad = e;
  bad.charges = Charges{ChargeBasis::kQuoted, std::nullopt, "USD", 100, {}};
  CHECK(ValidateEvent(bad).message() == R"(charges: not allowed for kind "milestone")");

  bad = e;
  bad.occurred_offset_minutes = 24 * 60;
  CHECK(ValidateEvent(bad).message().find("occurred_offset: ") == 0);

  bad = e;
  bad.source.principal = "";
  CHECK(ValidateEvent(bad).message() == "source.principal: must not be empty");

  bad = e;
  bad.status.reset();
  bad.source_code = "X1";
  CHECK(ValidateEvent(bad).ok());

  bad = e;
  bad.kind = static_cast<EventKind>(99);
  CHECK(ValidateEvent(bad).message().find("kind: ") == 0);

  Event c;
  c.shipment_id = "S";
  FillCorrelationId(&c);
  CHECK(c.correlation_id == "S");
  c.correlation_id.reset();
  c.order_id = "O";
  FillCorrelationId(&c);
  CHECK(c.correlation_id == "O/S");
  c.order_id = "other";
  FillCorrelationId(&c);
  CHECK(c.correlation_id == "O/S");  // never overwritten
  // The longest possible default correlation id is valid.
  Event longest = e;
  longest.order_id = std::string(kMaxIdLength, 'o');
  longest.shipment_id = std::string(kMaxIdLength, 's');
  longest.correlation_id.reset();
  FillCorrelationId(&longest);
  CHECK(ValidateEvent(longest).ok());
}

// ---------------------------------------------------------------------------------------------
// Randomized round trip.

}  // namespace
}  // namespace waybill
