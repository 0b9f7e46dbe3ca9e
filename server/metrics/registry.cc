// Prometheus text exposition 0.0.4:
//
//   exposition := family*
//   family     := "# HELP " name " " escaped-help "\n"
//                 "# TYPE " name " " ("counter" | "gauge" | "histogram") "\n"
//                 sample+
//   sample     := name ["{" label ("," label)* "}"] " " value "\n"
//   label      := label-name "=\"" escaped-value "\""
//   histogram series: name_bucket{...,le="b"} per bound, le="+Inf", name_sum, name_count
//
// Help escapes \ and newline; label values also escape ". Families are sorted by name and
// series by labels, so two renders of the same state are byte-identical.
#include "server/metrics/registry.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>

namespace waybill::server::metrics {
namespace {

constexpr std::string_view kCounter = "counter";
constexpr std::string_view kGauge = "gauge";
constexpr std::string_view kHistogram = "histogram";

bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool ValidMetricName(std::string_view name) {
  if (name.empty() || !(IsNameStart(name[0]) || name[0] == ':')) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsNameStart(c) || IsDigit(c) || c == ':'; });
}

bool ValidLabelNames(const Labels& labels, bool histogram) {
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const std::string& n = labels[i].first;
    if (n.empty() || !IsNameStart(n[0]) || n.starts_with("__")) return false;
    if (!std::all_of(n.begin(), n.end(), [](char c) { return IsNameStart(c) || IsDigit(c); })) {
      return false;
    }
    if (histogram && n == "le") return false;
    for (std::size_t j = 0; j < i; ++j) {
      if (labels[j].first == n) return false;
    }
  }
  return true;
}

void AppendValue(double v, std::string* out) {
  if (std::isnan(v)) {
    out->append("NaN");
    return;
  }
  if (std::isinf(v)) {
    out->append(v > 0 ? "+Inf" : "-Inf");
    return;
  }
  char buf[32];
  std::to_chars_result r;
  // Below 2^53 every integral double is exact as an int64; above, the shortest round-trip
  // form ("1e+20") is both exact and shorter than the digits.
  if (v == std::trunc(v) && std::fabs(v) < 9007199254740992.0) {
    r = std::to_chars(buf, buf + sizeof(buf), static_cast<std::int64_t>(v));
  } else {
    r = std::to_chars(buf, buf + sizeof(buf), v);  // shortest form that reads back exactly
  }
  out->append(buf, r.ptr);
}

void AppendUint(std::uint64_t v, std::string* out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

void AppendEscaped(std::string_view text, bool quote, std::string* out) {
  for (char c : text) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else if (quote && c == '"') {
      out->append("\\\"");
    } else {
      out->push_back(c);
    }
  }
}

// `{a="x",b="y"}` (with `le` last when given); nothing at all for no labels.
void AppendLabels(const Labels& labels, const std::string* le, std::string* out) {
  if (labels.empty() && le == nullptr) return;
  out->push_back('{');
  bool first = true;
  auto one = [&](std::string_view name, std::string_view value) {
    if (!first) out->push_back(',');
    first = false;
    out->append(name);
    out->append("=\"");
    AppendEscaped(value, /*quote=*/true, out);
    out->push_back('"');
  };
  for (const auto& [name, value] : labels) one(name, value);
  if (le != nullptr) one("le", *le);
  out->push_back('}');
}

// One series to render: a value, or a histogram snapshot.
struct OutSeries {
  Labels labels;
  double value = 0;
  std::optional<Histogram::Snapshot> histogram;
};

struct OutFamily {
  std::string type;
  std::string help;
  std::vector<OutSeries> series;
};

using OutFamilies = std::map<std::string, OutFamily, std::less<>>;

// The registry's own sink: validates and groups collectors' samples by family.
class CollectingExposition final : public Exposition {
 public:
  explicit CollectingExposition(OutFamilies* out) : out_(out) {}

  void Sample(std::string_view name, std::string_view help, std::string_view type,
              const Labels& labels, double value) override {
    if (type != kCounter && type != kGauge) return;
    if (OutFamily* f = FamilyFor(name, help, type, labels)) {
      f->series.push_back(OutSeries{labels, value, std::nullopt});
    }
  }

  void HistogramSample(std::string_view name, std::string_view help, const Labels& labels,
                       const Histogram::Snapshot& snapshot) override {
    if (snapshot.cumulative.size() != snapshot.upper_bounds.size() + 1) return;
    if (OutFamily* f = FamilyFor(name, help, kHistogram, labels)) {
      f->series.push_back(OutSeries{labels, 0, snapshot});
    }
  }

