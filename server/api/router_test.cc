#include "server/api/router.h"

#include <doctest/doctest.h>

#include "server/api/shipment_index.h"

namespace waybill::server::api {

TEST_CASE("routes match with decoded parameters") {
  auto m = MatchRoute("GET", "/v1/shipments/SHP%2F1%20A");
  REQUIRE(m.route != nullptr);
  CHECK(m.route->id == RouteId::kGetShipment);
  REQUIRE(m.params.size() == 1);
  CHECK(m.params[0] == "SHP/1 A");

  m = MatchRoute("GET", "/v1/shipments/S1/events");
  REQUIRE(m.route != nullptr);
  CHECK(m.route->id == RouteId::kShipmentEvents);

  m = MatchRoute("GET", "/v1/shipments/");
  REQUIRE(m.route != nullptr);
  CHECK(m.route->id == RouteId::kListShipments);

  m = MatchRoute("DELETE", "/v1/admin/dlq/7");
  REQUIRE(m.route != nullptr);
  CHECK(m.route->id == RouteId::kAdminDlqDrop);
  m = MatchRoute("GET", "/v1/admin/dlq/7");
  REQUIRE(m.route != nullptr);
  CHECK(m.route->id == RouteId::kAdminDlqShow);
}

TEST_CASE("a known path with another method lists the allowed ones") {
  auto m = MatchRoute("PUT", "/v1/admin/dlq/7");
  CHECK(m.route == nullptr);
  CHECK(m.allow == "GET, DELETE");
  m = MatchRoute("GET", "/v1/ingest/x12");
  CHECK(m.route == nullptr);
  CHECK(m.allow == "POST");
  m = MatchRoute("GET", "/v1/nothing");
  CHECK(m.route == nullptr);
  CHECK(m.allow.empty());
  // An empty capture is no match.
  CHECK(MatchRoute("GET", "/v1/shipments//events").route == nullptr);
}

TEST_CASE("targets parse into path and decoded query") {
  auto t = ParseTarget("/v1/shipments?customer=ACME+Co&status=IN_TRANSIT&x=%41&flag");
  REQUIRE(t.has_value());
  CHECK(t->path == "/v1/shipments");
  CHECK(t->query.Get("customer") == std::optional<std::string_view>("ACME Co"));
  CHECK(t->query.Get("x") == std::optional<std::string_view>("A"));
  CHECK(t->query.Get("flag") == std::optional<std::string_view>(""));
  CHECK_FALSE(t->query.Get("missing").has_value());
  CHECK_FALSE(ParseTarget("/v1/shipments?x=%4").has_value());
  CHECK_FALSE(ParseTarget("/v1/shipments?x=%zz").has_value());
  CHECK_FALSE(ParseTarget("http://host/v1").has_value());
  CHECK_FALSE(PercentDecode("%", false).has_value());
  CHECK(PercentDecode("a+b", false) == std::optional<std::string>("a+b"));
}

TEST_CASE("list cursors round-trip and reject foreign text") {
  ListCursor c{42, "SHP 1/\xff"};
  auto back = DecodeCursor(EncodeCursor(c));
  REQUIRE(back.has_value());
  CHECK(back->last_seq == 42);
  CHECK(back->shipment_id == c.shipment_id);
  CHECK_FALSE(DecodeCursor("").has_value());
  CHECK_FALSE(DecodeCursor("42").has_value());
  CHECK_FALSE(DecodeCursor("x.41").has_value());
  CHECK_FALSE(DecodeCursor("42.4").has_value());
  CHECK_FALSE(DecodeCursor("42.zz").has_value());
}

}  // namespace waybill::server::api
