#include "projections/eta_view.h"

#include <doctest/doctest.h>

#include <string>

#include "projections/view_json.h"
#include "projections/view_test_util.h"
#include "schemas/time.h"

namespace waybill::projections {
namespace {

using testing::Feed;
using testing::Fields;
using testing::Json;
using testing::T;
using testing::TestEvent;

Event Base(std::string id, EventKind kind, const char* at, SourceSystem system,
           std::string format) {
  return TestEvent(std::move(id), kind, at, system, std::move(format));
}

Event EstimateEvent(std::string id, const char* eta, const char* issued,
                    EstimateOf of = EstimateOf::kDelivery, std::string format = "x12") {
  Event e =
      Base(std::move(id), EventKind::kEstimate, issued, SourceSystem::kCarrier, std::move(format));
  e.estimate = Estimate{T(eta), of, T(issued)};
  return e;
}

Event Delivered(std::string id, const char* at) {
  Event e = Base(std::move(id), EventKind::kMilestone, at, SourceSystem::kCarrier, "x12");
  e.status = ShipmentStatus::kDelivered;
  e.source_code = "D1";
  return e;
}

// An order event at `at` (its offset is the order's calendar) promising `p`.
Event Order(std::string id, const char* at, SourceSystem system, Promise p) {
  Event e = Base(std::move(id), EventKind::kOrder, at, system, "d365-sales-order");
  e.order = OrderBody{std::nullopt, std::move(p)};
  return e;
}

Promise Date(std::string date) {
  Promise p;
  p.date = std::move(date);
  return p;
}

std::string Duration(__int128 nanos) {
  std::string out;
  AppendIsoDuration(nanos, &out);
  return out;
}

TEST_CASE("eta: ISO 8601 durations") {
  constexpr __int128 kS = 1'000'000'000;
  CHECK(Duration(0) == "PT0S");
  CHECK(Duration((26 * 3600 + 30 * 60) * kS) == "PT26H30M");
  CHECK(Duration(-2 * 3600 * kS) == "-PT2H");
  CHECK(Duration(kS + kS / 2) == "PT1.5S");
  CHECK(Duration(60 * kS + 1) == "PT1M0.000000001S");
  CHECK(Duration(-(3600 * kS + 5 * kS)) == "-PT1H5S");
  CHECK(Duration(static_cast<__int128>(INT64_MAX) - INT64_MIN) == "PT5124095H34M33.709551615S");
}

TEST_CASE("eta: fresh view renders nulls") {
  EtaView v("SH1");
  CHECK(Fields(v) ==
        R"("eta":null,"eta_source":null,"promised":null,"late_by":null,"delivered_at":null)");
}

TEST_CASE("eta: the estimate with the latest issued_at wins, whatever the arrival order") {
  EtaView v("SH1");
  Feed feed;
  CHECK(feed(v, EstimateEvent("new", "2025-03-05T10:00:00Z", "2025-03-02T00:00:00Z")));
  CHECK_FALSE(feed(v, EstimateEvent("old", "2025-03-04T10:00:00Z", "2025-03-01T00:00:00Z")));
  CHECK_FALSE(feed(v, EstimateEvent("pick", "2025-03-01T10:00:00Z", "2025-03-03T00:00:00Z",
                                    EstimateOf::kPickup)));
  CHECK(Fields(v) == R"("eta":"2025-03-05T10:00:00Z","eta_source":{"format":"x12",)"
                     R"("issued_at":"2025-03-02T00:00:00Z"},"promised":null,"late_by":null,)"
                     R"("delivered_at":null)");
  CHECK(feed(v, EstimateEvent("arr", "2025-03-06T10:00:00Z", "2025-03-03T00:00:00Z",
                              EstimateOf::kArrival, "dcsa-tnt")));
  CHECK(v.eta() == T("2025-03-06T10:00:00Z"));
  CHECK(v.version() == 2);
}

TEST_CASE("eta: ERP promise wins over TMS; window_end is the deadline") {
  EtaView v("SH1");
  Feed feed;
  Promise window;
  window.window_start = T("2025-03-05T08:00:00Z");
  window.window_end = T("2025-03-05T12:00:00Z");
  CHECK(feed(v, Order("tms", "2025-03-02T00:00:00Z", SourceSystem::kTms, window)));
  CHECK(feed(v, EstimateEvent("e", "2025-03-06T14:30:00Z", "2025-03-03T00:00:00Z")));
  CHECK(Fields(v).find(R"("promised":{"date":null,"window_start":"2025-03-05T08:00:00Z",)"
                       R"("window_end":"2025-03-05T12:00:00Z"},"late_by":"PT26H30M")") !=
        std::string::npos);
  // An older ERP promise still outranks the TMS window.
  CHECK(feed(v, Order("erp", "2025-03-01T09:00:00+00:00", SourceSystem::kErp, Date("2025-03-06"))));
  CHECK(Fields(v).find(R"("promised":{"date":"2025-03-06","window_start":null,)"
                       R"("window_end":null},"late_by":"-PT9H30M")") != std::string::npos);
  // A later TMS update does not displace it.
  CHECK_FALSE(feed(v, Order("tms2", "2025-03-04T00:00:00Z", SourceSystem::kTms, window)));
}

TEST_CASE("eta: window_start is the deadline when there is no window_end") {
  EtaView v("SH1");
  Feed feed;
  Promise p;
  p.window_start = T("2025-03-05T08:00:00Z");
  p.date = "2025-03-09";
  feed(v, Order("o", "2025-03-01T00:00:00Z", SourceSystem::kErp, p));
  feed(v, EstimateEvent("e", "2025-03-05T06:00:00Z", "2025-03-03T00:00:00Z"));
  CHECK(Fields(v).find(R"("late_by":"-PT2H")") != std::string::npos);
}

TEST_CASE("eta: a promised date ends at local midnight of the order's offset (DST)") {
  // The customer's calendar is US Central: CST (-06:00) in winter, CDT (-05:00) in summer.
  // 2025-03-10 promised, delivered 2025-03-11T05:30Z.
  auto late_by = [](const char* order_at) {
    EtaView v("SH1");
    Feed feed;
    feed(v, Order("o", order_at, SourceSystem::kErp, Date("2025-03-10")));
    feed(v, Delivered("d", "2025-03-11T05:30:00Z"));
    const std::string f = Fields(v);
    const auto at = f.find("\"late_by\":");
    return f.substr(at, f.find(',', at) - at);
  };
  // CDT: deadline 2025-03-11T00:00-05:00 = 05:00Z, 30 minutes late.
  CHECK(late_by("2025-03-09T10:00:00-05:00") == R"("late_by":"PT30M")");
  // CST: deadline 2025-03-11T00:00-06:00 = 06:00Z, 30 minutes early.
  CHECK(late_by("2025-03-08T10:00:00-06:00") == R"("late_by":"-PT30M")");

  EtaPromise p;
  p.date = "2025-03-10";
  p.offset_minutes = -300;
  CHECK(PromiseDeadline(p) == T("2025-03-11T05:00:00Z"));
  p.offset_minutes = -360;
  CHECK(PromiseDeadline(p) == T("2025-03-11T06:00:00Z"));
  p.offset_minutes = 540;  // Tokyo
  CHECK(PromiseDeadline(p) == T("2025-03-10T15:00:00Z"));
  p.date = "2025-02-30";
  CHECK_FALSE(PromiseDeadline(p).has_value());
}

TEST_CASE("eta: a re-issued promise with only a different offset changes the deadline") {
  EtaView v("SH1");
  Feed feed;
  feed(v, EstimateEvent("e", "2025-03-11T05:30:00Z", "2025-03-03T00:00:00Z"));
  CHECK(feed(v, Order("o1", "2025-03-08T10:00:00-06:00", SourceSystem::kErp, Date("2025-03-10"))));
  CHECK(feed(v, Order("o2", "2025-03-09T10:00:00-05:00", SourceSystem::kErp, Date("2025-03-10"))));
  CHECK(Fields(v).find(R"("late_by":"PT30M")") != std::string::npos);
  // Same date, same offset, later event: nothing shown changes.
  CHECK_FALSE(
      feed(v, Order("o3", "2025-03-09T11:00:00-05:00", SourceSystem::kErp, Date("2025-03-10"))));
}

TEST_CASE("eta: delivery replaces the estimate as the ETA") {
  EtaView v("SH1");
  Feed feed;
  feed(v, EstimateEvent("e", "2025-03-05T10:00:00Z", "2025-03-02T00:00:00Z"));
  feed(v, Order("o", "2025-03-01T00:00:00Z", SourceSystem::kErp, Date("2025-03-05")));
  CHECK(feed(v, Delivered("d1", "2025-03-05T08:00:00Z")));
  CHECK(Fields(v) == R"("eta":"2025-03-05T08:00:00Z","eta_source":{"format":"x12",)"
                     R"("issued_at":null},"promised":{"date":"2025-03-05","window_start":null,)"
                     R"("window_end":null},"late_by":"-PT16H",)"
                     R"("delivered_at":"2025-03-05T08:00:00Z")");
  // Estimates after delivery are kept but not shown.
  CHECK_FALSE(feed(v, EstimateEvent("e2", "2025-03-07T10:00:00Z", "2025-03-06T00:00:00Z")));
  // An earlier DELIVERED arriving late is not the latest.
  CHECK_FALSE(feed(v, Delivered("d0", "2025-03-05T07:00:00Z")));
  // A DELIVERED estimate is not a delivery.
  Event est = EstimateEvent("e3", "2025-03-08T10:00:00Z", "2025-03-07T00:00:00Z");
  est.status = ShipmentStatus::kDelivered;
  CHECK_FALSE(feed(v, est));
  CHECK(v.eta() == T("2025-03-05T08:00:00Z"));
}

TEST_CASE("eta: the same seq applied twice changes nothing") {
  EtaView v("SH1");
  Event e = EstimateEvent("e", "2025-03-05T10:00:00Z", "2025-03-02T00:00:00Z");
  e.ledger.seq = 3;
  CHECK(v.Apply(e));
  e.estimate->estimated_at += 1;  // even a different body under an already-folded seq
  CHECK_FALSE(v.Apply(e));
  CHECK(v.eta() == T("2025-03-05T10:00:00Z"));
  CHECK(v.version() == 1);
}

TEST_CASE("eta: Encode/Decode round-trips; bad bytes are Corruption naming the view") {
  EtaView v("SH1");
  Feed feed;
  feed(v, EstimateEvent("e", "2025-03-05T10:00:00Z", "2025-03-02T00:00:00Z"));
  Promise p = Date("2025-03-05");
  p.window_end = T("2025-03-05T12:00:00Z");
  feed(v, Order("o", "2025-03-01T00:00:00-05:00", SourceSystem::kErp, p));
  feed(v, Delivered("d", "2025-03-05T08:00:00Z"));
  std::string bytes;
  v.Encode(&bytes);
  auto back = EtaView::Decode(bytes);
  REQUIRE(back.ok());
  CHECK(**back == v);
  CHECK(Fields(**back) == Fields(v));
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    auto r = EtaView::Decode(std::string_view(bytes).substr(0, cut));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find("eta view") != std::string::npos);
  }
}

}  // namespace
}  // namespace waybill::projections
