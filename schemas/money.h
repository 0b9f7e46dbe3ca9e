// Exact money: decimal strings <-> integer minor units of an ISO 4217 currency.
//
// Money is never a floating-point number in Waybill. "2025.75" USD is 202575 minor units;
// "1500" JPY is 1500 (exponent 0); "1.234" is rejected for USD (3 decimals, USD allows 2)
// unless the extra digits are zeros ("1.230" is exactly 1.23). Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "schemas/result.h"

namespace waybill {

// The number of minor-unit digits of an active ISO 4217 code ("USD" 2, "JPY" 0, "KWD" 3,
// "CLF" 4), or nullopt for an unknown or non-upper-case code.
std::optional<int> CurrencyExponent(std::string_view currency);

// Parses an optionally signed plain decimal ("-12.5", "2025.75", "100") exactly into minor
// units of `currency`. Rejects exponents, thousands separators, spaces, a '.' without a digit
// on both sides (".5", "12.", "."), more fraction digits than the currency allows (unless they
// are zero), unknown currencies and values beyond int64 (INT64_MIN itself is accepted). The
// error message names the value, the currency and the reason.
[[nodiscard]] Result<std::int64_t> ParseMoney(std::string_view decimal, std::string_view currency);

// Formats minor units as a decimal string with exactly the currency's exponent digits
// ("2025.75", "1500", "-0.50"). An unknown currency is formatted with exponent 2.
std::string FormatMoney(std::int64_t minor_units, std::string_view currency);

// Checks a JSON number token and, when `decimal` is given, converts it exactly to a plain
// decimal ("2.02575e3" -> "2025.75", "-12" -> "-12") by shifting the exponent as text, never
// through a double. `*decimal` views `tok` when there is no exponent, else `*scratch` (which
// must then be given). Returns an empty view on success, else the reason ("invalid number",
// "exponent out of range for money": exponents beyond +-64 are refused).
std::string_view JsonNumberToDecimal(std::string_view tok, std::string_view* decimal = nullptr,
                                     std::string* scratch = nullptr);

}  // namespace waybill
