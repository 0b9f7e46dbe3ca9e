// Exports the ledger writer's figures (Ledger::writer_figures) and the head at scrape time.
//
// Metrics (docs/operations.md):
//   waybill_ledger_events_total             counter    events stored (duplicates excluded)
//   waybill_ledger_duplicates_total         counter    appended events already in the ledger
//   waybill_ledger_dead_letters_total       counter    dead letters stored by the writer
//   waybill_ledger_commits_total            counter    group commits (synced WriteBatches)
//   waybill_ledger_commit_seconds           histogram  duration of one synced WriteBatch
//   waybill_ledger_commit_events            histogram  events stored per group commit
//   waybill_ledger_write_errors_total       counter    writes refused or failed (full disk, ...)
//   waybill_ledger_writable                 gauge      1 while appends can be stored, else 0
//   waybill_ledger_head_seq                 gauge      sequence of the last appended event
// Counters restart from zero with the process (Prometheus' rate() handles resets).
//
// Thread-safety: the collector reads only atomics and the head (a short lock), so scrapes
// never wait for a commit.
#pragma once

#include "ledger/ledger.h"
#include "server/metrics/registry.h"

namespace waybill::server::metrics {

// Adds a collector to `registry` that reads `ledger` at every Render. `ledger` must outlive
// the registry (or at least its last Render).
void RegisterLedgerCollector(Registry& registry, const ledger::Ledger& ledger);

}  // namespace waybill::server::metrics