 private:
  OutFamily* FamilyFor(std::string_view name, std::string_view help, std::string_view type,
                       const Labels& labels) {
    if (!ValidMetricName(name) || !ValidLabelNames(labels, type == kHistogram)) return nullptr;
    auto it = out_->find(name);
    if (it == out_->end()) {
      it = out_->emplace(std::string(name), OutFamily{std::string(type), std::string(help), {}})
               .first;
    }
    return it->second.type == type ? &it->second : nullptr;
  }

  OutFamilies* out_;
};

void RenderFamily(std::string_view name, OutFamily& family, std::string* out) {
  // Sorted by labels; the stable sort keeps the registry's own series (added first) ahead
  // of a collector's with the same labels, and those later twins are dropped.
  std::stable_sort(family.series.begin(), family.series.end(),
                   [](const OutSeries& a, const OutSeries& b) { return a.labels < b.labels; });
  out->append("# HELP ");
  out->append(name);
  out->push_back(' ');
  AppendEscaped(family.help, /*quote=*/false, out);
  out->append("\n# TYPE ");
  out->append(name);
  out->push_back(' ');
  out->append(family.type);
  out->push_back('\n');
  const Labels* previous = nullptr;
  std::string le;
  for (const OutSeries& s : family.series) {
    if (previous != nullptr && *previous == s.labels) continue;
    previous = &s.labels;
    if (!s.histogram) {
      out->append(name);
      AppendLabels(s.labels, nullptr, out);
      out->push_back(' ');
      AppendValue(s.value, out);
      out->push_back('\n');
      continue;
    }
    const Histogram::Snapshot& h = *s.histogram;
    for (std::size_t i = 0; i < h.cumulative.size(); ++i) {
      le.clear();
      if (i < h.upper_bounds.size()) {
        AppendValue(h.upper_bounds[i], &le);
      } else {
        le = "+Inf";
      }
      out->append(name);
      out->append("_bucket");
      AppendLabels(s.labels, &le, out);
      out->push_back(' ');
      AppendUint(h.cumulative[i], out);
      out->push_back('\n');
    }
    out->append(name);
    out->append("_sum");
    AppendLabels(s.labels, nullptr, out);
    out->push_back(' ');
    AppendValue(h.sum, out);
    out->push_back('\n');
    out->append(name);
    out->append("_count");
    AppendLabels(s.labels, nullptr, out);
    out->push_back(' ');
    AppendUint(h.count, out);
    out->push_back('\n');
  }
}

}  // namespace

// --- Counter, Gauge, Histogram ---

void Counter::Add(double v) {
  if (!(v >= 0)) return;  // also false for NaN
  value_.fetch_add(v, std::memory_order_relaxed);
}
double Counter::value() const { return value_.load(std::memory_order_relaxed); }

void Gauge::Set(double v) { value_.store(v, std::memory_order_relaxed); }
void Gauge::Add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
double Gauge::value() const { return value_.load(std::memory_order_relaxed); }

Histogram::Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)) {
  if (!bounds_.empty() && std::isinf(bounds_.back()) && bounds_.back() > 0) bounds_.pop_back();
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i]) || (i > 0 && !(bounds_[i - 1] < bounds_[i]))) {
      throw std::invalid_argument("histogram bounds must be finite and strictly ascending");
    }
  }
  buckets_ = std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1);
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double v) {
  if (std::isnan(v)) return;  // it would poison _sum for good
  const auto i = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) -
                                          bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.upper_bounds = bounds_;
  s.cumulative.resize(bounds_.size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  // From the buckets rather than count_: Prometheus requires _count == the +Inf bucket, and
  // the two atomics are not updated together.
  s.count = running;
  return s;
}

std::vector<double> LatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

std::vector<double> DurationBuckets() {
  // 1 s, 5 s, 15 s, 30 s, 1 min, 5 min, 15 min, 30 min, 1 h, 2 h, 4 h, 8 h, 12 h, 1 d, 2 d,
  // 3 d, 7 d, 14 d, 30 d.
  return {1,     5,     15,    30,    60,     300,    900,    1800,    3600,   7200,
          14400, 28800, 43200, 86400, 172800, 259200, 604800, 1209600, 2592000};
}

void Exposition::HistogramSample(std::string_view name, std::string_view help, const Labels& labels,
                                 const Histogram::Snapshot& snapshot) {
  const std::string base(name);
  for (std::size_t i = 0; i < snapshot.cumulative.size(); ++i) {
    Labels with_le = labels;
    std::string le;
    if (i < snapshot.upper_bounds.size()) {
      AppendValue(snapshot.upper_bounds[i], &le);
    } else {
      le = "+Inf";
    }
    with_le.emplace_back("le", std::move(le));
    Sample(base + "_bucket", help, kHistogram, with_le,
           static_cast<double>(snapshot.cumulative[i]));
  }
  Sample(base + "_sum", help, kHistogram, labels, snapshot.sum);
  Sample(base + "_count", help, kHistogram, labels, static_cast<double>(snapshot.count));
}

