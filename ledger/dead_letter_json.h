// The JSON object of a dead letter, shared by `waybill dlq` and the admin API:
// {"id","state","received_at","format","partner"?,"principal"?,"origin"?,"position"?,
//  "reasons":[...],"attempts","updated_at"?,"updated_by"?,"resolution"?,"raw_bytes",
//  "raw"? (with_raw)}. Optional members are left out when unset.
// Thread-safety: pure.
#pragma once

#include <string>

#include "ledger/dead_letter.h"

namespace waybill::ledger {

std::string DeadLetterJson(const DeadLetter& dl, bool with_raw);

}  // namespace waybill::ledger
