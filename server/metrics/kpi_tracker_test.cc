// KPI tracker: each KPI from hand-made events, seeding after a restart, the LRU bound,
// portal freshness through a real publisher, and the ledger collector.
#include "server/metrics/kpi_tracker.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <thread>

#include "projections/projection_test_util.h"
#include "projections/projector.h"
#include "projections/publisher.h"
#include "server/metrics/ledger_collector.h"
#include "tests/test_util.h"

namespace waybill::server::metrics {
namespace {

constexpr UnixNanos kSecond = 1'000'000'000;
constexpr UnixNanos kT0 = 1'735'689'600 * kSecond;  // 2025-01-01T00:00:00Z

// Builds committed events with dense sequences, recorded one second after they occur
// unless told otherwise.
class Events {
 public:
  Event Status(const std::string& shipment, ShipmentStatus status, UnixNanos at) {
    Event e = waybill::testing::MakeMilestone("e" + std::to_string(seq_ + 1), shipment, at, status);
    if (status == ShipmentStatus::kOrderReleased) {
      e.kind = EventKind::kOrder;
      e.source.system = SourceSystem::kErp;
      e.order = OrderBody{};
    }
    return Commit(std::move(e), at + kSecond);
  }
  Event Document(const std::string& shipment, std::string type, UnixNanos at,
                 UnixNanos recorded_at) {
    Event e = waybill::testing::MakeMilestone("e" + std::to_string(seq_ + 1), shipment, at);
    e.kind = EventKind::kDocument;
    e.status.reset();
    e.document = DocumentBody{std::move(type), std::nullopt};
    return Commit(std::move(e), recorded_at);
  }
  Event Charges(const std::string& shipment, ChargeBasis basis, std::optional<std::string> doc,
                UnixNanos at) {
    Event e = waybill::testing::MakeMilestone("e" + std::to_string(seq_ + 1), shipment, at);
    e.kind = EventKind::kCharges;
    e.status.reset();
    waybill::Charges c;
    c.basis = basis;
    c.document = std::move(doc);
    c.currency = "USD";
    c.total = 100000;
    e.charges = c;
    return Commit(std::move(e), at + kSecond);
  }

 private:
  Event Commit(Event e, UnixNanos recorded_at) {
    e.ledger.seq = ++seq_;
    e.ledger.recorded_at = recorded_at;
    return e;
  }
  std::uint64_t seq_ = 0;
};

// The value of one rendered series ("name{labels}"), or -1 when absent.
double ValueOf(const Registry& r, const std::string& series) {
  const std::string text = r.Render();
  const std::string key = series + " ";
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t end = text.find('\n', at);
    const std::string_view line(text.data() + at, end - at);
    if (line.starts_with(key)) return std::stod(std::string(line.substr(key.size())));
    at = end + 1;
  }
  return -1;
}

}  // namespace

TEST_CASE("kpi: every metric is exported from the start, at zero") {
  Registry r;
  KpiTracker kpi(r);
  CHECK(ValueOf(r, "waybill_kpi_delivered_total") == 0);
  CHECK(ValueOf(r, "waybill_kpi_delivered_missing_milestone_total{milestone=\"pickup\"}") == 0);
  CHECK(ValueOf(r, "waybill_kpi_delivered_missing_milestone_total{milestone=\"in_transit\"}") == 0);
  CHECK(ValueOf(r, "waybill_kpi_order_conversion_seconds_count") == 0);
  CHECK(ValueOf(r, "waybill_kpi_pod_lag_seconds_count") == 0);
  CHECK(ValueOf(r, "waybill_kpi_portal_freshness_seconds_count") == 0);
  CHECK(ValueOf(r, "waybill_kpi_freight_posting_seconds_count") == 0);
  CHECK(ValueOf(r, "waybill_kpi_tracked_shipments") == 0);
}

