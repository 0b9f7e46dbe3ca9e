#include "server/metrics/kpi_tracker.h"

#include <algorithm>
#include <climits>
#include <optional>

namespace waybill::server::metrics {
namespace {

constexpr UnixNanos kNone = INT64_MIN;
// Invoices or postings of one shipment waiting for their counterpart; beyond this the
// oldest is forgotten (a shipment with dozens of unposted invoices is an outlier).
constexpr std::size_t kMaxPendingCharges = 16;
// Documents already matched, so a corrected or re-sent version does not match again.
constexpr std::size_t kMaxSettledDocuments = 8;
constexpr std::string_view kProofOfDelivery = "proof_of_delivery";

// Portal freshness is seconds to minutes, far below DurationBuckets' range.
std::vector<double> FreshnessBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600};
}

// Seconds from `from` to `to`, 0 when `to` is earlier (clock skew between sources).
double Seconds(UnixNanos from, UnixNanos to) {
  if (to <= from) return 0;
  UnixNanos diff = 0;
  if (__builtin_sub_overflow(to, from, &diff)) {
    return (static_cast<double>(to) - static_cast<double>(from)) / 1e9;
  }
  return static_cast<double>(diff) / 1e9;
}

UnixNanos Earliest(UnixNanos a, UnixNanos b) {
  if (a == kNone) return b;
  if (b == kNone) return a;
  return std::min(a, b);
}

bool IsProofOfDelivery(const Event& e) {
  return e.kind == EventKind::kDocument && e.document && e.document->type == kProofOfDelivery;
}

bool IsCharges(const Event& e, ChargeBasis basis) {
  return e.kind == EventKind::kCharges && e.charges && e.charges->basis == basis;
}

}  // namespace

struct KpiTracker::Shipment {
  struct Charge {
    std::optional<std::string> document;
    UnixNanos at = kNone;  // occurred_at
  };
  struct Charges {
    std::vector<Charge> invoices;  // pending, in arrival order
    std::vector<Charge> postings;  // pending, in arrival order
    std::vector<std::string> settled;
  };

  std::uint64_t first_seen_seq = 0;   // events below it were not folded here
  UnixNanos released_at = kNone;      // earliest ORDER_RELEASED occurred_at
  UnixNanos accepted_at = kNone;      // earliest TENDER_ACCEPTED occurred_at
  UnixNanos delivered_at = kNone;     // earliest DELIVERED occurred_at
  UnixNanos pod_recorded_at = kNone;  // earliest proof-of-delivery recorded_at
  bool saw_pickup = false;            // AT_PICKUP or PICKED_UP
  bool saw_in_transit = false;        // IN_TRANSIT
  bool conversion_done = false;       // the KPI is recorded (or was, before a restart)
  bool delivered_done = false;
  bool pod_done = false;
  bool seeded = false;               // load_history was tried
  std::unique_ptr<Charges> charges;  // only for shipments with invoices or postings

  bool Settled(const std::optional<std::string>& doc) const {
    return doc && charges &&
           std::find(charges->settled.begin(), charges->settled.end(), *doc) !=
               charges->settled.end();
  }

  void AddCharge(const Event& e) {
    const bool invoice = e.charges->basis == ChargeBasis::kInvoiced;
    const std::optional<std::string>& doc = e.charges->document;
    if (Settled(doc)) return;
    if (!charges) charges = std::make_unique<Charges>();
    auto& list = invoice ? charges->invoices : charges->postings;
    if (doc) {
      // A corrected version of a pending document: its first time counts.
      for (Charge& c : list) {
        if (c.document == doc) {
          c.at = Earliest(c.at, e.occurred_at);
          return;
        }
      }
    }
    list.push_back(Charge{doc, e.occurred_at});
    if (list.size() > kMaxPendingCharges) list.erase(list.begin());
  }

  void Settle(const std::optional<std::string>& doc) {
    if (!doc) return;
    charges->settled.push_back(*doc);
    if (charges->settled.size() > kMaxSettledDocuments) {
      charges->settled.erase(charges->settled.begin());
    }
  }

