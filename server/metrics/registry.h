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
#include <cstdint>
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
  void Add(double v = 1);  // v >= 0; a negative or NaN v is ignored (counters only grow)
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
  // `upper_bounds`: finite and strictly ascending (a trailing +Inf is dropped, +Inf is
  // implicit); otherwise throws std::invalid_argument.
  explicit Histogram(std::vector<double> upper_bounds);
  // Counts `v` in the first bucket whose bound is >= v (Prometheus "le"). NaN is ignored.
  void Observe(double v);
  // Snapshot for rendering and tests: cumulative counts per bound (+Inf last), sum, count.
  // count always equals cumulative.back(); taken while others observe, sum may be a few
  // observations ahead of or behind the counts.
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

// Sink for collectors: one sample per call, rendered under its family. Samples with an
// invalid name or label name, a type other than the family's, or labels already given for
// that family are dropped, so one faulty collector cannot make the whole scrape unparsable.
class Exposition {
 public:
  virtual ~Exposition() = default;
  // type: "gauge" or "counter".
  virtual void Sample(std::string_view name, std::string_view help, std::string_view type,
                      const Labels& labels, double value) = 0;
  // One histogram series (family type "histogram"), as Histogram::snapshot() gives it:
  // rendered as name_bucket{...,le=...}, name_sum and name_count. `labels` must not use "le".
  // The default forwards to Sample() under those three names, for sinks that only list
  // samples; the registry's own sink renders a proper histogram family.
  virtual void HistogramSample(std::string_view name, std::string_view help, const Labels& labels,
                               const Histogram::Snapshot& snapshot);
};

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Names follow Prometheus rules ([a-zA-Z_:][a-zA-Z0-9_:]*), prefixed "waybill_" by the
  // caller; label names [a-zA-Z_][a-zA-Z0-9_]* not starting with "__" (and not "le" for a
  // histogram). The same name must always be used with the same type and help, and a
  // histogram series with the same bounds. The same labels in the same order are the same
  // series: the existing one is returned. Breaking these rules is a programming error and
  // throws std::invalid_argument (at start-up, where series are looked up).
  Counter& GetCounter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& GetGauge(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram& GetHistogram(std::string_view name, std::string_view help,
                          const std::vector<double>& upper_bounds, const Labels& labels = {});

  // `collector` runs on the thread calling Render, once per render, outside the registry's
  // lock (it may look up series); two concurrent renders run it concurrently. Whatever it
  // reads must outlive the registry or its last Render.
  void AddCollector(std::function<void(Exposition&)> collector);

  // The whole exposition: "# HELP", "# TYPE", then samples, families sorted by name;
  // label values escaped (\\, \", \n). Series of a family are sorted by their labels (name,
  // then value, pair by pair), so the output does not depend on registration order;
  // collectors' samples join the family of their name. Values: integral values print as
  // integers ("3"), others in the shortest form that reads back exactly ("0.1", "1e+300"),
  // and "NaN", "+Inf", "-Inf". Empty when nothing is registered.
  std::string Render() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace waybill::server::metrics