TEST_CASE("kpi: order conversion, once per shipment, in either arrival order") {
  Registry r;
  KpiTracker kpi(r);
  Events ev;
  const std::vector<Event> batch = {
      ev.Status("S1", ShipmentStatus::kOrderReleased, kT0),
      ev.Status("S1", ShipmentStatus::kTendered, kT0 + 60 * kSecond),
      ev.Status("S1", ShipmentStatus::kTenderAccepted, kT0 + 3600 * kSecond),
      ev.Status("S1", ShipmentStatus::kTenderAccepted, kT0 + 7200 * kSecond),  // not again
      // Out of order: the acceptance arrives before the release it follows.
      ev.Status("S2", ShipmentStatus::kTenderAccepted, kT0 + 30 * kSecond),
  };
  kpi.Observe(batch);
  CHECK(ValueOf(r, "waybill_kpi_order_conversion_seconds_count") == 1);
  kpi.Observe(std::vector<Event>{ev.Status("S2", ShipmentStatus::kOrderReleased, kT0)});
  CHECK(ValueOf(r, "waybill_kpi_order_conversion_seconds_count") == 2);
  CHECK(ValueOf(r, "waybill_kpi_order_conversion_seconds_sum") == 3630);
  CHECK(ValueOf(r, "waybill_kpi_order_conversion_seconds_bucket{le=\"60\"}") == 1);
  CHECK(ValueOf(r, "waybill_kpi_order_conversion_seconds_bucket{le=\"3600\"}") == 2);
  CHECK(kpi.tracked_shipments() == 2);
  CHECK(ValueOf(r, "waybill_kpi_tracked_shipments") == 2);
}

TEST_CASE("kpi: delivered shipments missing pickup or in-transit milestones") {
  Registry r;
  KpiTracker kpi(r);
  Events ev;
  kpi.Observe(std::vector<Event>{
      ev.Status("FULL", ShipmentStatus::kPickedUp, kT0),
      ev.Status("FULL", ShipmentStatus::kInTransit, kT0 + kSecond),
      ev.Status("FULL", ShipmentStatus::kDelivered, kT0 + 2 * kSecond),
      ev.Status("FULL", ShipmentStatus::kDelivered, kT0 + 3 * kSecond),  // counted once
      ev.Status("BARE", ShipmentStatus::kDelivered, kT0),
      ev.Status("NOTRANSIT", ShipmentStatus::kAtPickup, kT0),
      ev.Status("NOTRANSIT", ShipmentStatus::kDelivered, kT0 + kSecond),
  });
  // A pickup reported after the delivery does not change what was missing then.
  kpi.Observe(std::vector<Event>{ev.Status("BARE", ShipmentStatus::kPickedUp, kT0 - kSecond)});
  CHECK(ValueOf(r, "waybill_kpi_delivered_total") == 3);
  CHECK(ValueOf(r, "waybill_kpi_delivered_missing_milestone_total{milestone=\"pickup\"}") == 1);
  CHECK(ValueOf(r, "waybill_kpi_delivered_missing_milestone_total{milestone=\"in_transit\"}") == 2);
}

TEST_CASE("kpi: proof-of-delivery lag from delivery event time to the POD recorded") {
  Registry r;
  KpiTracker kpi(r);
  Events ev;
  kpi.Observe(std::vector<Event>{
      ev.Status("S1", ShipmentStatus::kDelivered, kT0),
      ev.Document("S1", "bill_of_lading", kT0, kT0 + 10 * kSecond),  // not a POD
      ev.Document("S1", "proof_of_delivery", kT0 + 60 * kSecond, kT0 + 7200 * kSecond),
      ev.Document("S1", "proof_of_delivery", kT0, kT0 + 9000 * kSecond),  // once
      // The POD recorded before its delivery milestone arrives.
      ev.Document("S2", "proof_of_delivery", kT0, kT0 + 100 * kSecond),
  });
  CHECK(ValueOf(r, "waybill_kpi_pod_lag_seconds_count") == 1);
  kpi.Observe(std::vector<Event>{ev.Status("S2", ShipmentStatus::kDelivered, kT0)});
  CHECK(ValueOf(r, "waybill_kpi_pod_lag_seconds_count") == 2);
  CHECK(ValueOf(r, "waybill_kpi_pod_lag_seconds_sum") == 7300);
}

