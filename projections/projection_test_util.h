// Test helpers for the projection machinery: a generator of realistic random events and
// snapshots of the views family. Header-only, tests only.
#pragma once

#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "ledger/key_layout.h"
#include "ledger/ledger.h"
#include "projections/outbox.h"
#include "projections/outbox_resolver.h"
#include "projections/store_layout.h"
#include "schemas/event.h"
#include "schemas/event_validate.h"

namespace waybill::projections::testing {

// Events of `shipments` shipments: orders (ERP, customer and promise), milestones, carrier
// estimates and charges (quotes, invoices with corrections), in random order.
class EventGenerator {
 public:
  // `late_fraction` < 0: event times uniformly random over ten days (every arrival order,
  // the worst case for sorted folds). Otherwise each shipment's events move forward in
  // time, as carriers report them, and that fraction arrives late (up to a day earlier
  // than the shipment's previous event), as real feeds do.
  explicit EventGenerator(std::uint32_t seed, int shipments = 50, double late_fraction = -1)
      : rng_(seed), shipments_(shipments), late_fraction_(late_fraction) {
    if (late_fraction_ >= 0) clock_.assign(static_cast<std::size_t>(shipments), kBase);
  }

  Event Next() {
    Event e;
    const int s = Pick(shipments_);
    e.shipment_id = "SHP-" + std::to_string(s);
    e.event_id = "gen-" + std::to_string(counter_++) + "-" + std::to_string(rng_());
    if (late_fraction_ < 0) {
      e.occurred_at = kBase + static_cast<UnixNanos>(Pick(10 * 24 * 3600)) * 1'000'000'000;
    } else {
      UnixNanos& clock = clock_[static_cast<std::size_t>(s)];
      clock += static_cast<UnixNanos>(600 + Pick(6 * 3600)) * 1'000'000'000;
      e.occurred_at = clock;
      if (static_cast<double>(rng_() % 10000) < late_fraction_ * 10000) {
        e.occurred_at -= static_cast<UnixNanos>(1 + Pick(24 * 3600)) * 1'000'000'000;
      }
    }
    e.source.format = "canonical";
    switch (Pick(6)) {
      case 0: {  // ERP order
        e.kind = EventKind::kOrder;
        e.source.system = SourceSystem::kErp;
        e.order_id = "SO-" + std::to_string(s);
        e.customer_id = "CUST-" + std::to_string(s % 7);
        e.status = ShipmentStatus::kOrderReleased;
        OrderBody body;
        Promise p;
        p.date = "2025-03-1" + std::to_string(Pick(10));
        body.promised = p;
        e.order = body;
        e.occurred_offset_minutes = -300;
        break;
      }
      case 1: {  // estimate
        e.kind = EventKind::kEstimate;
        e.source.system = SourceSystem::kCarrier;
        e.carrier = "ACME";
        Estimate est;
        est.estimated_at = e.occurred_at + 3600'000'000'000LL * Pick(48);
        est.issued_at = e.occurred_at;
        est.of = EstimateOf::kDelivery;
        e.estimate = est;
        break;
      }
      case 2: {  // charges
        e.kind = EventKind::kCharges;
        e.source.system = Pick(2) == 0 ? SourceSystem::kTms : SourceSystem::kCarrier;
        Charges c;
        c.basis = static_cast<ChargeBasis>(1 + Pick(3));
        c.document = "DOC-" + std::to_string(s) + "-" + std::to_string(Pick(2));
        c.currency = "USD";
        ChargeLine line;
        line.code = Pick(2) == 0 ? "400" : "FUE";
        line.amount = 10000 + Pick(100000);
        line.currency = "USD";
        c.lines.push_back(line);
        c.total = line.amount;
        e.charges = c;
        break;
      }
      default: {  // milestone
        e.kind = EventKind::kMilestone;
        e.source.system = SourceSystem::kCarrier;
        e.carrier = "ACME";
        static constexpr ShipmentStatus kStatuses[] = {
            ShipmentStatus::kPickedUp, ShipmentStatus::kInTransit, ShipmentStatus::kDelayed,
            ShipmentStatus::kAtDelivery, ShipmentStatus::kDelivered};
        e.status = kStatuses[Pick(5)];
        e.source_code = "X6";
        if (*e.status == ShipmentStatus::kDelayed) e.reason_code = "AH";
        Reference r;
        r.type = "PRO";
        r.value = "PRO-" + std::to_string(s);
        e.references.push_back(r);
        break;
      }
    }
    return e;
  }

 private:
  static constexpr UnixNanos kBase = 1741000000LL * 1'000'000'000;  // 2025-03-03
  int Pick(int n) { return static_cast<int>(rng_() % static_cast<std::uint32_t>(n)); }
  std::mt19937 rng_;
  int shipments_;
  double late_fraction_;
  std::vector<UnixNanos> clock_;  // per shipment, when late_fraction_ >= 0
  std::uint64_t counter_ = 0;
};

// Every stored view, keyed by (view, shipment) whatever its generation: for comparing an
// incrementally built store with a rebuilt one byte for byte.
inline std::map<std::pair<int, std::string>, std::string> SnapshotViews(
    const ledger::Ledger& ledger) {
  std::map<std::pair<int, std::string>, std::string> out;
  Status st = ledger.ScanAux(
      ledger::AuxSpace::kViews, "v", "w", [&](std::string_view key, std::string_view value) {
        out[{static_cast<std::uint8_t>(key[1]), std::string(ShipmentOfViewKey(key))}] =
            std::string(value);
        return true;
      });
  if (!st.ok()) out.clear();
  return out;
}

// Every outbox entry in outbox order, as the publisher would send it (view references
// rendered from the log); nullopt when one cannot be read, decoded or rendered.
inline std::optional<std::vector<OutMessage>> ReadOutboxEntries(const ledger::Ledger& ledger) {
  std::vector<std::uint64_t> seqs;
  std::vector<OutboxEntry> entries;
  bool decoded = true;
  Status st = ledger.ScanAux(ledger::AuxSpace::kOutbox, "", "",
                             [&](std::string_view key, std::string_view value) {
                               auto entry = DecodeOutboxEntry(value);
                               if (!entry.ok()) return decoded = false;
                               seqs.push_back(ledger::GetU64BE(key.data()));
                               entries.push_back(std::move(entry).value());
                               return true;
                             });
  if (!st.ok() || !decoded) return std::nullopt;
  auto messages = ResolveOutboxEntries(ledger, seqs, std::move(entries), nullptr);
  if (!messages.ok()) return std::nullopt;
  return std::move(messages).value();
}

// Where the view versions in `messages` (outbox order) are not exactly 1, 2, 3, ... per
// (view, shipment): something applied twice or skipped. Empty when there is nothing wrong.
inline std::string ViewVersionGaps(const std::vector<OutMessage>& messages) {
  std::map<std::string, std::uint64_t> last;  // "view:shipment" -> version
  std::string out;
  for (const auto& m : messages) {
    if (!m.subject.starts_with("waybill.views.")) continue;  // an event-feed message (republish)
    const std::size_t colon = m.msg_id.rfind(':');
    if (colon == std::string::npos) {
      out += m.msg_id + ": a view message id without a version\n";
      continue;
    }
    const std::uint64_t version = std::stoull(m.msg_id.substr(colon + 1));
    std::uint64_t& prev = last[m.msg_id.substr(0, colon)];
    if (version != prev + 1) {
      out += m.msg_id + " after version " + std::to_string(prev) + "\n";
    }
    prev = version;
  }
  return out;
}

}  // namespace waybill::projections::testing
