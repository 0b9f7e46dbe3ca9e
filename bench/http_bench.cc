// Data set for the HTTP API benchmark (bench/http_bench.sh): fills a fresh data dir with
// EVENTS valid canonical events over SHIPMENTS shipments through the ledger API directly
// (no HTTP, no parsing), folds the projections to the head so `waybill serve` starts caught
// up, and writes the shipment ids, one per line, for the wrk scripts.
//
// Each shipment gets a realistic sequence: an ERP order with its customer (CUST-<n % 500>)
// first, then the TMS tender and quote, the carrier's milestones (with locations) and
// delivery estimates, and for most shipments delivery and an invoice. The shipments'
// sequences are interleaved in the log the way live feeds interleave them: a window of
// shipments is in flight at once and a new one starts when one finishes.
//
// Prints figures (append and fold rates, sizes); asserts nothing.
//
// usage: http_bench_data DATA_DIR EVENTS SHIPMENTS [SHIPMENTS_FILE]
//        (SHIPMENTS_FILE defaults to DATA_DIR/../shipments.txt)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "ledger/ledger.h"
#include "projections/projector.h"
#include "schemas/event.h"
#include "schemas/event_validate.h"
#include "schemas/time.h"

namespace waybill {
namespace {

using bench::Clock;
using bench::Seconds;
namespace fs = std::filesystem;

constexpr std::uint32_t kSeed = 20250611;
constexpr std::size_t kBatch = 8192;  // events per AppendBatch, as projection_bench
constexpr int kCustomers = 500;
// Shipments in flight at once: their events interleave in the log.
constexpr std::size_t kWindow = 4096;
constexpr double kFinishedShare = 0.6;  // shipments that reach DELIVERED and get invoiced
constexpr UnixNanos kBase = 1741000000LL * 1'000'000'000;  // 2025-03-03
constexpr UnixNanos kMinute = 60LL * 1'000'000'000;

[[noreturn]] void Die(const char* what, const Status& st) {
  std::fprintf(stderr, "%s: %s\n", what, st.ToString().c_str());
  std::exit(1);
}

struct Place {
  const char* city;
  const char* region;
  const char* unlocode;
  double lat, lon;
};
constexpr Place kPlaces[] = {{"Chicago", "IL", "USCHI", 41.8781, -87.6298},
                             {"Atlanta", "GA", "USATL", 33.7490, -84.3880},
                             {"Dallas", "TX", "USDAL", 32.7767, -96.7970},
                             {"Memphis", "TN", "USMEM", 35.1495, -90.0490},
                             {"Columbus", "OH", "USCMH", 39.9612, -82.9988},
                             {"Denver", "CO", "USDEN", 39.7392, -104.9903},
                             {"Newark", "NJ", "USEWR", 40.7357, -74.1724},
                             {"Phoenix", "AZ", "USPHX", 33.4484, -112.0740},
                             {"Kansas City", "MO", "USMKC", 39.0997, -94.5786}};
constexpr const char* kCarriers[] = {"ACME", "ODFL", "SAIA", "RDWY", "FXFE"};

// One shipment's progress through its script.
struct Shipment {
  int index = 0;
  int total = 0;  // events it gets
  int step = 0;   // next event
  bool finished = false;
  UnixNanos clock = 0;
  std::int64_t quote_line_haul = 0, quote_fuel = 0;  // cents
};

class Generator {
 public:
  Generator(std::size_t events, std::size_t shipments) : rng_(kSeed), shipments_(shipments) {
    // Events split evenly; the first `events % shipments` shipments get one more.
    const std::size_t per = events / shipments, extra = events % shipments;
    totals_.resize(shipments);
    for (std::size_t i = 0; i < shipments; ++i) totals_[i] = static_cast<int>(per + (i < extra));
    while (active_.size() < std::min(kWindow, shipments)) Start();
  }

  bool Done() const { return active_.empty(); }

  Event Next() {
    const std::size_t slot = rng_() % active_.size();
    Shipment& s = active_[slot];
    Event e = Make(s);
    if (++s.step >= s.total) {
      // Finished: the slot takes the next shipment, or goes when none is left.
      if (next_ < shipments_) {
        Start(slot);
      } else {
        active_[slot] = active_.back();
        active_.pop_back();
      }
    }
    return e;
  }

 private:
  int Pick(int n) { return static_cast<int>(rng_() % static_cast<std::uint32_t>(n)); }

  void Start(std::size_t slot = SIZE_MAX) {
    Shipment s;
    s.index = static_cast<int>(next_);
    s.total = totals_[next_];
    s.finished = static_cast<double>(rng_() % 1000) < kFinishedShare * 1000;
    // Shipments start spread over about two months, in the order they enter the window.
    const auto minutes_in = static_cast<UnixNanos>(60 * 24 * 60 * next_ / shipments_);
    s.clock = kBase + (minutes_in + Pick(600)) * kMinute;
    s.quote_line_haul = 90000 + Pick(300000);
    s.quote_fuel = s.quote_line_haul / 10 + Pick(2000);
    ++next_;
    if (slot == SIZE_MAX) {
      active_.push_back(s);
    } else {
      active_[slot] = s;
    }
  }