// --- Registry ---

struct Registry::State {
  struct Series {
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  struct Family {
    std::string_view type;  // one of the kCounter/kGauge/kHistogram constants
    std::string help;
    std::map<Labels, Series> series;  // node-based: references stay valid
  };

  // Finds or creates the series; throws std::invalid_argument on a broken rule.
  Series& Lookup(std::string_view name, std::string_view help, std::string_view type,
                 const Labels& labels) {
    if (!ValidMetricName(name)) {
      throw std::invalid_argument("invalid metric name \"" + std::string(name) + "\"");
    }
    if (!ValidLabelNames(labels, type == kHistogram)) {
      throw std::invalid_argument("invalid or repeated label name in metric " + std::string(name));
    }
    auto it = families.find(name);
    if (it == families.end()) {
      it = families.emplace(std::string(name), Family{type, std::string(help), {}}).first;
    } else if (it->second.type != type || it->second.help != help) {
      throw std::invalid_argument("metric " + std::string(name) + " was registered as " +
                                  std::string(it->second.type) + " with other help text");
    }
    return it->second.series[labels];
  }

  mutable std::mutex mu;
  std::map<std::string, Family, std::less<>> families;  // guarded by mu

  std::mutex collectors_mu;
  // guarded by collectors_mu; shared so Render can run them after letting go of the lock.
  std::vector<std::shared_ptr<const std::function<void(Exposition&)>>> collectors;
};

Registry::Registry() : state_(std::make_unique<State>()) {}
Registry::~Registry() = default;

Counter& Registry::GetCounter(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard<std::mutex> lock(state_->mu);
  auto& s = state_->Lookup(name, help, kCounter, labels);
  if (!s.counter) s.counter = std::make_unique<Counter>();
  return *s.counter;
}

Gauge& Registry::GetGauge(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard<std::mutex> lock(state_->mu);
  auto& s = state_->Lookup(name, help, kGauge, labels);
  if (!s.gauge) s.gauge = std::make_unique<Gauge>();
  return *s.gauge;
}

Histogram& Registry::GetHistogram(std::string_view name, std::string_view help,
                                  const std::vector<double>& upper_bounds, const Labels& labels) {
  auto fresh = std::make_unique<Histogram>(upper_bounds);  // validates the bounds
  std::lock_guard<std::mutex> lock(state_->mu);
  auto& s = state_->Lookup(name, help, kHistogram, labels);
  if (!s.histogram) {
    s.histogram = std::move(fresh);
  } else if (s.histogram->snapshot().upper_bounds != fresh->snapshot().upper_bounds) {
    throw std::invalid_argument("histogram " + std::string(name) +
                                " was registered with other bounds");
  }
  return *s.histogram;
}

void Registry::AddCollector(std::function<void(Exposition&)> collector) {
  auto shared = std::make_shared<const std::function<void(Exposition&)>>(std::move(collector));
  std::lock_guard<std::mutex> lock(state_->collectors_mu);
  state_->collectors.push_back(std::move(shared));
}

std::string Registry::Render() const {
  decltype(state_->collectors) collectors;
  {
    std::lock_guard<std::mutex> lock(state_->collectors_mu);
    collectors = state_->collectors;
  }
  OutFamilies collected;
  CollectingExposition sink(&collected);
  for (const auto& c : collectors) (*c)(sink);

  OutFamilies families;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    for (const auto& [name, f] : state_->families) {
      OutFamily& out = families[name];
      out.type = std::string(f.type);
      out.help = f.help;
      out.series.reserve(f.series.size());
      for (const auto& [labels, s] : f.series) {
        OutSeries o{labels, 0, std::nullopt};
        if (s.counter) o.value = s.counter->value();
        if (s.gauge) o.value = s.gauge->value();
        if (s.histogram) o.histogram = s.histogram->snapshot();
        out.series.push_back(std::move(o));
      }
    }
  }
  // Collectors join registered families of the same name and type; another type would make
  // the family unparsable, so such samples are dropped.
  for (auto& [name, f] : collected) {
    auto it = families.find(name);
    if (it == families.end()) {
      families.emplace(name, std::move(f));
    } else if (it->second.type == f.type) {
      for (auto& s : f.series) it->second.series.push_back(std::move(s));
    }
  }

  std::string out;
  for (auto& [name, f] : families) RenderFamily(name, f, &out);
  return out;
}

}  // namespace waybill::server::metrics
