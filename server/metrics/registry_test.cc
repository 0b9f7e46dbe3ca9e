// The registry against the exact Prometheus text exposition 0.0.4.
#include "server/metrics/registry.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>

namespace waybill::server::metrics {

TEST_CASE("registry: empty renders nothing") {
  Registry r;
  CHECK(r.Render().empty());
}

TEST_CASE("registry: counters and gauges, families sorted by name, series by labels") {
  Registry r;
  // Registered out of order on purpose: the output must not depend on it.
  r.GetGauge("waybill_b_gauge", "A gauge.").Set(-2.5);
  r.GetCounter("waybill_a_total", "Requests.", {{"route", "/v1/z"}, {"status", "200"}}).Add(3);
  r.GetCounter("waybill_a_total", "Requests.", {{"route", "/v1/a"}, {"status", "500"}}).Add();
  r.GetCounter("waybill_a_total", "Requests.", {{"route", "/v1/a"}, {"status", "200"}}).Add(0.5);
  CHECK(r.Render() ==
        "# HELP waybill_a_total Requests.\n"
        "# TYPE waybill_a_total counter\n"
        "waybill_a_total{route=\"/v1/a\",status=\"200\"} 0.5\n"
        "waybill_a_total{route=\"/v1/a\",status=\"500\"} 1\n"
        "waybill_a_total{route=\"/v1/z\",status=\"200\"} 3\n"
        "# HELP waybill_b_gauge A gauge.\n"
        "# TYPE waybill_b_gauge gauge\n"
        "waybill_b_gauge -2.5\n");
}

TEST_CASE("registry: the same name and labels are the same series") {
  Registry r;
  Counter& a = r.GetCounter("waybill_x_total", "X.", {{"k", "v"}});
  Counter& b = r.GetCounter("waybill_x_total", "X.", {{"k", "v"}});
  CHECK(&a == &b);
  a.Add(2);
  b.Add(3);
  CHECK(a.value() == 5);
  a.Add(-1);  // ignored: counters only grow
  a.Add(std::nan(""));
  CHECK(a.value() == 5);
  Gauge& g = r.GetGauge("waybill_g", "G.");
  g.Set(10);
  g.Add(-4);
  CHECK(g.value() == 6);
}

TEST_CASE("registry: help and label values are escaped") {
  Registry r;
  r.GetGauge("waybill_esc", "Help with \\ backslash\nand a \"quote\".",
             {{"path", "C:\\dir"}, {"q", "say \"hi\"\nbye"}})
      .Set(1);
  CHECK(r.Render() ==
        "# HELP waybill_esc Help with \\\\ backslash\\nand a \"quote\".\n"
        "# TYPE waybill_esc gauge\n"
        "waybill_esc{path=\"C:\\\\dir\",q=\"say \\\"hi\\\"\\nbye\"} 1\n");
}

TEST_CASE("registry: histogram buckets are cumulative with +Inf, then _sum and _count") {
  Registry r;
  Histogram& h =
      r.GetHistogram("waybill_lat_seconds", "Latency.", {0.005, 0.1, 1}, {{"route", "/x"}});
  h.Observe(0.001);
  h.Observe(0.005);  // on the bound: le is inclusive
  h.Observe(0.05);
  h.Observe(2);
  h.Observe(std::nan(""));  // ignored
  CHECK(r.Render() ==
        "# HELP waybill_lat_seconds Latency.\n"
        "# TYPE waybill_lat_seconds histogram\n"
        "waybill_lat_seconds_bucket{route=\"/x\",le=\"0.005\"} 2\n"
        "waybill_lat_seconds_bucket{route=\"/x\",le=\"0.1\"} 3\n"
        "waybill_lat_seconds_bucket{route=\"/x\",le=\"1\"} 3\n"
        "waybill_lat_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n"
        "waybill_lat_seconds_sum{route=\"/x\"} 2.056\n"
        "waybill_lat_seconds_count{route=\"/x\"} 4\n");
  const auto s = h.snapshot();
  CHECK(s.cumulative == std::vector<std::uint64_t>{2, 3, 3, 4});
  CHECK(s.count == 4);
}

TEST_CASE("registry: values print as integers or in their shortest exact form") {
  Registry r;
  r.GetGauge("waybill_v", "V.", {{"c", "a"}}).Set(3);
  r.GetGauge("waybill_v", "V.", {{"c", "b"}}).Set(0.1);
  r.GetGauge("waybill_v", "V.", {{"c", "c"}}).Set(1e300);
  r.GetGauge("waybill_v", "V.", {{"c", "d"}}).Set(std::numeric_limits<double>::infinity());
  r.GetGauge("waybill_v", "V.", {{"c", "e"}}).Set(-std::numeric_limits<double>::infinity());
  r.GetGauge("waybill_v", "V.", {{"c", "f"}}).Set(std::nan(""));
  r.GetGauge("waybill_v", "V.", {{"c", "g"}}).Set(123456789012);
  r.GetGauge("waybill_v", "V.", {{"c", "h"}}).Set(1.0 / 3);
  r.GetGauge("waybill_v", "V.", {{"c", "i"}}).Set(-0.0);
  CHECK(r.Render() ==
        "# HELP waybill_v V.\n"
        "# TYPE waybill_v gauge\n"
        "waybill_v{c=\"a\"} 3\n"
        "waybill_v{c=\"b\"} 0.1\n"
        "waybill_v{c=\"c\"} 1e+300\n"
        "waybill_v{c=\"d\"} +Inf\n"
        "waybill_v{c=\"e\"} -Inf\n"
        "waybill_v{c=\"f\"} NaN\n"
        "waybill_v{c=\"g\"} 123456789012\n"
        "waybill_v{c=\"h\"} 0.3333333333333333\n"
        "waybill_v{c=\"i\"} 0\n");
  CHECK(std::stod("0.3333333333333333") == 1.0 / 3);
}

TEST_CASE("registry: broken rules are refused") {
  Registry r;
  r.GetCounter("waybill_c_total", "C.");
  CHECK_THROWS_AS(r.GetGauge("waybill_c_total", "C."), std::invalid_argument);
  CHECK_THROWS_AS(r.GetCounter("waybill_c_total", "Other help."), std::invalid_argument);
  CHECK_THROWS_AS(r.GetCounter("0bad", "x"), std::invalid_argument);
  CHECK_THROWS_AS(r.GetCounter("waybill-dash", "x"), std::invalid_argument);
  CHECK_THROWS_AS(r.GetCounter("waybill_l_total", "x", {{"__reserved", "v"}}),
                  std::invalid_argument);
  CHECK_THROWS_AS(r.GetCounter("waybill_l_total", "x", {{"a", "1"}, {"a", "2"}}),
                  std::invalid_argument);
  CHECK_THROWS_AS(r.GetHistogram("waybill_h", "x", {1, 2}, {{"le", "1"}}), std::invalid_argument);
  CHECK_THROWS_AS(r.GetHistogram("waybill_h", "x", {2, 1}), std::invalid_argument);
  r.GetHistogram("waybill_h2", "x", {1, 2});
  CHECK_THROWS_AS(r.GetHistogram("waybill_h2", "x", {1, 3}), std::invalid_argument);
  CHECK_NOTHROW(r.GetHistogram("waybill_h2", "x", {1, 2, INFINITY}));  // +Inf is implicit
}

TEST_CASE("registry: collectors join their family; bad samples are dropped") {
  Registry r;
  r.GetCounter("waybill_ingest_total", "Ingested.", {{"result", "rejected"}}).Add(2);
  int runs = 0;
  r.AddCollector([&runs, &r](Exposition& out) {
    ++runs;
    out.Sample("waybill_ingest_total", "Ingested.", "counter", {{"result", "accepted"}}, 7);
    out.Sample("waybill_ingest_total", "Ingested.", "gauge", {{"result", "x"}}, 1);  // type
    out.Sample("waybill_ingest_total", "Ingested.", "counter", {{"result", "rejected"}}, 99);
    out.Sample("bad name", "x", "gauge", {}, 1);
    out.Sample("waybill_head_seq", "Head.", "gauge", {}, 42);
    out.Sample("waybill_odd", "Odd.", "summary", {}, 1);
    Histogram::Snapshot s;
    s.upper_bounds = {1, 8};
    s.cumulative = {1, 3, 4};
    s.sum = 20;
    s.count = 4;
    out.HistogramSample("waybill_group_events", "Group size.", {}, s);
    // A collector may look series up: it runs outside the registry's lock.
    r.GetGauge("waybill_from_collector", "Made inside a collector.").Set(1);
  });
  const std::string text = r.Render();
  CHECK(runs == 1);
  CHECK(text ==
        "# HELP waybill_from_collector Made inside a collector.\n"
        "# TYPE waybill_from_collector gauge\n"
        "waybill_from_collector 1\n"
        "# HELP waybill_group_events Group size.\n"
        "# TYPE waybill_group_events histogram\n"
        "waybill_group_events_bucket{le=\"1\"} 1\n"
        "waybill_group_events_bucket{le=\"8\"} 3\n"
        "waybill_group_events_bucket{le=\"+Inf\"} 4\n"
        "waybill_group_events_sum 20\n"
        "waybill_group_events_count 4\n"
        "# HELP waybill_head_seq Head.\n"
        "# TYPE waybill_head_seq gauge\n"
        "waybill_head_seq 42\n"
        "# HELP waybill_ingest_total Ingested.\n"
        "# TYPE waybill_ingest_total counter\n"
        "waybill_ingest_total{result=\"accepted\"} 7\n"
        "waybill_ingest_total{result=\"rejected\"} 2\n");
  CHECK(r.Render() == text);  // stable
  CHECK(runs == 2);
}

TEST_CASE("exposition: the default histogram sample forwards to Sample") {
  struct Listing : Exposition {
    void Sample(std::string_view name, std::string_view, std::string_view type,
                const Labels& labels, double value) override {
      std::string line(name);
      for (const auto& [k, v] : labels) line += " " + k + "=" + v;
      line += " " + std::string(type) + " " + std::to_string(static_cast<int>(value));
      lines.push_back(line);
    }
    std::vector<std::string> lines;
  } listing;
  Histogram h({1});
  h.Observe(0.5);
  h.Observe(3);
  listing.HistogramSample("h", "H.", {{"a", "b"}}, h.snapshot());
  CHECK(listing.lines == std::vector<std::string>{
                             "h_bucket a=b le=1 histogram 1", "h_bucket a=b le=+Inf histogram 2",
                             "h_sum a=b histogram 3", "h_count a=b histogram 2"});
}

TEST_CASE("registry: concurrent lookups, updates and renders lose nothing") {
  Registry r;
  constexpr int kThreads = 8, kPerThread = 20000;
  std::vector<std::thread> threads;
  std::atomic<bool> done{false};
  std::thread renderer([&] {
    while (!done) {
      const std::string text = r.Render();
      CHECK((text.empty() || text.back() == '\n'));
    }
  });
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Looked up once per thread, as callers do; every thread shares the same series.
      Counter& shared = r.GetCounter("waybill_c_total", "C.");
      Counter& own = r.GetCounter("waybill_c_total", "C.", {{"t", std::to_string(t)}});
      Histogram& h = r.GetHistogram("waybill_h_seconds", "H.", LatencyBuckets());
      Gauge& g = r.GetGauge("waybill_g", "G.");
      for (int i = 0; i < kPerThread; ++i) {
        shared.Add();
        own.Add(0.5);
        h.Observe(0.001 * (i % 7));
        g.Add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  done = true;
  renderer.join();
  CHECK(r.GetCounter("waybill_c_total", "C.").value() == kThreads * kPerThread);
  CHECK(r.GetCounter("waybill_c_total", "C.", {{"t", "3"}}).value() == kPerThread / 2);
  CHECK(r.GetGauge("waybill_g", "G.").value() == kThreads * kPerThread);
  const auto s = r.GetHistogram("waybill_h_seconds", "H.", LatencyBuckets()).snapshot();
  CHECK(s.count == static_cast<std::uint64_t>(kThreads * kPerThread));
  CHECK(s.cumulative.back() == s.count);
  const std::string text = r.Render();
  CHECK(text.find("waybill_c_total 160000\n") != std::string::npos);
  CHECK(text.find("waybill_h_seconds_count 160000\n") != std::string::npos);
}

}  // namespace waybill::server::metrics
