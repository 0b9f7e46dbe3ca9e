// Text helpers for error messages. Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace waybill {

// `value` as it goes into an error message: wrapped in double quotes, with '"' and '\'
// escaped by a backslash and control bytes (< 0x20, 0x7f) written as "\xNN" (lower-case
// hex). Only the first 64 bytes are shown; a longer value is cut there and "..." added
// before the closing quote. Bytes >= 0x80 pass through unchanged.
std::string QuoteForMessage(std::string_view value);

}  // namespace waybill
