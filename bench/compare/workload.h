// The side-by-side benchmark's workload: canonical milestone events of about 300 bytes over
// a fixed number of shipments, with a share of exact re-sends (same event id, same bytes) as
// a producer retrying would make. The line shape is the one bench/ingest_bench.cc uses; one
// difference: the n-th fresh event goes to shipment n % shipments with the status of its
// round (n / shipments) % 4, so every shipment goes PICKED_UP, IN_TRANSIT, AT_DELIVERY,
// DELIVERED in turn. ingest_bench gives status n % 4, which with 50,000 shipments pins each
// shipment to one status: a quarter of them are "delivered" with no pickup, and each such
// shipment makes `waybill serve`'s KPI tracker read the shipment's history (see
// docs/benchmarks-compare.md). The generator here is seeded and streaming.
//
// Lines contain no backslash, tab or control character (PostgreSQL's COPY text format reads
// them as they are) and their event id is always the first field.
// Thread-safety: a WorkloadGenerator is used by one thread at a time.
#pragma once

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace waybill::bench {

class WorkloadGenerator {
 public:
  // `shipments` >= 1; `dup_percent` in [0, 100); `id_prefix` starts every event id (the soak
  // producer gives each run its own, so no run's events duplicate another's).
  // `events_per_shipment` 0 spreads every event over the same `shipments` ids (the
  // side-by-side workload: 1,000,000 events over 50,000 gives each 20). Otherwise `shipments`
  // are in flight at a time and each is retired after that many fresh events, its id never
  // used again: a stream that runs for hours, as the soak's does, then keeps shipments the
  // size real ones have instead of giving each thousands of milestones.
  WorkloadGenerator(std::uint64_t seed, std::size_t shipments, unsigned dup_percent,
                    std::string id_prefix = "evt-", std::size_t events_per_shipment = 0)
      : rng_(seed),
        shipments_(shipments),
        dup_percent_(dup_percent),
        prefix_(std::move(id_prefix)),
        events_per_shipment_(events_per_shipment) {}

  // The next line (without a newline). A duplicate repeats one of the last kWindow fresh
  // lines (a retry comes soon after the original; a bounded window keeps memory flat in the
  // soak). `*duplicate` tells which it was.
  const std::string& Next(bool* duplicate) {
    if (!recent_.empty() && rng_() % 100 < dup_percent_) {
      *duplicate = true;
      return recent_[rng_() % recent_.size()];
    }
    *duplicate = false;
    std::string line = Fresh(fresh_++);
    if (recent_.size() < kWindow) {
      recent_.push_back(std::move(line));
      return recent_.back();
    }
    std::string& slot = recent_[next_slot_];
    next_slot_ = (next_slot_ + 1) % kWindow;
    slot = std::move(line);
    return slot;
  }

  std::uint64_t fresh() const { return fresh_; }

  // The event id of a generated line (the first field).
  static std::string_view EventId(std::string_view line) {
    constexpr std::string_view kKey = "{\"event_id\":\"";
    const std::size_t end = line.find('"', kKey.size());
    return line.substr(kKey.size(), end - kKey.size());
  }

 private:
  static constexpr std::size_t kWindow = 100'000;

  std::string Fresh(std::uint64_t n) const {
    static const char* kStatuses[] = {"PICKED_UP", "IN_TRANSIT", "AT_DELIVERY", "DELIVERED"};
    static const char* kCodes[] = {"CP", "X6", "X1", "D1"};
    static const char* kCities[][3] = {{"Chicago", "IL", "USCHI"},
                                       {"Nashville", "TN", "USBNA"},
                                       {"Atlanta", "GA", "USATL"},
                                       {"Dallas", "TX", "USDAL"}};
    const int k = static_cast<int>(n / shipments_ % 4);
    std::uint64_t shipment = n % shipments_;
    if (events_per_shipment_ > 0) shipment += n / (shipments_ * events_per_shipment_) * shipments_;
    const long long t = static_cast<long long>(n % 9'000'000) * 3;  // within 2025
    const long long day = t / 86400, sec = t % 86400;
    const int month = 1 + static_cast<int>(day / 28) % 12;
    const int dom = 1 + static_cast<int>(day % 28);
    char buf[1024];
    const int len = std::snprintf(
        buf, sizeof buf,
        "{\"event_id\":\"%s%012llu\",\"kind\":\"milestone\",\"occurred_at\":"
        "\"2025-%02d-%02dT%02lld:%02lld:%02lld-05:00\",\"source\":{\"system\":\"carrier\","
        "\"format\":\"canonical\",\"partner\":\"ACME\"},\"shipment_id\":\"SHP-%07llu\","
        "\"carrier\":\"ACME\",\"status\":\"%s\",\"source_code\":\"%s\",\"location\":{"
        "\"city\":\"%s\",\"region\":\"%s\",\"country\":\"US\",\"unlocode\":\"%s\"}}",
        prefix_.c_str(), static_cast<unsigned long long>(n), month, dom, sec / 3600, sec / 60 % 60,
        sec % 60, static_cast<unsigned long long>(shipment), kStatuses[k], kCodes[k], kCities[k][0],
        kCities[k][1], kCities[k][2]);
    return std::string(buf, static_cast<std::size_t>(len));
  }

  std::mt19937_64 rng_;
  const std::size_t shipments_;
  const unsigned dup_percent_;
  const std::string prefix_;
  const std::size_t events_per_shipment_;
  std::uint64_t fresh_ = 0;
  std::vector<std::string> recent_;
  std::size_t next_slot_ = 0;
};

}  // namespace waybill::bench
