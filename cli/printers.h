// What the `waybill` commands print, shared by the offline path (ledger in --data-dir) and
// the online path (--server URL). Both hand the printers the same JSON the ledger's codecs
// and the HTTP API produce (canonical events, dead letters, views), so a command prints
// byte for byte the same output whichever way the data came.
//
// Thread-safety: pure functions writing to std::cout / std::cerr; call from one thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/import_summary.h"
#include "schemas/result.h"

namespace waybill::cli {

// history: one line per event for people (seq, event time, kind, what happened, where,
// source and id) from the event's canonical JSON object. Fields the JSON lacks (charges
// masked by the server) are left out of the line.
std::string HistoryLine(std::string_view event_json);

// history's output for `events` (canonical JSON objects, in sequence order): with `json` a
// JSON array, one event a line; else one HistoryLine each, or "no events for shipment" on
// stderr when there are none.
void PrintHistory(const std::vector<std::string>& events, const std::string& shipment, bool json);

// view/asof: with `json` the combined view object on one line; else one "field: value" line
// per top-level field (nested values as compact JSON).
void PrintViews(std::string_view views_json, bool json);

// dlq list: one line per dead letter for people, from its JSON object (ledger/dead_letter_json.h).
std::string DeadLetterLine(std::string_view dead_letter_json);
// dlq list's output: with `json` a JSON array, one dead letter a line; else DeadLetterLine
// each, or "no dead letters" on stderr.
void PrintDeadLetters(const std::vector<std::string>& dead_letters, bool json);

// dlq retry: the outcomes summed, printed as
// {"retried":N,"resolved":N,"still_failing":N,"accepted":N,"duplicates":N}.
struct RetryTotals {
  std::uint64_t retried = 0, resolved = 0, still_failing = 0, accepted = 0, duplicates = 0;
  // Counts one outcome; for one that still fails, prints each reason to stderr.
  void Add(std::uint64_t id, bool resolved, std::uint64_t accepted, std::uint64_t duplicates,
           const std::vector<std::string>& reasons);
  // Prints the totals line; returns kExitRejected when anything still fails, else kExitOk.
  int Print() const;
};

// verify's result, intact or broken at first_broken_seq.
struct VerifyOutcome {
  std::uint64_t events = 0;
  bool intact = true;
  std::uint64_t head_seq = 0;
  std::string head_hash;  // lower-case hex
  std::uint64_t first_broken_seq = 0;
  std::string reason;
};
// Prints {"events":N,"head_seq":N,"head_hash":"..."} or {"events":N,"first_broken_seq":N,
// "reason":"..."} plus the error line; returns kExitOk or kExitVerifyFailed.
int PrintVerify(const VerifyOutcome& outcome);

// import: prints the summary line and, on stderr, one line per reject. With a non-ok
// `failure` prints it, then the summary of what did land, and returns kExitIoError;
// otherwise kExitRejected when anything was rejected, else kExitOk.
int PrintImportSummary(const ingest::ImportSummary& summary, const Status& failure);

}  // namespace waybill::cli
