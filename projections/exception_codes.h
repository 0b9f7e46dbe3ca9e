// Carrier exception codes: which status-less milestones the status view lists as exceptions.
//
// The classification is data, not code: X12 214 codes whose class is "exception" in the
// embedded table schemas/mappings/x12-214-status.json (damage, refusal, attempted delivery,
// return, ...). Thread-safety: the table is built once, on first use, and then read-only.
#pragma once

#include <string_view>

#include "schemas/event.h"

namespace waybill::projections {

// True when `code` is an X12 214 status code classified "exception".
bool IsX12ExceptionCode(std::string_view code);

// True when `e` is a carrier exception: a milestone without a status whose source code is an
// exception code of its format (only "x12" has such a table today), or any status-less
// milestone that carries a reason code.
bool IsExceptionEvent(const Event& e);

}  // namespace waybill::projections
