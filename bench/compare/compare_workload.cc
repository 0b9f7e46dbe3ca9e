// Writes the side-by-side benchmark's workload as NDJSON (bench/compare/workload.h).
//
// usage: compare_workload OUT_FILE EVENTS SHIPMENTS DUP_PERCENT [SEED]
// Prints {"events":N,"unique":N,"duplicates":N,"bytes":N,"bytes_per_event":X}.
#include <cstdio>
#include <fstream>
#include <string>

#include "bench/compare/workload.h"

int main(int argc, char** argv) {
  if (argc < 5 || argc > 6) {
    std::fprintf(stderr, "usage: compare_workload OUT_FILE EVENTS SHIPMENTS DUP_PERCENT [SEED]\n");
    return 2;
  }
  const std::size_t events = std::stoull(argv[2]);
  const std::size_t shipments = std::stoull(argv[3]);
  const unsigned dup = static_cast<unsigned>(std::stoul(argv[4]));
  const std::uint64_t seed = argc == 6 ? std::stoull(argv[5]) : 20251128;
  if (shipments == 0 || dup >= 100) {
    std::fprintf(stderr, "compare_workload: SHIPMENTS must be >= 1 and DUP_PERCENT < 100\n");
    return 2;
  }
  std::ofstream out(argv[1], std::ios::binary);
  if (!out) {
    std::fprintf(stderr, "compare_workload: cannot write %s\n", argv[1]);
    return 1;
  }
  waybill::bench::WorkloadGenerator gen(seed, shipments, dup);
  std::size_t bytes = 0, dups = 0;
  for (std::size_t i = 0; i < events; ++i) {
    bool dup_line = false;
    const std::string& line = gen.Next(&dup_line);
    dups += dup_line;
    out << line << '\n';
    bytes += line.size() + 1;
  }
  out.close();
  if (!out) {
    std::fprintf(stderr, "compare_workload: writing %s failed\n", argv[1]);
    return 1;
  }
  std::printf(
      "{\"events\":%zu,\"unique\":%llu,\"duplicates\":%zu,\"bytes\":%zu,\"bytes_per_event\":%.1f}"
      "\n",
      events, static_cast<unsigned long long>(gen.fresh()), dups, bytes,
      events ? static_cast<double>(bytes) / static_cast<double>(events) : 0.0);
  return 0;
}