TEST_CASE("kpi: freight posting latency from invoiced to posted charges") {
  Registry r;
  KpiTracker kpi(r);
  Events ev;
  const UnixNanos day = 86400 * kSecond;
  kpi.Observe(std::vector<Event>{
      ev.Charges("S1", ChargeBasis::kQuoted, "Q1", kT0),  // quotes are not part of it
      ev.Charges("S1", ChargeBasis::kInvoiced, "INV-1", kT0),
      ev.Charges("S1", ChargeBasis::kInvoiced, "INV-2", kT0 + day),
      ev.Charges("S1", ChargeBasis::kInvoiced, "INV-1", kT0 + 2 * day),  // a correction
      // Posted under the invoice's number: matched by it, not by age.
      ev.Charges("S1", ChargeBasis::kPosted, "INV-2", kT0 + 3 * day),
      // Posted under the ERP's own number: the oldest pending invoice (INV-1 at kT0).
      ev.Charges("S1", ChargeBasis::kPosted, "FI-900", kT0 + 5 * day),
      ev.Charges("S1", ChargeBasis::kPosted, "INV-1", kT0 + 6 * day),  // settled already
      // A posting that arrives before its invoice waits for it.
      ev.Charges("S2", ChargeBasis::kPosted, std::nullopt, kT0 + day),
  });
  CHECK(ValueOf(r, "waybill_kpi_freight_posting_seconds_count") == 2);
  CHECK(ValueOf(r, "waybill_kpi_freight_posting_seconds_sum") == 7 * 86400);
  kpi.Observe(std::vector<Event>{ev.Charges("S2", ChargeBasis::kInvoiced, std::nullopt, kT0)});
  CHECK(ValueOf(r, "waybill_kpi_freight_posting_seconds_count") == 3);
  CHECK(ValueOf(r, "waybill_kpi_freight_posting_seconds_sum") == 8 * 86400);
}

TEST_CASE("kpi: state is bounded by an LRU of shipments") {
  Registry r;
  KpiTrackerOptions options;
  options.max_shipments = 2;
  KpiTracker kpi(r, options);
  Events ev;
  kpi.Observe(std::vector<Event>{
      ev.Status("A", ShipmentStatus::kOrderReleased, kT0),
      ev.Status("B", ShipmentStatus::kOrderReleased, kT0),
      ev.Status("A", ShipmentStatus::kPickedUp, kT0),       // A is now the most recent
      ev.Status("C", ShipmentStatus::kOrderReleased, kT0),  // evicts B
  });
  CHECK(kpi.tracked_shipments() == 2);
  kpi.Observe(std::vector<Event>{
      ev.Status("A", ShipmentStatus::kTenderAccepted, kT0 + 10 * kSecond),
      ev.Status("B", ShipmentStatus::kTenderAccepted, kT0 + 10 * kSecond),  // B was forgotten
  });
  CHECK(ValueOf(r, "waybill_kpi_order_conversion_seconds_count") == 1);
}

