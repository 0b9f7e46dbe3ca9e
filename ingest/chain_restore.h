// Chain restore: `waybill import --format canonical` (offline) of a `waybill export` file.
//
// An export line is a canonical event with its ledger fields (seq, recorded_at, prev_hash,
// hash) and everything its content digest covers (raw_hash, source.principal); see
// EventJsonParser::ParseExported. A file whose first non-blank line carries ledger fields is
// restored, not imported: the events are stored at exactly their exported positions, so the
// result is the same chain (same sequences, recorded_at, content bytes and hashes).
//
// A restore runs in two passes over the file:
//  1. Check, storing nothing. Every non-blank line must be an export line (a line without
//     ledger fields, or one that does not parse or validate, refuses the whole file, naming
//     the line). The first line must continue this ledger: seq = head + 1 and prev_hash = the
//     head's hash (an empty ledger: seq 1 and the all-zero genesis hash). Each next line has
//     the next seq and the previous line's hash as prev_hash; recorded_at never goes back;
//     no event id appears twice; and the hash recomputed from the line (record_format.h)
//     equals the line's hash.
//  2. Append: the same lines as restore requests (ledger.h, PreparedEvent::expected), in
//     batches; the ledger re-checks every position and hash itself, so a file changed
//     between the passes still cannot store anything but a valid continuation.
// Raw messages: the original messages are not in an export, so a restored event keeps its
// original raw_hash (its content must not change) and GetRaw of it is NotFound unless that
// message is stored some other way. The export lines of each batch are kept, byte for byte,
// as a raw message of format "canonical" with origin "FILE:A-B (restore)", for audit of
// what was restored. Dead letters are not exported and therefore not restored.
//
// Only the offline import restores (it holds the data dir); HTTP, NATS and
// `waybill import --server` ingest always assign ledger fields themselves.
// Thread-safety: the functions hold no state; one restore at a time per ledger.
#pragma once

#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <string_view>

#include "ledger/ledger.h"

namespace waybill::ingest {

// Whether `line` is a JSON object with top-level "seq" and "hash" keys: a line of a ledger
// export. Structure only, nothing is validated. Pure.
bool CarriesLedgerFields(std::string_view line);

// A cheap pre-filter for CarriesLedgerFields on a hot path: false means the line certainly
// carries no ledger fields. Pure.
inline bool MayCarryLedgerFields(std::string_view line) {
  return line.find("\"seq\"") != std::string_view::npos;
}

// Reads `in` up to and including its first non-blank line (at most a little over
// kMaxCanonicalLineBytes) and says whether that line carries ledger fields. Everything read
// is appended to `consumed`, so a caller that cannot reopen its input (stdin) can replay it.
// IoError when reading fails.
[[nodiscard]] Result<bool> StartsWithLedgerExport(std::istream& in, std::string* consumed);

struct RestoreContext {
  std::string origin;                  // the file's name, in messages and raw origins
  std::optional<std::string> partner;  // recorded on the raw messages
  std::size_t batch_events = 1000;     // lines per restore request
};

struct RestoreSummary {
  std::uint64_t events = 0;     // events restored
  std::uint64_t first_seq = 0;  // the file's first seq (0: the file had no lines)
  ledger::LedgerHead head;      // the ledger's head afterwards
};

// Restores the export in the file at `path` (a regular file: it is read twice) onto
// `ledger`. InvalidArgument naming the line, its seq and the rule when the check pass
// refuses the file (nothing is stored) or when the ledger refuses a request in the append
// pass (the requests before it are stored, and the ledger's head says how far); IoError
// when the file cannot be read or the ledger cannot write.
[[nodiscard]] Result<RestoreSummary> RestoreCanonicalFile(const std::string& path,
                                                          const RestoreContext& ctx,
                                                          ledger::Ledger& ledger);

}  // namespace waybill::ingest
