// Replay of a Waybill ledger for the side-by-side benchmark: opens DATA_DIR read-only and
// decodes every event in sequence order through Ledger::ReadRange (what a rebuild or an
// export reads).
//
// usage: compare_replay DATA_DIR
// Prints {"replay_events":N,"replay_seconds":X}.
#include <cstdio>
#include <string>

#include "bench/bench_util.h"
#include "ledger/ledger.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: compare_replay DATA_DIR\n");
    return 2;
  }
  waybill::ledger::LedgerOptions o;
  o.mode = waybill::ledger::OpenMode::kReadOnly;
  auto opened = waybill::ledger::Ledger::Open(argv[1], o);
  if (!opened.ok()) {
    std::fprintf(stderr, "compare_replay: %s\n", opened.status().ToString().c_str());
    return 1;
  }
  auto ledger = std::move(opened).value();
  std::uint64_t events = 0;
  const auto start = waybill::bench::Clock::now();
  auto st = ledger->ReadRange(1, UINT64_MAX, [&](const waybill::Event& e) {
    events += e.ledger.seq != 0;
    return true;
  });
  const double seconds = waybill::bench::Seconds(start);
  if (!st.ok()) {
    std::fprintf(stderr, "compare_replay: %s\n", st.ToString().c_str());
    return 1;
  }
  std::printf("{\"replay_events\":%llu,\"replay_seconds\":%.3f}\n",
              static_cast<unsigned long long>(events), seconds);
  return 0;
}
