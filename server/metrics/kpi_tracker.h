// Business KPIs integration teams watch, as Prometheus metrics (docs/operations.md).
//
// Fed with every committed event batch (the projection worker's on_commit) and with every
// batch of view updates the publisher got acknowledged (PublisherOptions::on_published):
//
//   waybill_kpi_order_conversion_seconds        histogram  ORDER_RELEASED -> TENDER_ACCEPTED
//   waybill_kpi_delivered_total                 counter    shipments seen DELIVERED
//   waybill_kpi_delivered_missing_milestone_total{milestone="pickup"|"in_transit"}
//                                               counter    ... without that milestone
//   waybill_kpi_pod_lag_seconds                 histogram  DELIVERED -> proof of delivery
//   waybill_kpi_portal_freshness_seconds        histogram  event recorded -> view published
//   waybill_kpi_freight_posting_seconds         histogram  charges invoiced -> posted
//   waybill_kpi_tracked_shipments               gauge      shipments held in memory
//   waybill_kpi_history_loads_total{result="ok"|"error"}
//                                               counter    shipment histories read to seed
//
// Each per-shipment KPI is recorded once per shipment, at the event that completes it;
// negative spans (clock skew between source systems) count as 0. Per-shipment state is an
// LRU of at most max_shipments. The tracker sees only events committed while it runs:
// after a restart, or for a shipment evicted from the LRU, earlier events are unknown
// unless `load_history` is given, in which case the tracker reads the shipment's earlier
// events from the ledger when a KPI would otherwise be decided without them (once per
// shipment, and only when something looks missing: the usual shipment costs no read; and
// never while the tracker has seen the whole ledger from sequence 1 and evicted nothing).
//
// Thread-safety: all methods may be called from any thread. Observe serialises on one
// mutex (held while load_history runs); ObservePublished only touches a histogram.
#pragma once

#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "projections/publisher.h"
#include "schemas/event.h"
#include "schemas/result.h"
#include "server/metrics/registry.h"

namespace waybill::server::metrics {

struct KpiTrackerOptions {
  // Shipments whose state is kept (least recently touched are forgotten first); about
  // 200 bytes each.
  std::size_t max_shipments = 200000;
  // Optional: a shipment's events in ledger order, e.g. Ledger::ReadShipment. Used to seed
  // a shipment the tracker has not seen from its start (see above). Called from Observe.
  std::function<Result<std::vector<Event>>(std::string_view shipment_id)> load_history;
};

class KpiTracker {
 public:
  // Registers the metrics above in `registry`, which must outlive the tracker.
  explicit KpiTracker(Registry& registry, KpiTrackerOptions options = {});
  ~KpiTracker();
  KpiTracker(const KpiTracker&) = delete;
  KpiTracker& operator=(const KpiTracker&) = delete;

  // Folds committed ledger events (ledger.seq and recorded_at set), in ascending seq.
  void Observe(std::span<const Event> events);

  // Records portal freshness for the messages the publisher got acknowledged at
  // `published_at`: published_at - recorded_at, for each message that carries one.
  void ObservePublished(std::span<const projections::PublishedMessage> messages,
                        UnixNanos published_at);

  // Shipments currently held (for tests and the gauge).
  std::size_t tracked_shipments() const;

 private:
  struct Shipment;
  using Lru = std::list<std::pair<std::string, std::unique_ptr<Shipment>>>;

  Shipment& Touch(const Event& e);
  bool NeedsHistory(const Shipment& s, const Event& e) const;
  void Seed(const std::string& shipment_id, Shipment& s);
  // Records what is complete in `s`; counts it in the metrics only when `emit`.
  void Evaluate(Shipment& s, bool emit);

  const KpiTrackerOptions options_;

  // Metrics: constant after construction; updating them is lock-free.
  Histogram& conversion_;
  Counter& delivered_;
  Counter& missing_pickup_;
  Counter& missing_in_transit_;
  Histogram& pod_lag_;
  Histogram& freshness_;
  Histogram& posting_;
  Gauge& tracked_;
  Counter& history_ok_;
  Counter& history_error_;

  mutable std::mutex mu_;
  Lru lru_;  // guarded by mu_; most recently touched first
  std::unordered_map<std::string_view, Lru::iterator> index_;  // guarded by mu_; keys in lru_
  // Guarded by mu_. While the tracker has seen the ledger from sequence 1 and forgotten no
  // shipment, it knows every event there is: no history read can add anything.
  std::uint64_t first_observed_seq_ = 0;  // 0: nothing observed yet
  bool evicted_ = false;
};

}  // namespace waybill::server::metrics
