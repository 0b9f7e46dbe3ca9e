// Operator actions on dead letters: retry (re-run the current adapter, e.g. after a mapping
// fix, and move what now passes into the ledger) and drop (close it, recording who and why).
// Both are single atomic ledger appends. Used by `waybill dlq` and the admin API.
// Thread-safety: safe to call concurrently; the ledger serialises the writes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ingest/adapter_registry.h"
#include "ingest/partner_profiles.h"
#include "ledger/ledger.h"

namespace waybill::ingest {

struct RetryOutcome {
  std::uint64_t id = 0;
  bool resolved = false;             // its events are now in the ledger
  std::uint64_t accepted = 0;        // events appended by this retry
  std::uint64_t duplicates = 0;      // events that were already in the ledger
  std::vector<std::string> reasons;  // why it still fails (when !resolved)
};

// Re-maps dead letter `id` with the adapter its format names today. When the failed message
// now maps cleanly, appends its events (with the message's original principal) and marks the
// dead letter resolved in the same batch; otherwise records the attempt and the new reasons
// and leaves it pending. Errors: NotFound for an unknown id, Invalid when it is not pending
// or its format is unknown, and ledger write errors.
[[nodiscard]] Result<RetryOutcome> RetryDeadLetter(ledger::Ledger& ledger, std::uint64_t id,
                                                   const AdapterOptions& adapters,
                                                   const PartnerProfiles& profiles,
                                                   const std::string& operator_principal);

// Marks pending dead letter `id` dropped, keeping it with who dropped it and why.
[[nodiscard]] Status DropDeadLetter(ledger::Ledger& ledger, std::uint64_t id,
                                    const std::string& operator_principal,
                                    const std::string& reason);

}  // namespace waybill::ingest
