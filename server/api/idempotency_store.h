// Idempotency-Key for whole-request retries of POST /v1/ingest: the first answer to a
// (principal, key) is kept for `ttl` and given again to a retry with the same body.
//
// Layout, in the ledger's `views` family (projections/store_layout.h reserves "r"):
//   "r" | SHA-256(principal "\0" key)  ->  version:u8 (=1) | stored_at:i64be (unix ns) |
//                                          body_sha256:32 | http_status:u16be | answer
// Written after the request's events are durable, without its own fsync (it rides on the
// next group commit): a crash in between loses the record, never an event, and the retry
// then gets the same events back as duplicates. Expired records are ignored on read and
// deleted by Sweep.
// Thread-safety: all methods are safe from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "ledger/ledger.h"
#include "schemas/sha256.h"

namespace waybill::server::api {

class IdempotencyStore {
 public:
  IdempotencyStore(ledger::Ledger& ledger, std::chrono::seconds ttl);

  struct Answer {
    int status = 200;
    std::string body;
  };
  enum class Outcome {
    kNew,       // not seen: now marked in flight; call Complete or Abandon
    kReplay,    // answered before with the same body: `replay` holds the answer
    kInFlight,  // the first request with this key is still running (409)
    kMismatch,  // the key was used with a different body (422)
  };
  Outcome Start(std::string_view principal, std::string_view key, const Sha256& body_hash,
                Answer* replay);
  // Stores the answer and clears the in-flight mark. A storage error is returned (and the
  // mark cleared); the answer itself stands.
  [[nodiscard]] Status Complete(std::string_view principal, std::string_view key,
                                const Sha256& body_hash, const Answer& answer);
  // Clears the in-flight mark without storing (the request failed before anything durable).
  void Abandon(std::string_view principal, std::string_view key);

  // Deletes expired records; returns how many.
  [[nodiscard]] Result<std::uint64_t> Sweep();

  // A valid key: 1..255 printable ASCII characters.
  static bool ValidKey(std::string_view key);

 private:
  std::string RecordKey(std::string_view principal, std::string_view key) const;

  ledger::Ledger& ledger_;
  const std::chrono::seconds ttl_;
  std::mutex mu_;
  std::unordered_map<std::string, Sha256> in_flight_;  // record key -> body hash
};

}  // namespace waybill::server::api
