// What an import did, per event and per rejected message: the contract of `waybill import`'s
// JSON summary line.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace waybill::ingest {

struct Reject {
  std::string origin;      // file name (or "http", "nats")
  std::uint64_t line = 0;  // 1-based line in the file, 0 when not line-oriented
  std::string reason;
  std::uint64_t dead_letter_id = 0;
  std::string position;  // the message inside the document ("ISA 905/GS 1/ST 0001", "$[2]")
};

// One event's outcome, for callers that answer per event (the HTTP ingest route).
struct EventResult {
  std::string event_id;
  std::uint64_t seq = 0;   // where it is stored (for a duplicate: the original)
  bool duplicate = false;  // already in the ledger; nothing was stored
};

struct ImportSummary {
  std::uint64_t accepted = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t rejected = 0;
  std::vector<Reject> rejects;  // in the order they were found
  std::uint64_t first_seq = 0;  // lowest sequence appended (0: none)
  std::uint64_t last_seq = 0;   // highest sequence appended
  // Per event, in submission order; filled only when the pipeline records events.
  std::vector<EventResult> events;

  void Merge(const ImportSummary& other);
  // {"accepted":N,"duplicates":N,"rejected":N} plus "rejects":[{"file","line","reason",
  // "dead_letter_id"}] when anything was rejected ("position" too, for document formats).
  // One line, no trailing newline.
  std::string ToJson() const;
};

}  // namespace waybill::ingest