  Location Somewhere(int salt) {
    const Place& p = kPlaces[static_cast<std::size_t>(salt) % std::size(kPlaces)];
    Location l;
    l.city = p.city;
    l.region = p.region;
    l.country = "US";
    l.unlocode = p.unlocode;
    l.lat = p.lat;
    l.lon = p.lon;
    return l;
  }

  void Milestone(Event& e, ShipmentStatus status, const char* code) {
    e.kind = EventKind::kMilestone;
    e.status = status;
    e.source_code = code;
  }

  Charges MakeCharges(const Shipment& s, ChargeBasis basis, std::int64_t correction) {
    Charges c;
    c.basis = basis;
    c.document = (basis == ChargeBasis::kQuoted ? "Q-" : "INV-") + std::to_string(s.index);
    c.currency = "USD";
    ChargeLine haul{"400", "Line haul", s.quote_line_haul + correction, "USD"};
    ChargeLine fuel{"FUE", "Fuel surcharge", s.quote_fuel, "USD"};
    c.total = haul.amount + fuel.amount;
    c.lines = {std::move(haul), std::move(fuel)};
    return c;
  }

  // The event at `s.step` of the shipment's script.
  Event Make(Shipment& s) {
    const std::string id = std::to_string(s.index);
    const char* carrier = kCarriers[static_cast<std::size_t>(s.index) % std::size(kCarriers)];
    Event e;
    e.event_id = "bench-" + id + "-" + std::to_string(s.step);
    e.shipment_id = "SHP-" + id;
    e.order_id = "SO-" + id;
    e.source.format = "canonical";
    s.clock += (10 + Pick(360)) * kMinute;
    e.occurred_at = s.clock;
    e.occurred_offset_minutes = -300;
    const int k = s.step, left = s.total - s.step;  // left: this one and those after it
    if (k == 0) {
      e.kind = EventKind::kOrder;
      e.source.system = SourceSystem::kErp;
      e.source.partner = "SAP-S4";
      e.customer_id = "CUST-" + std::to_string(s.index % kCustomers);
      e.status = ShipmentStatus::kOrderReleased;
      OrderBody body;
      Location to = Somewhere(s.index + 3);
      to.name = "DC " + std::to_string(s.index % 97);
      body.ship_to = std::move(to);
      Promise p;
      p.date = FormatUtc(s.clock + (3 + Pick(5)) * 24 * 60 * kMinute).substr(0, 10);
      body.promised = std::move(p);
      e.order = std::move(body);
    } else if (k == 1) {
      e.source.system = SourceSystem::kTms;
      e.source.partner = "MERCURY-TMS";
      e.carrier = carrier;
      Milestone(e, ShipmentStatus::kTendered, "TENDER");
    } else if (k == 2) {
      e.kind = EventKind::kCharges;
      e.source.system = SourceSystem::kTms;
      e.source.partner = "MERCURY-TMS";
      e.carrier = carrier;
      e.charges = MakeCharges(s, ChargeBasis::kQuoted, 0);
    } else {
      // From here on the carrier reports.
      e.source.system = SourceSystem::kCarrier;
      e.source.partner = carrier;
      e.carrier = carrier;
      e.references.push_back(Reference{"PRO", "PRO-" + id});
      if (k == 3) {
        Milestone(e, ShipmentStatus::kTenderAccepted, "A");
      } else if (k == 4) {
        Milestone(e, ShipmentStatus::kPickedUp, "AF");
        e.location = Somewhere(s.index);
      } else if (s.finished && left == 1 && k >= 7) {
        e.kind = EventKind::kCharges;
        e.charges = MakeCharges(s, ChargeBasis::kInvoiced, Pick(3) == 0 ? 2500 : 0);
      } else if (s.finished && left == 2 && k >= 7) {
        Milestone(e, ShipmentStatus::kDelivered, "D1");
        e.location = Somewhere(s.index + 3);
      } else if (s.finished && left == 3 && k >= 7) {
        Milestone(e, ShipmentStatus::kAtDelivery, "X1");
        e.location = Somewhere(s.index + 3);
      } else if (k % 3 == 2) {
        e.kind = EventKind::kEstimate;
        Estimate est;
        est.of = EstimateOf::kDelivery;
        est.issued_at = e.occurred_at;
        est.estimated_at = e.occurred_at + (12 * 60 + Pick(48 * 60)) * kMinute;
        e.estimate = est;
      } else if (Pick(10) == 0) {
        Milestone(e, ShipmentStatus::kDelayed, "SD");
        e.reason_code = "AH";
        e.location = Somewhere(s.index + k);
      } else {
        Milestone(e, ShipmentStatus::kInTransit, "X6");
        e.location = Somewhere(s.index + k);
      }
    }
    FillCorrelationId(&e);
    return e;
  }

