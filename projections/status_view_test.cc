#include "projections/status_view.h"

#include <doctest/doctest.h>

#include <string>

#include "projections/exception_codes.h"
#include "projections/view_test_util.h"
#include "schemas/time.h"

namespace waybill::projections {
namespace {

using testing::Fields;
using testing::Json;
using testing::T;
using testing::TestEvent;

Event Milestone(std::string id, const char* at, std::optional<ShipmentStatus> status,
                std::string code = "X6", std::string format = "x12") {
  Event e;
  e.event_id = std::move(id);
  e.kind = EventKind::kMilestone;
  e.occurred_at = T(at);
  e.source.system = SourceSystem::kCarrier;
  e.source.format = std::move(format);
  e.shipment_id = "SH1";
  e.carrier = "ACME";
  e.status = status;
  e.source_code = std::move(code);
  return e;
}

// Ledger fields in arrival order, recorded 1 µs apart.
struct Feed : testing::Feed {
  Feed() { recorded_step = 1000; }
};

TEST_CASE("status: a fresh view renders every key, unknowns as null") {
  StatusView v("SH1");
  CHECK(Json(v) == R"({"view":"status","shipment_id":"SH1","order_id":null,"customer_id":null,)"
                   R"("carrier":null,"references":[],"version":0,"last_seq":0,"updated_at":null,)"
                   R"("status":null,"status_at":null,"status_source":null,"delay_reason":null,)"
                   R"("exceptions":[],"milestones":[]})");
}

TEST_CASE("status: latest actual milestone by event time, full JSON shape") {
  StatusView v("SH1");
  Feed feed;
  Event picked = Milestone("e1", "2025-03-01T08:00:00-05:00", ShipmentStatus::kPickedUp, "CP");
  picked.references = {{"PRO", "123"}, {"BM", "B1"}};
  Location loc;
  loc.city = "Chicago";
  loc.country = "US";
  loc.lat = 41.8;
  picked.location = loc;
  CHECK(feed(v, picked));
  CHECK(feed(v, Milestone("e2", "2025-03-01T15:00:00Z", ShipmentStatus::kInTransit, "AF")));
  CHECK(
      Json(v) ==
      R"({"view":"status","shipment_id":"SH1","order_id":null,"customer_id":null,)"
      R"("carrier":"ACME","references":[{"type":"BM","value":"B1"},{"type":"PRO","value":"123"}],)"
      R"("version":2,"last_seq":2,"updated_at":"2025-06-01T00:00:00.000002Z",)"
      R"("status":"IN_TRANSIT","status_at":"2025-03-01T15:00:00Z",)"
      R"("status_source":{"format":"x12","source_code":"AF"},"delay_reason":null,)"
      R"("exceptions":[],"milestones":[)"
      R"({"status":"PICKED_UP","at":"2025-03-01T13:00:00Z","format":"x12","source_code":"CP",)"
      R"("reason_code":null,"location":{"name":null,"city":"Chicago","region":null,)"
      R"("country":"US","unlocode":null},"seq":1,"event_id":"e1"},)"
      R"({"status":"IN_TRANSIT","at":"2025-03-01T15:00:00Z","format":"x12","source_code":"AF",)"
      R"("reason_code":null,"location":null,"seq":2,"event_id":"e2"}]})");
}

TEST_CASE("status: out-of-order arrival folds to the same status and sorted milestones") {
  StatusView v("SH1");
  Feed feed;
  CHECK(feed(v, Milestone("late", "2025-03-02T10:00:00Z", ShipmentStatus::kAtDelivery, "X1")));
  CHECK(feed(v, Milestone("early", "2025-03-01T10:00:00Z", ShipmentStatus::kPickedUp, "CP")));
  REQUIRE(v.current() != nullptr);
  CHECK(v.current()->status == ShipmentStatus::kAtDelivery);
  REQUIRE(v.milestones().size() == 2);
  CHECK(v.milestones()[0].event_id == "early");
  CHECK(v.milestones()[1].event_id == "late");
  CHECK(v.version() == 2);  // the late-arriving milestone still changes the history
}

TEST_CASE("status: equal event times are broken by the later seq") {
  StatusView v("SH1");
  Feed feed;
  feed(v, Milestone("a", "2025-03-01T10:00:00Z", ShipmentStatus::kAtPickup, "X3"));
  feed(v, Milestone("b", "2025-03-01T10:00:00Z", ShipmentStatus::kPickedUp, "CP"));
  CHECK(v.current()->event_id == "b");
}

TEST_CASE("status: estimates never change the status") {
  StatusView v("SH1");
  Feed feed;
  feed(v, Milestone("m", "2025-03-01T10:00:00Z", ShipmentStatus::kInTransit));
  const std::string before = Json(v);
  Event est = Milestone("est", "2025-03-02T10:00:00Z", ShipmentStatus::kDelivered, "AG");
  est.kind = EventKind::kEstimate;
  est.estimate =
      Estimate{T("2025-03-03T10:00:00Z"), EstimateOf::kDelivery, T("2025-03-02T10:00:00Z")};
  CHECK_FALSE(feed(v, est));
  CHECK(Json(v) == before);
  CHECK(v.version() == 1);
}

TEST_CASE("status: DELAYED persists through non-movement events until movement") {
  StatusView v("SH1");
  Feed feed;
  feed(v, Milestone("m1", "2025-03-01T10:00:00Z", ShipmentStatus::kInTransit));
  Event delay = Milestone("d", "2025-03-01T12:00:00Z", ShipmentStatus::kDelayed, "SD");
  delay.reason_code = "AW";  // weather
  feed(v, delay);
  std::string json = Json(v);
  CHECK(json.find(R"("status":"DELAYED","status_at":"2025-03-01T12:00:00Z")") != std::string::npos);
  CHECK(json.find(R"("delay_reason":"AW")") != std::string::npos);

  // A later re-tender (paperwork) does not lift the delay, but is listed.
  Event tender = Milestone("t", "2025-03-01T13:00:00Z", ShipmentStatus::kTenderAccepted, "A");
  tender.source.system = SourceSystem::kTms;
  CHECK(feed(v, tender));
  CHECK(v.current()->status == ShipmentStatus::kDelayed);
  CHECK(v.milestones().size() == 3);

  // An exception neither.
  Event damage = Milestone("x", "2025-03-01T14:00:00Z", std::nullopt, "A9");
  CHECK(feed(v, damage));
  CHECK(v.current()->status == ShipmentStatus::kDelayed);

  // Movement after the delay lifts it; movement before it (arriving late) does not.
  feed(v, Milestone("m0", "2025-03-01T11:00:00Z", ShipmentStatus::kInTransit, "P1"));
  CHECK(v.current()->status == ShipmentStatus::kDelayed);
  feed(v, Milestone("m2", "2025-03-01T16:00:00Z", ShipmentStatus::kInTransit, "X6"));
  CHECK(v.current()->status == ShipmentStatus::kInTransit);
  json = Json(v);
  CHECK(json.find(R"("delay_reason":null)") != std::string::npos);
}

TEST_CASE("status: CANCELLED overrides DELAYED; a newer DELAYED replaces the reason") {
  StatusView v("SH1");
  Feed feed;
  Event d1 = Milestone("d1", "2025-03-01T12:00:00Z", ShipmentStatus::kDelayed, "SD");
  d1.reason_code = "AW";
  Event d2 = Milestone("d2", "2025-03-01T13:00:00Z", ShipmentStatus::kDelayed, "SD");
  d2.reason_code = "AF";
  feed(v, d2);
  feed(v, d1);
  CHECK(Json(v).find(R"("delay_reason":"AF")") != std::string::npos);
  Event cancel = Milestone("c", "2025-03-01T14:00:00Z", ShipmentStatus::kCancelled, "CA");
  cancel.source.system = SourceSystem::kTms;
  feed(v, cancel);
  CHECK(v.current()->status == ShipmentStatus::kCancelled);
  CHECK(Json(v).find(R"("delay_reason":null)") != std::string::npos);
}

TEST_CASE("status: exceptions come from the embedded X12 table or a reason code") {
  CHECK(IsX12ExceptionCode("A9"));
  CHECK(IsX12ExceptionCode("AH"));
  CHECK_FALSE(IsX12ExceptionCode("AJ"));  // informational
  CHECK_FALSE(IsX12ExceptionCode("AF"));  // a status code

  StatusView v("SH1");
  Feed feed;
  CHECK(feed(v, Milestone("x1", "2025-03-02T09:00:00Z", std::nullopt, "A9")));
  CHECK_FALSE(feed(v, Milestone("i1", "2025-03-02T09:30:00Z", std::nullopt, "AJ")));
  CHECK_FALSE(feed(v, Milestone("c1", "2025-03-02T09:40:00Z", std::nullopt, "A9", "dcsa-tnt")));
  Event refused = Milestone("x2", "2025-03-01T09:00:00Z", std::nullopt, "REF", "canonical");
  refused.reason_code = "NS";
  CHECK(feed(v, refused));
  REQUIRE(v.exceptions().size() == 2);
  CHECK(v.exceptions()[0].code == "REF");
  CHECK(Json(v).find(R"("exceptions":[{"code":"REF","at":"2025-03-01T09:00:00Z","reason":"NS",)"
                     R"("format":"canonical"},{"code":"A9","at":"2025-03-02T09:00:00Z",)"
                     R"("reason":null,"format":"x12"}])") != std::string::npos);
  CHECK(v.current() == nullptr);  // exceptions carry no status
}

TEST_CASE("status: the same seq applied twice changes nothing") {
  StatusView v("SH1");
  Event e = Milestone("e1", "2025-03-01T10:00:00Z", ShipmentStatus::kPickedUp);
  e.ledger.seq = 7;
  e.ledger.recorded_at = 100;
  CHECK(v.Apply(e));
  const std::string once = Json(v);
  CHECK_FALSE(v.Apply(e));
  CHECK(Json(v) == once);
  CHECK(v.version() == 1);
  CHECK(v.milestones().size() == 1);
}

TEST_CASE("status: version counts changes; last_seq and updated_at follow the last change") {
  StatusView v("SH1");
  Feed feed;
  feed(v, Milestone("e1", "2025-03-01T10:00:00Z", ShipmentStatus::kPickedUp));
  Event doc = Milestone("doc", "2025-03-01T11:00:00Z", std::nullopt, "BOL", "canonical");
  doc.kind = EventKind::kDocument;
  doc.document = DocumentBody{"bill_of_lading", "B1"};
  CHECK_FALSE(feed(v, doc));  // same carrier, no references: nothing shown changes
  CHECK(v.version() == 1);
  CHECK(v.last_seq() == 1);
  CHECK(v.header().last_folded_seq() == 2);
  CHECK(v.header().updated_at() == T("2025-06-01T00:00:00Z") + 1000);
}

TEST_CASE("status: late ERP event fills customer and wins order_id; TMS wins carrier") {
  StatusView v("SH1");
  Feed feed;
  Event carrier = Milestone("c1", "2025-03-02T10:00:00Z", ShipmentStatus::kPickedUp);
  carrier.order_id = "ORD-FROM-CARRIER";
  carrier.carrier = "ACME";
  feed(v, carrier);
  Event tms = Milestone("t1", "2025-03-03T10:00:00Z", ShipmentStatus::kTendered, "T");
  tms.source.system = SourceSystem::kTms;
  tms.order_id = "ORD-TMS";
  tms.carrier = "FAST";
  feed(v, tms);
  CHECK(v.header().order_id() == "ORD-TMS");
  CHECK_FALSE(v.customer_id().has_value());
  CHECK(v.header().carrier() == "FAST");

  // The ERP's release happened first but arrives last.
  Event erp = Milestone("o1", "2025-03-01T10:00:00Z", ShipmentStatus::kOrderReleased, "REL");
  erp.kind = EventKind::kOrder;
  erp.order = OrderBody{};
  erp.source.system = SourceSystem::kErp;
  erp.order_id = "ORD-1";
  erp.customer_id = "CUST-9";
  erp.carrier = "SLOW";
  CHECK(feed(v, erp));
  CHECK(v.header().order_id() == "ORD-1");
  CHECK(v.customer_id() == "CUST-9");
  CHECK(v.header().carrier() == "FAST");  // tms > carrier > erp
  CHECK(v.current()->status == ShipmentStatus::kTendered);
}

TEST_CASE("status: Encode/Decode round-trips; bad bytes are Corruption naming the view") {
  StatusView v("SH1");
  Feed feed;
  Event e = Milestone("e1", "2025-03-01T10:00:00Z", ShipmentStatus::kDelayed, "SD");
  e.reason_code = "AW";
  e.references = {{"BM", "1"}};
  e.customer_id = "C";
  Location loc;
  loc.unlocode = "USCHI";
  e.location = loc;
  feed(v, e);
  feed(v, Milestone("x", "2025-03-01T11:00:00Z", std::nullopt, "A9"));
  std::string bytes;
  v.Encode(&bytes);
  CHECK(bytes[0] == 1);  // format version
  auto back = StatusView::Decode(bytes);
  REQUIRE(back.ok());
  CHECK(**back == v);
  CHECK(Json(**back) == Json(v));
  std::string again;
  (*back)->Encode(&again);
  CHECK(again == bytes);  // deterministic

  auto truncated = StatusView::Decode(std::string_view(bytes).substr(0, bytes.size() - 3));
  CHECK(truncated.status().code() == ErrorCode::kCorruption);
  CHECK(truncated.status().message().find("status view") != std::string::npos);
  CHECK_FALSE(StatusView::Decode(bytes + "x").ok());
  std::string wrong_kind = bytes;
  wrong_kind[1] = 2;
  CHECK_FALSE(StatusView::Decode(wrong_kind).ok());
  std::string newer = bytes;
  newer[0] = 9;
  CHECK_FALSE(StatusView::Decode(newer).ok());
  CHECK_FALSE(StatusView::Decode("").ok());
}

}  // namespace
}  // namespace waybill::projections
