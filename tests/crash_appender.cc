// Child process for ledger_crash_test: appends events "ev-<n>" for n = start, start+1, ...
// from several threads, and prints "<n> <seq>" on stdout after each append is acknowledged.
// It runs until killed. Every 7th append also re-sends an older id, which must come back
// as a duplicate of its original sequence.
//
// usage: crash_appender DATA_DIR START THREADS
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ledger/ledger.h"

using namespace waybill;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: crash_appender DATA_DIR START THREADS\n");
    return 2;
  }
  auto opened = ledger::Ledger::Open(argv[1]);
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.status().ToString().c_str());
    return 1;
  }
  auto ledger = std::move(opened).value();
  std::atomic<std::uint64_t> next{std::strtoull(argv[2], nullptr, 10)};
  std::mutex out_mu;
  std::vector<std::thread> threads;
  const int nthreads = std::atoi(argv[3]);
  for (int t = 0; t < nthreads; ++t) {
    threads.emplace_back([&] {
      for (;;) {
        const std::uint64_t n = next.fetch_add(1);
        std::vector<std::uint64_t> ns = {n};
        if (n % 7 == 0 && n > 10) ns.push_back(n - 10);
        ledger::AppendBatch batch;
        for (std::uint64_t k : ns) {
          Event e;
          e.event_id = "ev-" + std::to_string(k);
          e.kind = EventKind::kMilestone;
          e.occurred_at = 1'735'689'600'000'000'000 + static_cast<UnixNanos>(k);
          e.source.system = SourceSystem::kCarrier;
          e.source.format = "canonical";
          e.shipment_id = "S" + std::to_string(k % 97);
          e.status = ShipmentStatus::kInTransit;
          batch.events.push_back(ledger::PrepareEvent(e));
        }
        auto r = ledger->Append(std::move(batch));
        if (!r.ok()) {
          std::fprintf(stderr, "append: %s\n", r.status().ToString().c_str());
          std::_Exit(1);
        }
        std::lock_guard<std::mutex> lock(out_mu);
        for (std::size_t i = 0; i < ns.size(); ++i) {
          std::printf("%llu %llu\n", static_cast<unsigned long long>(ns[i]),
                      static_cast<unsigned long long>(r->events[i].seq));
        }
        std::fflush(stdout);
      }
    });
  }
  for (auto& th : threads) th.join();
}