  std::mt19937 rng_;
  std::size_t shipments_;
  std::vector<int> totals_;
  std::vector<Shipment> active_;
  std::size_t next_ = 0;  // next shipment to start
};

std::uint64_t DirBytes(const std::string& dir) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (const auto& entry : fs::recursive_directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec)) total += entry.file_size(ec);
  }
  return total;
}

}  // namespace
}  // namespace waybill

int main(int argc, char** argv) {
  using namespace waybill;
  std::size_t events = 0, shipments = 0;
  try {
    if (argc == 4 || argc == 5) {
      events = std::stoull(argv[2]);
      shipments = std::stoull(argv[3]);
    }
  } catch (const std::exception&) {
    events = 0;
  }
  if (events == 0 || shipments == 0 || shipments > events) {
    std::fprintf(stderr,
                 "usage: http_bench_data DATA_DIR EVENTS SHIPMENTS [SHIPMENTS_FILE]\n"
                 "  (SHIPMENTS <= EVENTS; SHIPMENTS_FILE defaults to DATA_DIR/../shipments.txt)\n");
    return 2;
  }
  const std::string dir = argv[1];
  const std::string ids_file =
      argc == 5 ? std::string(argv[4])
                : (fs::absolute(dir).lexically_normal().parent_path() / "shipments.txt").string();

  auto opened = ledger::Ledger::Open(dir);
  if (!opened.ok()) Die("open ledger", opened.status());
  auto ledger = std::move(opened).value();
  if (ledger->Head().seq != 0) {
    std::fprintf(stderr, "%s already holds a ledger (head %lu): give a fresh data dir\n",
                 dir.c_str(), static_cast<unsigned long>(ledger->Head().seq));
    return 1;
  }

  // 1. append, asynchronously so the next batch is built while the previous one commits.
  Generator gen(events, shipments);
  std::mutex mu;
  Status failure;
  std::atomic<std::uint64_t> stored{0}, duplicates{0}, pending{0};
  std::uint64_t invalid = 0;
  auto start = Clock::now();
  while (!gen.Done()) {
    ledger::AppendBatch batch;
    batch.events.reserve(kBatch);
    while (batch.events.size() < kBatch && !gen.Done()) {
      Event e = gen.Next();
      // The server would dead-letter an invalid event; here it means the generator is wrong.
      if (Status st = ValidateEvent(e); !st.ok()) {
        if (invalid++ == 0) std::fprintf(stderr, "invalid event: %s\n", st.ToString().c_str());
        continue;
      }
      batch.events.push_back(ledger::PrepareEvent(e));
    }
    pending.fetch_add(1);
    ledger->AppendAsync(std::move(batch), [&](Result<ledger::AppendResult> result) {
      if (!result.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        failure = result.status();
      } else {
        for (const auto& o : result->events) (o.duplicate ? duplicates : stored).fetch_add(1);
      }
      pending.fetch_sub(1);
    });
  }
  while (pending.load() != 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const double append_s = Seconds(start);
  if (!failure.ok()) Die("append", failure);
  if (invalid != 0) {
    std::fprintf(stderr, "%lu generated events failed validation\n",
                 static_cast<unsigned long>(invalid));
    return 1;
  }
  std::printf("append:  %lu events (%lu duplicates) over %zu shipments in %.2f s (%.0f events/s)\n",
              static_cast<unsigned long>(stored.load()),
              static_cast<unsigned long>(duplicates.load()), shipments, append_s,
              static_cast<double>(stored.load()) / append_s);
  std::fflush(stdout);

  // 2. fold the views to the head, as the server's worker would on start.
  auto projector_opened = projections::Projector::Open(*ledger);
  if (!projector_opened.ok()) Die("open projector", projector_opened.status());
  auto projector = std::move(projector_opened).value();
  start = Clock::now();
  auto caught_up = projector->CatchUp();
  if (!caught_up.ok()) Die("projection catch-up", caught_up.status());
  const double fold_s = Seconds(start);
  std::printf("fold:    checkpoint %lu (head %lu) in %.2f s (%.0f events/s)\n",
              static_cast<unsigned long>(*caught_up),
              static_cast<unsigned long>(ledger->Head().seq), fold_s,
              static_cast<double>(*caught_up) / fold_s);
  projector.reset();
  ledger.reset();  // closes RocksDB, so the server can take the data dir

  std::ofstream out(ids_file, std::ios::trunc);
  for (std::size_t i = 0; i < shipments; ++i) out << "SHP-" << i << '\n';
  out.close();
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", ids_file.c_str());
    return 1;
  }
  std::printf("data:    %s, %.0f MiB on disk; shipment ids in %s\n", dir.c_str(),
              static_cast<double>(DirBytes(dir)) / (1024.0 * 1024.0), ids_file.c_str());
  return 0;
}
