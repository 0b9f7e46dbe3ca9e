#include "server/metrics/ledger_collector.h"

namespace waybill::server::metrics {
namespace {

// WriterFigures keeps non-cumulative buckets (cheaper for its single writer); Prometheus
// wants cumulative ones.
template <std::size_t N, std::size_t M>
Histogram::Snapshot Cumulative(const std::array<double, N>& bounds,
                               const std::array<std::uint64_t, M>& buckets, double sum) {
  static_assert(M == N + 1, "one bucket per bound plus +Inf");
  Histogram::Snapshot s;
  s.upper_bounds.assign(bounds.begin(), bounds.end());
  s.cumulative.resize(M);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < M; ++i) {
    running += buckets[i];
    s.cumulative[i] = running;
  }
  s.sum = sum;
  s.count = running;
  return s;
}

}  // namespace

void RegisterLedgerCollector(Registry& registry, const ledger::Ledger& ledger) {
  registry.AddCollector([&ledger](Exposition& out) {
    const ledger::WriterFigures f = ledger.writer_figures();
    const Labels none;
    out.Sample("waybill_ledger_events_total", "Events stored in the ledger by this process.",
               "counter", none, static_cast<double>(f.events));
    out.Sample("waybill_ledger_duplicates_total",
               "Appended events whose id was already in the ledger (stored nothing).", "counter",
               none, static_cast<double>(f.duplicates));
    out.Sample("waybill_ledger_dead_letters_total",
               "Dead letters stored in the ledger by this process.", "counter", none,
               static_cast<double>(f.dead_letters));
    out.Sample("waybill_ledger_commits_total",
               "Group commits (one synced RocksDB WriteBatch each).", "counter", none,
               static_cast<double>(f.commits));
    out.HistogramSample(
        "waybill_ledger_commit_seconds",
        "Duration of one group commit's synced WriteBatch (fsync included), seconds.", none,
        Cumulative(ledger::kCommitSecondsBounds, f.commit_seconds_buckets, f.commit_seconds_sum));
    out.HistogramSample("waybill_ledger_commit_events",
                        "Events stored per group commit (group size).", none,
                        Cumulative(ledger::kCommitEventsBounds, f.commit_events_buckets,
                                   static_cast<double>(f.commit_events_sum)));
    out.Sample("waybill_ledger_write_errors_total",
               "Writes refused or failed (no space left, RocksDB write errors): group commits "
               "and projection batches.",
               "counter", none, static_cast<double>(f.write_errors));
    out.Sample("waybill_ledger_writable",
               "1 while the ledger can store appends; 0 from a failed write until it recovers.",
               "gauge", none, f.writable ? 1 : 0);
    const ledger::MemoryFigures m = ledger.memory_figures();
    out.Sample("waybill_ledger_memtable_bytes",
               "RocksDB memtables (written, not yet flushed to table files).", "gauge", none,
               static_cast<double>(m.memtables));
    out.Sample("waybill_ledger_table_reader_bytes",
               "RocksDB index and filter blocks held for open table files (grows with the "
               "data on disk).",
               "gauge", none, static_cast<double>(m.table_readers));
    out.Sample("waybill_ledger_block_cache_bytes", "RocksDB block caches in use.", "gauge", none,
               static_cast<double>(m.block_cache));
    out.Sample("waybill_ledger_head_seq", "Sequence of the last event appended to the ledger.",
               "gauge", none, static_cast<double>(ledger.Head().seq));
  });
}

}  // namespace waybill::server::metrics
