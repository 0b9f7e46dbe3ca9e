// Cross-view properties: arrival order does not matter, Apply reports exactly the changes
// that show, re-applied seqs are no-ops, and Encode/Decode preserves the rendering. Also
// ViewKind names, MakeView/DecodeView and the combined object.
#include <doctest/doctest.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "projections/view_test_util.h"
#include "projections/views.h"
#include "schemas/time.h"

namespace waybill::projections {
namespace {

using testing::Feed;
using testing::Fields;
using testing::Json;
using testing::T;
using testing::TestEvent;

Event Make(std::string id, EventKind kind, const char* at, SourceSystem system,
           std::string format) {
  return TestEvent(std::move(id), kind, at, system, std::move(format), "SH-42");
}

Event Status(std::string id, const char* at, ShipmentStatus s, std::string code,
             SourceSystem system = SourceSystem::kCarrier, std::string format = "x12") {
  Event e = Make(std::move(id), EventKind::kMilestone, at, system, std::move(format));
  e.status = s;
  e.source_code = std::move(code);
  e.carrier = "ACME";
  return e;
}

Event Estimated(std::string id, const char* eta, const char* issued) {
  Event e = Make(std::move(id), EventKind::kEstimate, issued, SourceSystem::kCarrier, "x12");
  e.source_code = "AG";
  e.estimate = Estimate{T(eta), EstimateOf::kDelivery, T(issued)};
  e.carrier = "ACME";
  return e;
}

Event Cost(std::string id, const char* at, ChargeBasis basis, std::string doc, std::int64_t total,
           std::vector<ChargeLine> lines) {
  Event e = Make(std::move(id), EventKind::kCharges, at, SourceSystem::kTms, "canonical");
  e.charges = Charges{basis, std::move(doc), "USD", total, std::move(lines)};
  return e;
}

// A realistic shipment: order, tender, pickup, transit, delay, estimates, quote, invoice
// and its correction, an exception, delivery. Distinct event and issue times.
std::vector<Event> Shipment() {
  std::vector<Event> ev;
  Event order = Status("ord", "2025-03-01T09:00:00-06:00", ShipmentStatus::kOrderReleased, "REL",
                       SourceSystem::kErp, "d365-sales-order");
  order.kind = EventKind::kOrder;
  order.carrier.reset();
  order.order_id = "SO-1001";
  order.customer_id = "CUST-7";
  order.references = {{"PO", "4500012345"}};
  Promise promise;
  promise.date = "2025-03-06";
  order.order = OrderBody{std::nullopt, promise};
  ev.push_back(order);

  Event tender = Status("ten", "2025-03-01T18:00:00Z", ShipmentStatus::kTendered, "TEN",
                        SourceSystem::kTms, "x12");
  tender.order_id = "SO-1001-T";
  tender.carrier = "ACMX";
  tender.references = {{"BM", "BOL-77"}};
  ev.push_back(tender);
  Event accepted = Status("acc", "2025-03-01T20:00:00Z", ShipmentStatus::kTenderAccepted, "ACC",
                          SourceSystem::kTms);
  accepted.carrier = "ACMX";  // the TMS's carrier outranks what later carrier messages say
  ev.push_back(accepted);
  ev.push_back(Status("x3", "2025-03-02T13:00:00Z", ShipmentStatus::kAtPickup, "X3"));
  Event picked = Status("cp", "2025-03-02T15:00:00Z", ShipmentStatus::kPickedUp, "CP");
  picked.references = {{"PRO", "998877"}, {"BM", "BOL-77"}};
  ev.push_back(picked);
  ev.push_back(Estimated("ag1", "2025-03-05T16:00:00Z", "2025-03-02T15:30:00Z"));
  Event transit = Status("x6", "2025-03-03T02:00:00Z", ShipmentStatus::kInTransit, "X6");
  Location loc;
  loc.city = "Joliet";
  loc.region = "IL";
  loc.country = "US";
  transit.location = loc;
  ev.push_back(transit);
  Event delay = Status("sd", "2025-03-04T11:00:00Z", ShipmentStatus::kDelayed, "SD");
  delay.reason_code = "AW";
  ev.push_back(delay);
  ev.push_back(Estimated("ag2", "2025-03-06T22:00:00Z", "2025-03-04T11:05:00Z"));
  ev.push_back(Cost("quote", "2025-03-01T17:00:00Z", ChargeBasis::kQuoted, "Q-5", 185000,
                    {{"FRT", "Linehaul", 170000, "USD"}, {"FSC", std::nullopt, 15000, "USD"}}));
  Event damage =
      Make("a9", EventKind::kMilestone, "2025-03-07T08:00:00Z", SourceSystem::kCarrier, "x12");
  damage.source_code = "A9";
  damage.carrier = "ACME";
  ev.push_back(damage);
  ev.push_back(Status("d1", "2025-03-07T07:30:00Z", ShipmentStatus::kDelivered, "D1"));
  ev.push_back(Cost("inv", "2025-03-09T10:00:00Z", ChargeBasis::kInvoiced, "INV-9", 205000,
                    {{"FRT", std::nullopt, 170000, "USD"}, {"DET", "Detention", 35000, "USD"}}));
  ev.push_back(Cost("inv-c", "2025-03-10T10:00:00Z", ChargeBasis::kInvoiced, "INV-9", 195000,
                    {{"FRT", std::nullopt, 170000, "USD"}, {"DET", "Detention", 25000, "USD"}}));
  return ev;
}

// The content of a rendering: blanks what legitimately depends on arrival order (version,
// last_seq, updated_at, versions, and the ledger seq shown on each milestone). A scanner, not
// std::regex: g++ 12 warns (maybe-uninitialized) inside <regex> under the sanitizers.
std::string Content(const std::string& json) {
  static constexpr std::string_view kKeys[] = {
      "\"version\":", "\"last_seq\":", "\"seq\":", "\"updated_at\":", "\"versions\":"};
  std::string out;
  std::size_t i = 0;
  while (i < json.size()) {
    std::string_view key;
    for (std::string_view k : kKeys) {
      if (json.compare(i, k.size(), k) == 0) key = k;
    }
    if (key.empty()) {
      out.push_back(json[i++]);
      continue;
    }
    out.append(key);
    out.push_back('_');
    i += key.size();
    // Skip the value: a number, null, a string without escapes, or a flat object.
    const char first = json[i];
    const char close = first == '"' ? '"' : first == '{' ? '}' : '\0';
    if (close != '\0') {
      i = json.find(close, i + 1) + 1;
    } else {
      while (i < json.size() && json[i] != ',' && json[i] != '}') ++i;
    }
  }
  return out;
}

struct Folded {
  std::unique_ptr<ShipmentView> views[3];
  std::vector<Event> applied;  // with ledger fields, in arrival order
};

// Folds `events` in the given order (seq = arrival position) and checks, on every Apply, that
// it returns true exactly when the rendered content changed.
Folded FoldChecked(const std::vector<Event>& events) {
  Folded f;
  for (int i = 0; i < 3; ++i) f.views[i] = MakeView(kAllViews[i], "SH-42");
  std::uint64_t seq = 0;
  for (Event e : events) {
    e.ledger.seq = ++seq;
    e.ledger.recorded_at = T("2025-03-10T00:00:00Z") + static_cast<UnixNanos>(seq) * 1'000'000;
    for (auto& v : f.views) {
      const std::string before = Content(Json(*v));
      const bool changed = v->Apply(e);
      const std::string after = Content(Json(*v));
      INFO(ToString(v->kind()), " event ", e.event_id);
      REQUIRE(changed == (before != after));
    }
    f.applied.push_back(std::move(e));
  }
  return f;
}

TEST_CASE("views: every arrival order renders the same content") {
  const std::vector<Event> events = Shipment();
  const Folded in_order = FoldChecked(events);
  std::string expected[3];
  for (int i = 0; i < 3; ++i) expected[i] = Content(Json(*in_order.views[i]));
  const std::string expected_combined = Content(CombinedViewJson(
      "SH-42", in_order.views[0].get(), in_order.views[1].get(), in_order.views[2].get()));

  // The blanking helper blanks exactly the arrival-order-dependent values.
  CHECK(Content(R"({"version":3,"last_seq":12,"updated_at":"2025-03-10T00:00:12Z","versions":)"
                R"({"status":1,"eta":2},"x":[{"seq":7,"event_id":"e"}],"updated_at":null})") ==
        R"({"version":_,"last_seq":_,"updated_at":_,"versions":_,"x":[{"seq":_,"event_id":"e"}],)"
        R"("updated_at":_})");

  // Spot checks that the reference itself is right.
  CHECK(expected[0].find(R"("status":"DELIVERED","status_at":"2025-03-07T07:30:00Z")") !=
        std::string::npos);
  CHECK(expected[0].find(R"("exceptions":[{"code":"A9")") != std::string::npos);
  CHECK(expected[0].find(R"("customer_id":"CUST-7")") != std::string::npos);
  CHECK(expected[0].find(R"("order_id":"SO-1001")") != std::string::npos);
  CHECK(expected[0].find(R"("carrier":"ACMX")") != std::string::npos);
  CHECK(expected[1].find(R"("eta":"2025-03-07T07:30:00Z")") != std::string::npos);
  // Promised 2025-03-06 at -06:00 ends 2025-03-07T06:00Z; delivered 07:30Z.
  CHECK(expected[1].find(R"("late_by":"PT1H30M")") != std::string::npos);
  CHECK(expected[2].find(R"("invoiced":"1950.00","posted":null,"current":"1950.00",)"
                         R"("variance":"100.00")") != std::string::npos);

  std::mt19937 rng(20250301);
  std::vector<Event> shuffled = events;
  for (int round = 0; round < 400; ++round) {
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    Folded f = FoldChecked(shuffled);
    for (int i = 0; i < 3; ++i) {
      INFO("round ", round, " view ", ToString(kAllViews[i]));
      REQUIRE(Content(Json(*f.views[i])) == expected[i]);
    }
    REQUIRE(Content(CombinedViewJson("SH-42", f.views[0].get(), f.views[1].get(),
                                     f.views[2].get())) == expected_combined);

    // A worker restart re-applies already-folded seqs: nothing changes.
    std::string rendered[3];
    for (int i = 0; i < 3; ++i) rendered[i] = Json(*f.views[i]);
    for (const Event& e : f.applied) {
      for (auto& v : f.views) REQUIRE_FALSE(v->Apply(e));
    }
    for (int i = 0; i < 3; ++i) {
      REQUIRE(Json(*f.views[i]) == rendered[i]);
      // The stored state restores the same view.
      std::string bytes;
      f.views[i]->Encode(&bytes);
      auto back = DecodeView(kAllViews[i], bytes);
      REQUIRE(back.ok());
      REQUIRE(Json(**back) == rendered[i]);
      std::string again;
      (*back)->Encode(&again);
      REQUIRE(again == bytes);
    }
  }
}

TEST_CASE("views: kind names, factory and decoder") {
  for (ViewKind k : kAllViews) {
    CHECK(ParseViewKind(ToString(k)) == k);
    auto v = MakeView(k, "S");
    REQUIRE(v != nullptr);
    CHECK(v->kind() == k);
    CHECK(v->version() == 0);
    CHECK(v->shipment_id() == "S");
    CHECK_FALSE(v->customer_id().has_value());
  }
  CHECK(ToString(ViewKind::kFreightCost) == "freight_cost");
  CHECK_FALSE(ParseViewKind("Status").has_value());
  CHECK_FALSE(ParseViewKind("freight-cost").has_value());

  std::string status_bytes;
  MakeView(ViewKind::kStatus, "S")->Encode(&status_bytes);
  auto wrong = DecodeView(ViewKind::kEta, status_bytes);
  CHECK(wrong.status().code() == ErrorCode::kCorruption);
  CHECK(wrong.status().message().find("eta view") != std::string::npos);
  CHECK(DecodeView(ViewKind::kStatus, status_bytes).ok());
}

TEST_CASE("views: combined object of fresh views") {
  CHECK(CombinedViewJson("S\"1", nullptr, nullptr, nullptr) ==
        R"({"shipment_id":"S\"1","order_id":null,"customer_id":null,"carrier":null,)"
        R"("references":[],"last_seq":0,"updated_at":null,)"
        R"("versions":{"status":0,"eta":0,"freight_cost":0},)"
        R"("status":null,"status_at":null,"status_source":null,"delay_reason":null,)"
        R"("exceptions":[],"milestones":[],)"
        R"("eta":null,"eta_source":null,"promised":null,"late_by":null,"delivered_at":null,)"
        R"("freight_cost":{"currency":null,"quoted":null,"invoiced":null,"posted":null,)"
        R"("current":null,"variance":null,"lines":[],"totals":[],"error":null}})");
}

TEST_CASE("views: combined header merges views folded to different points") {
  const std::vector<Event> events = Shipment();
  auto status = MakeView(ViewKind::kStatus, "SH-42");
  auto cost = MakeView(ViewKind::kFreightCost, "SH-42");
  std::uint64_t seq = 0;
  for (Event e : events) {
    e.ledger.seq = ++seq;
    e.ledger.recorded_at = static_cast<UnixNanos>(seq) * 1'000'000'000;
    if (e.event_id != "ord") cost->Apply(e);  // pretend cost lags: it never saw the ERP order
    if (e.kind != EventKind::kCharges) status->Apply(e);
  }
  const std::string json = CombinedViewJson("SH-42", status.get(), nullptr, cost.get());
  CHECK(json.find(R"("order_id":"SO-1001","customer_id":"CUST-7","carrier":"ACMX")") !=
        std::string::npos);
  CHECK(json.find(R"("versions":{"status":)") != std::string::npos);
  CHECK(json.find(R"("eta":0)") != std::string::npos);
  CHECK(json.find(R"("last_seq":14,"updated_at":"1970-01-01T00:00:14Z")") != std::string::npos);
  CHECK(json.find(R"("eta":null,"eta_source":null)") != std::string::npos);
}

// Not a correctness test: prints the cost of Apply and rendering. Run with --no-skip.
// SummarizeCombined against its definition: the attributes as the rendered combined object
// states them, parsed back. Checked after every event of shuffled arrivals, with and without
// freight cost, and with each view missing in turn.
TEST_CASE("views: the combined summary says what the combined object says") {
  simdjson::dom::parser parser;
  auto opt_string = [](simdjson::dom::object& o, const char* key) -> std::optional<std::string> {
    std::string_view v;
    if (o[key].get(v) != simdjson::SUCCESS) return std::nullopt;
    return std::string(v);
  };
  std::mt19937 rng(20261129);
  std::vector<Event> events = Shipment();
  int compared = 0, with_status = 0, with_customer = 0;
  for (int round = 0; round < 20; ++round) {
    std::shuffle(events.begin(), events.end(), rng);
    std::unique_ptr<ShipmentView> views[3];
    for (int i = 0; i < 3; ++i) views[i] = MakeView(kAllViews[i], "SH-42");
    std::uint64_t seq = 0;
    for (Event e : events) {
      e.ledger.seq = ++seq;
      e.ledger.recorded_at = T("2025-03-10T00:00:00Z") + static_cast<UnixNanos>(seq) * 1'234'567;
      for (auto& v : views) v->Apply(e);
      for (int missing = -1; missing < 3; ++missing) {
        const ShipmentView* given[3];
        for (int i = 0; i < 3; ++i) given[i] = i == missing ? nullptr : views[i].get();
        for (bool costs : {false, true}) {
          const std::string json = CombinedViewJson("SH-42", given[0], given[1], given[2], costs);
          const CombinedSummary sum =
              SummarizeCombined("SH-42", given[0], given[1], given[2], costs);
          simdjson::dom::object o;
          REQUIRE(parser.parse(json).get(o) == simdjson::SUCCESS);
          INFO("round ", round, " seq ", seq, " missing ", missing, " costs ", costs, ": ", json);
          CHECK(sum.customer_id == opt_string(o, "customer_id"));
          CHECK(sum.carrier == opt_string(o, "carrier"));
          CHECK(sum.status == opt_string(o, "status"));
          std::uint64_t last_seq = 0;
          REQUIRE(o["last_seq"].get(last_seq) == simdjson::SUCCESS);
          CHECK(sum.last_seq == last_seq);
          const auto at = opt_string(o, "updated_at");
          CHECK(sum.updated_at.has_value() == at.has_value());
          if (at && sum.updated_at) CHECK(*sum.updated_at == ParseRfc3339(*at).value().utc);
          ++compared;
          with_status += sum.status.has_value();
          with_customer += sum.customer_id.has_value();
        }
      }
    }
  }
  // The comparisons covered set and unset values alike.
  CHECK(compared > 1000);
  CHECK(with_status > 100);
  CHECK(with_customer > 100);
  CHECK(compared - with_status > 100);
}

TEST_CASE("views: perf" * doctest::skip()) {
  const std::vector<Event> events = Shipment();
  constexpr int kShipments = 20000;
  std::uint64_t seq = 0;
  std::vector<Event> stamped = events;
  std::size_t applies = 0;
  std::size_t renders = 0;
  std::string out;
  using Clock = std::chrono::steady_clock;
  Clock::duration apply_time{};
  Clock::duration render_time{};
  for (int s = 0; s < kShipments; ++s) {
    std::unique_ptr<ShipmentView> views[3];
    for (int i = 0; i < 3; ++i) views[i] = MakeView(kAllViews[i], "SH-42");
    for (Event& e : stamped) e.ledger.seq = ++seq;
    const auto t0 = Clock::now();
    for (const Event& e : stamped) {
      for (auto& v : views) v->Apply(e);
      applies += 3;
    }
    const auto t1 = Clock::now();
    for (auto& v : views) {
      out.clear();
      v->AppendJson(&out);
      ++renders;
    }
    render_time += Clock::now() - t1;
    apply_time += t1 - t0;
  }
  std::printf(
      "Apply: %.0f ns per view per event; render: %.0f ns per view\n",
      std::chrono::duration<double, std::nano>(apply_time).count() / static_cast<double>(applies),
      std::chrono::duration<double, std::nano>(render_time).count() / static_cast<double>(renders));
}

}  // namespace
}  // namespace waybill::projections