  // Facts only: which milestones, documents and charges the shipment has. No decision.
  void Fold(const Event& e) {
    if (e.status) {
      switch (*e.status) {
        case ShipmentStatus::kOrderReleased:
          released_at = Earliest(released_at, e.occurred_at);
          break;
        case ShipmentStatus::kTenderAccepted:
          accepted_at = Earliest(accepted_at, e.occurred_at);
          break;
        case ShipmentStatus::kAtPickup:
        case ShipmentStatus::kPickedUp:
          saw_pickup = true;
          break;
        case ShipmentStatus::kInTransit:
          saw_in_transit = true;
          break;
        case ShipmentStatus::kDelivered:
          delivered_at = Earliest(delivered_at, e.occurred_at);
          break;
        default:
          break;
      }
    }
    if (IsProofOfDelivery(e)) pod_recorded_at = Earliest(pod_recorded_at, e.ledger.recorded_at);
    if (IsCharges(e, ChargeBasis::kInvoiced) || IsCharges(e, ChargeBasis::kPosted)) AddCharge(e);
  }

  // Takes in what `earlier` (folded from the events before first_seen_seq) knew.
  void Merge(Shipment& earlier) {
    released_at = Earliest(released_at, earlier.released_at);
    accepted_at = Earliest(accepted_at, earlier.accepted_at);
    delivered_at = Earliest(delivered_at, earlier.delivered_at);
    pod_recorded_at = Earliest(pod_recorded_at, earlier.pod_recorded_at);
    saw_pickup |= earlier.saw_pickup;
    saw_in_transit |= earlier.saw_in_transit;
    conversion_done |= earlier.conversion_done;
    delivered_done |= earlier.delivered_done;
    pod_done |= earlier.pod_done;
    if (!earlier.charges) return;
    if (!charges) {
      charges = std::move(earlier.charges);
      return;
    }
    // Earlier pending charges go first, so matching stays oldest-first.
    auto prepend = [](std::vector<Charge>& to, std::vector<Charge>& from) {
      to.insert(to.begin(), std::make_move_iterator(from.begin()),
                std::make_move_iterator(from.end()));
      if (to.size() > kMaxPendingCharges) to.erase(to.begin(), to.end() - kMaxPendingCharges);
    };
    prepend(charges->invoices, earlier.charges->invoices);
    prepend(charges->postings, earlier.charges->postings);
    for (std::string& d : earlier.charges->settled) Settle(std::move(d));
  }
};

KpiTracker::KpiTracker(Registry& registry, KpiTrackerOptions options)
    : options_(std::move(options)),
      conversion_(registry.GetHistogram(
          "waybill_kpi_order_conversion_seconds",
          "Order-to-shipment conversion: ORDER_RELEASED to TENDER_ACCEPTED, by event time.",
          DurationBuckets())),
      delivered_(registry.GetCounter("waybill_kpi_delivered_total",
                                     "Shipments seen DELIVERED (once per shipment).")),
      missing_pickup_(registry.GetCounter(
          "waybill_kpi_delivered_missing_milestone_total",
          "Delivered shipments without the milestone when their delivery was folded.",
          {{"milestone", "pickup"}})),
      missing_in_transit_(registry.GetCounter(
          "waybill_kpi_delivered_missing_milestone_total",
          "Delivered shipments without the milestone when their delivery was folded.",
          {{"milestone", "in_transit"}})),
      pod_lag_(registry.GetHistogram(
          "waybill_kpi_pod_lag_seconds",
          "Proof-of-delivery lag: DELIVERED event time to the POD document recorded.",
          DurationBuckets())),
      freshness_(registry.GetHistogram(
          "waybill_kpi_portal_freshness_seconds",
          "Portal freshness lag: event recorded in the ledger to its view update published.",
          FreshnessBuckets())),
      posting_(registry.GetHistogram(
          "waybill_kpi_freight_posting_seconds",
          "Freight-cost posting latency: invoiced charges to posted charges, by event time.",
          DurationBuckets())),
      tracked_(registry.GetGauge("waybill_kpi_tracked_shipments",
                                 "Shipments whose KPI state the tracker holds in memory.")),
      history_ok_(registry.GetCounter("waybill_kpi_history_loads_total",
                                      "Shipment histories read from the ledger to seed KPIs.",
                                      {{"result", "ok"}})),
      history_error_(registry.GetCounter("waybill_kpi_history_loads_total",
                                         "Shipment histories read from the ledger to seed KPIs.",
                                         {{"result", "error"}})) {}

KpiTracker::~KpiTracker() = default;