TEST_CASE("kpi: after a restart, earlier events are read only where a decision needs them") {
  // The ledger as the previous process left it (seq 1..5), then what the new one sees.
  Events ev;
  std::map<std::string, std::vector<Event>> ledger;
  auto append = [&](Event e) {
    ledger[e.shipment_id].push_back(e);
    return e;
  };
  append(ev.Status("OLD", ShipmentStatus::kOrderReleased, kT0));
  append(ev.Status("OLD", ShipmentStatus::kPickedUp, kT0 + kSecond));
  append(ev.Status("OLD", ShipmentStatus::kInTransit, kT0 + 2 * kSecond));
  append(ev.Status("DONE", ShipmentStatus::kDelivered, kT0));
  append(ev.Status("FRESH", ShipmentStatus::kAtPickup, kT0));
  std::vector<Event> after = {
      append(ev.Status("OLD", ShipmentStatus::kTenderAccepted, kT0 + 100 * kSecond)),
      append(ev.Status("OLD", ShipmentStatus::kDelivered, kT0 + 200 * kSecond)),
      append(ev.Status("DONE", ShipmentStatus::kDelivered, kT0 + kSecond)),  // again
      append(ev.Status("NEW", ShipmentStatus::kPickedUp, kT0)),
      append(ev.Status("NEW", ShipmentStatus::kInTransit, kT0 + kSecond)),
      append(ev.Status("NEW", ShipmentStatus::kDelivered, kT0 + 2 * kSecond)),
  };

  SUBCASE("without history, the restart shows as missing milestones") {
    Registry r;
    KpiTracker kpi(r);
    kpi.Observe(after);
    CHECK(ValueOf(r, "waybill_kpi_delivered_total") == 3);
    CHECK(ValueOf(r, "waybill_kpi_delivered_missing_milestone_total{milestone=\"pickup\"}") == 2);
    CHECK(ValueOf(r, "waybill_kpi_order_conversion_seconds_count") == 0);
  }
  SUBCASE("with history, the tracker knows what happened before it started") {
    Registry r;
    KpiTrackerOptions options;
    std::vector<std::string> loaded;
    options.load_history = [&](std::string_view id) -> Result<std::vector<Event>> {
      loaded.emplace_back(id);
      return ledger[std::string(id)];
    };
    KpiTracker kpi(r, options);
    kpi.Observe(after);
    // OLD: seeded once, at its acceptance; DONE: its delivery was counted before. NEW was
    // seen from its start: no read.
    CHECK(loaded == std::vector<std::string>{"OLD", "DONE"});
    CHECK(ValueOf(r, "waybill_kpi_history_loads_total{result=\"ok\"}") == 2);
    CHECK(ValueOf(r, "waybill_kpi_order_conversion_seconds_count") == 1);
    CHECK(ValueOf(r, "waybill_kpi_order_conversion_seconds_sum") == 100);
    CHECK(ValueOf(r, "waybill_kpi_delivered_total") == 2);  // OLD and NEW
    CHECK(ValueOf(r, "waybill_kpi_delivered_missing_milestone_total{milestone=\"pickup\"}") == 0);
    CHECK(ValueOf(r, "waybill_kpi_delivered_missing_milestone_total{milestone=\"in_transit\"}") ==
          0);
  }
  SUBCASE("a tracker that saw the ledger from sequence 1 never reads history") {
    Registry r;
    KpiTrackerOptions options;
    int loads = 0;
    options.load_history = [&](std::string_view id) -> Result<std::vector<Event>> {
      ++loads;
      return ledger[std::string(id)];
    };
    KpiTracker kpi(r, options);
    std::vector<Event> all;
    for (const auto& [id, events] : ledger) all.insert(all.end(), events.begin(), events.end());
    std::sort(all.begin(), all.end(),
              [](const Event& a, const Event& b) { return a.ledger.seq < b.ledger.seq; });
    REQUIRE(all.front().ledger.seq == 1);
    kpi.Observe(all);
    CHECK(loads == 0);
    // What it saw itself is complete: DONE's delivery counts once, nothing is "missing" for
    // OLD, and its conversion is measured.
    CHECK(ValueOf(r, "waybill_kpi_delivered_total") == 3);
    CHECK(ValueOf(r, "waybill_kpi_order_conversion_seconds_count") == 1);
  }
  SUBCASE("once a shipment was evicted, the full-window shortcut no longer applies") {
    Registry r;
    KpiTrackerOptions options;
    options.max_shipments = 1;
    int loads = 0;
    options.load_history = [&](std::string_view id) -> Result<std::vector<Event>> {
      ++loads;
      return ledger[std::string(id)];
    };
    KpiTracker kpi(r, options);
    std::vector<Event> all;
    for (const auto& [id, events] : ledger) all.insert(all.end(), events.begin(), events.end());
    std::sort(all.begin(), all.end(),
              [](const Event& a, const Event& b) { return a.ledger.seq < b.ledger.seq; });
    kpi.Observe(all);
    CHECK(loads > 0);
  }
  SUBCASE("a failing history read counts as an error and the event still counts") {
    Registry r;
    KpiTrackerOptions options;
    options.load_history = [](std::string_view) -> Result<std::vector<Event>> {
      return Status::IoError("disk gone");
    };
    KpiTracker kpi(r, options);
    kpi.Observe(after);
    CHECK(ValueOf(r, "waybill_kpi_history_loads_total{result=\"error\"}") == 2);
    CHECK(ValueOf(r, "waybill_kpi_delivered_total") == 3);
  }
}

