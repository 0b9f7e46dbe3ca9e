// Prometheus metrics: counters, gauges and histograms with labels, rendered in the text
// exposition format 0.0.4 for GET /metrics.
//
// Usage: look a series up once (Registry::GetCounter etc. take a lock) and keep the
// reference; updating it is lock-free (atomics). Series are never removed, so references
// stay valid for the registry's lifetime. Collectors are callbacks run at scrape time for
// values that are cheaper to read than to track (projection lag, outbox backlog).
//
// Thread-safety: everything is safe from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace waybill::server::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;  // in the order given

class Counter {
 public:
  void Add(double v = 1);  // v >= 0
  double value() const;

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void Set(double v);
  void Add(double v);
  double value() const;

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);  // ascending; +Inf is implicit
  void Observe(double v);
  // Snapshot for rendering and tests: cumulative counts per bound (+Inf last), sum, count.
  struct Snapshot {
    std::vector<double> upper_bounds;
    std::vector<std::uint64_t> cumulative;  // size upper_bounds.size() + 1
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // non-cumulative, +Inf last
  std::atomic<double> sum_{0};
  std::atomic<std::uint64_t> count_{0};
};

// Bucket presets (seconds).
std::vector<double> LatencyBuckets();   // 0.0001 .. 10 s
std::vector<double> DurationBuckets();  // 1 s .. 30 days, for business KPIs

// Sink for collectors: one sample per call, rendered under its family.
class Exposition {
 public:
  virtual ~Exposition() = default;
  // type: "gauge" or "counter".
  virtual void Sample(std::string_view name, std::string_view help, std::string_view type,
                      const Labels& labels, double value) = 0;
};

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Names follow Prometheus rules ([a-zA-Z_:][a-zA-Z0-9_:]*), prefixed "waybill_" by the
  // caller. The same name must always be used with the same type and help.
  Counter& GetCounter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& GetGauge(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram& GetHistogram(std::string_view name, std::string_view help,
                          const std::vector<double>& upper_bounds, const Labels& labels = {});

  void AddCollector(std::function<void(Exposition&)> collector);

  // The whole exposition: "# HELP", "# TYPE", then samples, families sorted by name;
  // label values escaped (\\, \", \n).
  std::string Render() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace waybill::server::metrics
