// The JSON object of a dead letter, shared by `waybill dlq` and the admin API:
// {"id","state","received_at","format","partner"?,"principal"?,"origin"?,"position"?,
//  "reasons":[...],"attempts","updated_at"?,"updated_by"?,"resolution"?,"raw_bytes",
//  "raw"? (DeadLetterJson only)}. Optional members are left out when unset.
// Thread-safety: pure.
#pragma once

#include <string>

#include "ledger/dead_letter.h"

namespace waybill::ledger {

// One dead letter shown whole, its raw message included.
std::string DeadLetterJson(const DeadLetter& dl);
// One dead letter as listed: the same object without "raw".
std::string DeadLetterSummaryJson(const DeadLetterSummary& summary);

}  // namespace waybill::ledger