TEST_CASE("kpi: portal freshness through a real publisher's on_published") {
  waybill::testing::TempDir dir;
  auto opened = ledger::Ledger::Open(dir.path());
  REQUIRE(opened.ok());
  ledger::Ledger& ledger = **opened;
  projections::testing::EventGenerator gen(7, 10);
  ledger::AppendBatch batch;
  for (int i = 0; i < 200; ++i) batch.events.push_back(ledger::PrepareEvent(gen.Next()));
  REQUIRE(ledger.Append(std::move(batch)).ok());
  auto projector = projections::Projector::Open(ledger);
  REQUIRE(projector.ok());
  REQUIRE((*projector)->CatchUp().ok());

  struct Sink : projections::MessageSink {
    Result<std::size_t> PublishOrdered(const std::vector<projections::OutMessage>& m) override {
      return std::min<std::size_t>(m.size(), 7);  // partial acks: only those are reported
    }
  } sink;
  Registry r;
  KpiTracker kpi(r);
  std::size_t reported = 0, with_time = 0;
  const UnixNanos head_recorded_at = ledger.Head().recorded_at;
  projections::PublisherOptions options;
  options.max_batch = 50;
  options.on_published = [&](std::span<const projections::PublishedMessage> messages,
                             UnixNanos acked_at) {
    for (const auto& m : messages) {
      REQUIRE(m.message != nullptr);
      ++reported;
      if (m.recorded_at) {
        ++with_time;
        // Every view here reflects events of the one batch appended above.
        CHECK(*m.recorded_at == head_recorded_at);
        CHECK(*m.recorded_at <= acked_at);
      }
    }
    kpi.ObservePublished(messages, acked_at);
  };
  projections::Publisher views(projections::Publisher::Source::kOutbox, ledger, sink, options);
  std::size_t published = 0;
  for (;;) {
    auto n = views.PublishPending();
    REQUIRE(n.ok());
    if (*n == 0) break;
    published += *n;
  }
  CHECK(published > 7);
  CHECK(reported == published);
  CHECK(with_time == reported);
  CHECK(ValueOf(r, "waybill_kpi_portal_freshness_seconds_count") == static_cast<double>(published));

  // The event feed reports each event's own recorded_at.
  std::size_t feed_reported = 0;
  options.on_published = [&](std::span<const projections::PublishedMessage> messages, UnixNanos) {
    for (const auto& m : messages) {
      CHECK(m.recorded_at == std::optional<UnixNanos>(head_recorded_at));
      ++feed_reported;
    }
  };
  projections::Publisher feed(projections::Publisher::Source::kEventFeed, ledger, sink, options);
  for (;;) {
    auto n = feed.PublishPending();
    REQUIRE(n.ok());
    if (*n == 0) break;
  }
  CHECK(feed_reported == 200);
}