KpiTracker::Shipment& KpiTracker::Touch(const Event& e) {
  if (auto it = index_.find(e.shipment_id); it != index_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return *it->second->second;
  }
  auto s = std::make_unique<Shipment>();
  s->first_seen_seq = e.ledger.seq;
  lru_.emplace_front(e.shipment_id, std::move(s));
  index_.emplace(lru_.front().first, lru_.begin());
  while (lru_.size() > std::max<std::size_t>(options_.max_shipments, 1)) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
    evicted_ = true;
  }
  return *lru_.front().second;
}

// Only where a decision is about to be made without what it depends on: the usual
// shipment, seen from its start, never pays for a read.
bool KpiTracker::NeedsHistory(const Shipment& s, const Event& e) const {
  if (!options_.load_history || s.seeded || s.first_seen_seq <= 1) return false;
  // A partner feed that never reports pickups made every delivery read its shipment's
  // history, stalling the projection worker that calls Observe.
  if (first_observed_seq_ == 1 && !evicted_) return false;
  if (e.status == ShipmentStatus::kDelivered && !s.delivered_done &&
      (!s.saw_pickup || !s.saw_in_transit)) {
    return true;
  }
  if (e.status == ShipmentStatus::kTenderAccepted && !s.conversion_done && s.released_at == kNone) {
    return true;
  }
  if (IsProofOfDelivery(e) && !s.pod_done && s.delivered_at == kNone) return true;
  return IsCharges(e, ChargeBasis::kPosted) && (!s.charges || s.charges->invoices.empty());
}

void KpiTracker::Seed(const std::string& shipment_id, Shipment& s) {
  s.seeded = true;
  auto history = options_.load_history(shipment_id);
  if (!history.ok()) {
    history_error_.Add();
    return;
  }
  history_ok_.Add();
  Shipment earlier;
  for (const Event& e : *history) {
    if (e.ledger.seq >= s.first_seen_seq) break;  // folded here already
    earlier.Fold(e);
  }
  // What the earlier events complete on their own was decided before (by the process that
  // saw them): mark it done without counting it again.
  Evaluate(earlier, /*emit=*/false);
  s.Merge(earlier);
}

void KpiTracker::Evaluate(Shipment& s, bool emit) {
  if (!s.conversion_done && s.released_at != kNone && s.accepted_at != kNone) {
    s.conversion_done = true;
    if (emit) conversion_.Observe(Seconds(s.released_at, s.accepted_at));
  }
  if (!s.delivered_done && s.delivered_at != kNone) {
    s.delivered_done = true;
    if (emit) {
      delivered_.Add();
      if (!s.saw_pickup) missing_pickup_.Add();
      if (!s.saw_in_transit) missing_in_transit_.Add();
    }
  }
  if (!s.pod_done && s.delivered_at != kNone && s.pod_recorded_at != kNone) {
    s.pod_done = true;
    if (emit) pod_lag_.Observe(Seconds(s.delivered_at, s.pod_recorded_at));
  }
  if (!s.charges) return;
  // Each posting settles the invoice with its document number, else the oldest one.
  auto& invoices = s.charges->invoices;
  auto& postings = s.charges->postings;
  for (auto p = postings.begin(); p != postings.end() && !invoices.empty();) {
    auto match = invoices.end();
    if (p->document) {
      match = std::find_if(invoices.begin(), invoices.end(),
                           [&](const Shipment::Charge& c) { return c.document == p->document; });
    }
    if (match == invoices.end()) {
      match = std::min_element(
          invoices.begin(), invoices.end(),
          [](const Shipment::Charge& a, const Shipment::Charge& b) { return a.at < b.at; });
    }
    if (emit) posting_.Observe(Seconds(match->at, p->at));
    s.Settle(match->document);
    s.Settle(p->document);
    invoices.erase(match);
    p = postings.erase(p);
  }
}

void KpiTracker::Observe(std::span<const Event> events) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const Event& e : events) {
    if (first_observed_seq_ == 0) first_observed_seq_ = e.ledger.seq;
    Shipment& s = Touch(e);
    if (NeedsHistory(s, e)) Seed(e.shipment_id, s);
    s.Fold(e);
    Evaluate(s, /*emit=*/true);
  }
  tracked_.Set(static_cast<double>(lru_.size()));
}

void KpiTracker::ObservePublished(std::span<const projections::PublishedMessage> messages,
                                  UnixNanos published_at) {
  for (const auto& m : messages) {
    if (m.recorded_at) freshness_.Observe(Seconds(*m.recorded_at, published_at));
  }
}

std::size_t KpiTracker::tracked_shipments() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lru_.size();
}

}  // namespace waybill::server::metrics