TEST_CASE("kpi: Observe and ObservePublished from several threads") {
  Registry r;
  KpiTrackerOptions options;
  options.max_shipments = 50;
  KpiTracker kpi(r, options);
  std::atomic<bool> done{false};
  std::vector<std::thread> publishers;
  for (int t = 0; t < 3; ++t) {
    publishers.emplace_back([&] {
      std::vector<projections::PublishedMessage> m(4);
      for (auto& x : m) x.recorded_at = kT0;
      int rounds = 0;
      while (!done || rounds < 100) {
        kpi.ObservePublished(m, kT0 + kSecond);
        (void)kpi.tracked_shipments();
        ++rounds;
      }
    });
  }
  Events ev;
  for (int i = 0; i < 500; ++i) {
    const std::string s = "S" + std::to_string(i % 80);
    kpi.Observe(std::vector<Event>{ev.Status(s, ShipmentStatus::kPickedUp, kT0),
                                   ev.Status(s, ShipmentStatus::kDelivered, kT0 + kSecond)});
  }
  done = true;
  for (auto& th : publishers) th.join();
  CHECK(kpi.tracked_shipments() == 50);
  CHECK(ValueOf(r, "waybill_kpi_portal_freshness_seconds_bucket{le=\"1\"}") ==
        ValueOf(r, "waybill_kpi_portal_freshness_seconds_count"));
}

TEST_CASE("ledger collector: writer figures and head at scrape time") {
  waybill::testing::TempDir dir;
  auto opened = ledger::Ledger::Open(dir.path());
  REQUIRE(opened.ok());
  ledger::Ledger& ledger = **opened;
  Registry r;
  RegisterLedgerCollector(r, ledger);
  CHECK(ValueOf(r, "waybill_ledger_head_seq") == 0);
  CHECK(ValueOf(r, "waybill_ledger_commit_seconds_count") == 0);

  ledger::AppendBatch batch;
  batch.events.push_back(ledger::PrepareEvent(waybill::testing::MakeMilestone("a", "S1", kT0)));
  batch.events.push_back(ledger::PrepareEvent(waybill::testing::MakeMilestone("b", "S1", kT0)));
  batch.events.push_back(ledger::PrepareEvent(waybill::testing::MakeMilestone("a", "S1", kT0)));
  REQUIRE(ledger.Append(std::move(batch)).ok());

  const std::string text = r.Render();
  CHECK(text.find("# TYPE waybill_ledger_commit_seconds histogram\n") != std::string::npos);
  CHECK(text.find("# TYPE waybill_ledger_events_total counter\n") != std::string::npos);
  CHECK(ValueOf(r, "waybill_ledger_events_total") == 2);
  CHECK(ValueOf(r, "waybill_ledger_duplicates_total") == 1);
  CHECK(ValueOf(r, "waybill_ledger_dead_letters_total") == 0);
  CHECK(ValueOf(r, "waybill_ledger_commits_total") == 1);
  CHECK(ValueOf(r, "waybill_ledger_head_seq") == 2);
  CHECK(ValueOf(r, "waybill_ledger_commit_seconds_count") == 1);
  CHECK(ValueOf(r, "waybill_ledger_commit_seconds_bucket{le=\"+Inf\"}") == 1);
  CHECK(ValueOf(r, "waybill_ledger_commit_events_bucket{le=\"1\"}") == 0);
  CHECK(ValueOf(r, "waybill_ledger_commit_events_bucket{le=\"2\"}") == 1);
  CHECK(ValueOf(r, "waybill_ledger_commit_events_sum") == 2);
  CHECK(ValueOf(r, "waybill_ledger_commit_events_count") == 1);
  // The two events sit in memtables until a flush; nothing is flushed yet.
  CHECK(ValueOf(r, "waybill_ledger_memtable_bytes") > 0);
  CHECK(ValueOf(r, "waybill_ledger_table_reader_bytes") >= 0);
  CHECK(ValueOf(r, "waybill_ledger_block_cache_bytes") >= 0);
}

}  // namespace waybill::server::metrics
