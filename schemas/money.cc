#include "schemas/money.h"

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <string>
#include <utility>

#include "schemas/error_text.h"

namespace waybill {
namespace {

struct CurrencyInfo {
  std::string_view code;
  int exponent;
};

// ISO 4217 List One: every code whose minor unit is defined. Codes whose minor unit is
// "N.A." (gold XAU, silver XAG, platinum XPT, palladium XPD, the bond-market units XBA-XBD,
// SDR XDR, XSU, XUA, the test code XTS and "no currency" XXX) are deliberately absent. Fund
// codes with a defined minor unit (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW) are present.
// ANG, CUC, SLL and ZWL are superseded (by XCG, -, SLE and ZWG) but still appear on documents
// issued during their transition, so they stay. HRK (Croatia, euro since 2023) is gone.
// Sorted by code: CurrencyExponent binary-searches it (checked by the static_assert below).
constexpr CurrencyInfo kCurrencies[] = {
    {"AED", 2}, {"AFN", 2}, {"ALL", 2}, {"AMD", 2}, {"ANG", 2}, {"AOA", 2}, {"ARS", 2}, {"AUD", 2},
    {"AWG", 2}, {"AZN", 2}, {"BAM", 2}, {"BBD", 2}, {"BDT", 2}, {"BGN", 2}, {"BHD", 3}, {"BIF", 0},
    {"BMD", 2}, {"BND", 2}, {"BOB", 2}, {"BOV", 2}, {"BRL", 2}, {"BSD", 2}, {"BTN", 2}, {"BWP", 2},
    {"BYN", 2}, {"BZD", 2}, {"CAD", 2}, {"CDF", 2}, {"CHE", 2}, {"CHF", 2}, {"CHW", 2}, {"CLF", 4},
    {"CLP", 0}, {"CNY", 2}, {"COP", 2}, {"COU", 2}, {"CRC", 2}, {"CUC", 2}, {"CUP", 2}, {"CVE", 2},
    {"CZK", 2}, {"DJF", 0}, {"DKK", 2}, {"DOP", 2}, {"DZD", 2}, {"EGP", 2}, {"ERN", 2}, {"ETB", 2},
    {"EUR", 2}, {"FJD", 2}, {"FKP", 2}, {"GBP", 2}, {"GEL", 2}, {"GHS", 2}, {"GIP", 2}, {"GMD", 2},
    {"GNF", 0}, {"GTQ", 2}, {"GYD", 2}, {"HKD", 2}, {"HNL", 2}, {"HTG", 2}, {"HUF", 2}, {"IDR", 2},
    {"ILS", 2}, {"INR", 2}, {"IQD", 3}, {"IRR", 2}, {"ISK", 0}, {"JMD", 2}, {"JOD", 3}, {"JPY", 0},
    {"KES", 2}, {"KGS", 2}, {"KHR", 2}, {"KMF", 0}, {"KPW", 2}, {"KRW", 0}, {"KWD", 3}, {"KYD", 2},
    {"KZT", 2}, {"LAK", 2}, {"LBP", 2}, {"LKR", 2}, {"LRD", 2}, {"LSL", 2}, {"LYD", 3}, {"MAD", 2},
    {"MDL", 2}, {"MGA", 2}, {"MKD", 2}, {"MMK", 2}, {"MNT", 2}, {"MOP", 2}, {"MRU", 2}, {"MUR", 2},
    {"MVR", 2}, {"MWK", 2}, {"MXN", 2}, {"MXV", 2}, {"MYR", 2}, {"MZN", 2}, {"NAD", 2}, {"NGN", 2},
    {"NIO", 2}, {"NOK", 2}, {"NPR", 2}, {"NZD", 2}, {"OMR", 3}, {"PAB", 2}, {"PEN", 2}, {"PGK", 2},
    {"PHP", 2}, {"PKR", 2}, {"PLN", 2}, {"PYG", 0}, {"QAR", 2}, {"RON", 2}, {"RSD", 2}, {"RUB", 2},
    {"RWF", 0}, {"SAR", 2}, {"SBD", 2}, {"SCR", 2}, {"SDG", 2}, {"SEK", 2}, {"SGD", 2}, {"SHP", 2},
    {"SLE", 2}, {"SLL", 2}, {"SOS", 2}, {"SRD", 2}, {"SSP", 2}, {"STN", 2}, {"SVC", 2}, {"SYP", 2},
    {"SZL", 2}, {"THB", 2}, {"TJS", 2}, {"TMT", 2}, {"TND", 3}, {"TOP", 2}, {"TRY", 2}, {"TTD", 2},
    {"TWD", 2}, {"TZS", 2}, {"UAH", 2}, {"UGX", 0}, {"USD", 2}, {"USN", 2}, {"UYI", 0}, {"UYU", 2},
    {"UYW", 4}, {"UZS", 2}, {"VED", 2}, {"VES", 2}, {"VND", 0}, {"VUV", 0}, {"WST", 2}, {"XAF", 0},
    {"XCD", 2}, {"XCG", 2}, {"XOF", 0}, {"XPF", 0}, {"YER", 2}, {"ZAR", 2}, {"ZMW", 2}, {"ZWG", 2},
    {"ZWL", 2},
};

constexpr bool CodeLess(const CurrencyInfo& a, const CurrencyInfo& b) { return a.code < b.code; }
static_assert(std::is_sorted(std::begin(kCurrencies), std::end(kCurrencies), CodeLess));
static_assert(std::adjacent_find(std::begin(kCurrencies), std::end(kCurrencies),
                                 [](const CurrencyInfo& a, const CurrencyInfo& b) {
                                   return a.code == b.code;
                                 }) == std::end(kCurrencies));

// `c` as it goes into a message: 'x', or '\xNN' for a control byte.
std::string QuoteChar(char c) {
  std::string q = QuoteForMessage(std::string_view(&c, 1));
  q.front() = '\'';
  q.back() = '\'';
  return q;
}

Status Invalid(std::string_view decimal, std::string_view currency, std::string_view reason) {
  std::string m = QuoteForMessage(decimal);
  m += " is not a valid ";
  m += currency;
  m += " amount: ";
  m += reason;
  return Status::Invalid(std::move(m));
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::optional<int> CurrencyExponent(std::string_view currency) {
  const auto* it = std::lower_bound(
      std::begin(kCurrencies), std::end(kCurrencies), currency,
      [](const CurrencyInfo& info, std::string_view code) { return info.code < code; });
  if (it == std::end(kCurrencies) || it->code != currency) return std::nullopt;
  return it->exponent;
}

Result<std::int64_t> ParseMoney(std::string_view decimal, std::string_view currency) {
  const std::optional<int> exponent = CurrencyExponent(currency);
  if (!exponent) {
    return Status::Invalid("unknown currency " + QuoteForMessage(currency) + " for amount " +
                           QuoteForMessage(decimal) +
                           " (expected an active ISO 4217 code such as USD)");
  }
  const int exp = *exponent;
  if (decimal.empty()) return Invalid(decimal, currency, "empty");

  std::size_t i = 0;
  bool negative = false;
  if (decimal[0] == '-' || decimal[0] == '+') {
    negative = decimal[0] == '-';
    i = 1;
  }
  if (i == decimal.size()) return Invalid(decimal, currency, "a sign needs digits after it");
  if (decimal[i] == '.') {
    return Invalid(decimal, currency, "a leading '.' needs a digit before it (write 0.5, not .5)");
  }

  // Accumulate every digit that counts (integer part and the first `exp` fraction digits) as
  // one number of minor units. The limit is 2^63 so that INT64_MIN itself parses.
  constexpr std::uint64_t kLimit = std::uint64_t{1} << 63;
  std::uint64_t magnitude = 0;
  bool overflow = false;
  auto push_digit = [&](char c) {
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (overflow || magnitude > (kLimit - d) / 10) {
      overflow = true;
    } else {
      magnitude = magnitude * 10 + d;
    }
  };

  for (; i < decimal.size() && IsDigit(decimal[i]); ++i) push_digit(decimal[i]);
  std::size_t fraction_digits = 0;
  bool nonzero_excess = false;
  if (i < decimal.size() && decimal[i] == '.') {
    ++i;
    if (i == decimal.size()) {
      return Invalid(decimal, currency,
                     "a trailing '.' needs a digit after it (write 12 or 12.0, not 12.)");
    }
    for (; i < decimal.size() && IsDigit(decimal[i]); ++i) {
      if (fraction_digits < static_cast<std::size_t>(exp)) {
        push_digit(decimal[i]);
      } else if (decimal[i] != '0') {
        nonzero_excess = true;
      }
      ++fraction_digits;
    }
    if (fraction_digits == 0) {
      return Invalid(decimal, currency, "'.' must be followed by digits");
    }
  }
  if (i < decimal.size()) {
    std::string reason = "unexpected character " + QuoteChar(decimal[i]) + " at position " +
                         std::to_string(i) +
                         " (only an optional sign, digits and one '.' are allowed; no spaces, "
                         "thousands separators or exponents)";
    return Invalid(decimal, currency, reason);
  }
  if (nonzero_excess) {
    std::string m = QuoteForMessage(decimal) + " has " + std::to_string(fraction_digits) +
                    " decimal places, " + std::string(currency) + " allows " + std::to_string(exp);
    return Status::Invalid(std::move(m));
  }
  // Scale by the fraction digits that were not written ("12" USD is 1200 minor units).
  for (std::size_t k = fraction_digits; k < static_cast<std::size_t>(exp); ++k) push_digit('0');
  if (overflow || (!negative && magnitude == kLimit)) {
    return Invalid(decimal, currency,
                   "out of range (beyond a signed 64-bit count of minor units, about 9.2e18)");
  }
  if (negative) return static_cast<std::int64_t>(0 - magnitude);  // two's complement, C++20
  return static_cast<std::int64_t>(magnitude);
}

std::string FormatMoney(std::int64_t minor_units, std::string_view currency) {
  const int exp = CurrencyExponent(currency).value_or(2);
  const bool negative = minor_units < 0;
  // Unsigned negation: well defined for INT64_MIN too.
  std::uint64_t magnitude = negative ? 0 - static_cast<std::uint64_t>(minor_units)
                                     : static_cast<std::uint64_t>(minor_units);

  // 20 digits of uint64, a '.', a sign and padding zeros fit comfortably.
  char buf[32];
  char* const end = buf + sizeof(buf);
  char* p = end;
  int written = 0;
  // At least exp + 1 digits so that 5 cents prints as "0.05".
  while (magnitude != 0 || written <= exp) {
    if (exp > 0 && written == exp) *--p = '.';
    *--p = static_cast<char>('0' + magnitude % 10);
    magnitude /= 10;
    ++written;
  }
  if (negative) *--p = '-';
  return std::string(p, static_cast<std::size_t>(end - p));
}

std::string_view JsonNumberToDecimal(std::string_view tok, std::string_view* decimal,
                                     std::string* scratch) {
  const std::size_t n = tok.size();
  std::size_t i = 0;
  const bool negative = i < n && tok[i] == '-';
  if (negative) ++i;
  const std::size_t int_begin = i;
  if (i < n && tok[i] == '0') {
    ++i;
  } else if (i < n && IsDigit(tok[i])) {
    while (i < n && IsDigit(tok[i])) ++i;
  } else {
    return "invalid number";
  }
  const std::size_t int_end = i;
  std::size_t frac_begin = i, frac_end = i;
  if (i < n && tok[i] == '.') {
    frac_begin = ++i;
    while (i < n && IsDigit(tok[i])) ++i;
    frac_end = i;
    if (frac_end == frac_begin) return "invalid number";
  }
  bool has_exp = false;
  long exp = 0;
  if (i < n && (tok[i] == 'e' || tok[i] == 'E')) {
    has_exp = true;
    ++i;
    bool exp_negative = false;
    if (i < n && (tok[i] == '+' || tok[i] == '-')) exp_negative = tok[i++] == '-';
    if (i >= n || !IsDigit(tok[i])) return "invalid number";
    while (i < n && IsDigit(tok[i])) {
      if (exp < 100000) exp = exp * 10 + (tok[i] - '0');
      ++i;
    }
    if (exp_negative) exp = -exp;
  }
  if (i != n) return "invalid number";
  if (decimal == nullptr) return {};
  if (!has_exp) {
    *decimal = tok;
    return {};
  }
  if (exp > 64 || exp < -64) return "exponent out of range for money";
  // digits = integer digits + fraction digits; the decimal point sits after `point` digits.
  std::string digits(tok.substr(int_begin, int_end - int_begin));
  digits.append(tok.substr(frac_begin, frac_end - frac_begin));
  long point = static_cast<long>(int_end - int_begin) + exp;
  std::string& s = *scratch;
  s.clear();
  if (negative) s += '-';
  if (point <= 0) {
    s += "0.";
    s.append(static_cast<std::size_t>(-point), '0');
    s += digits;
  } else if (static_cast<std::size_t>(point) >= digits.size()) {
    s += digits;
    s.append(static_cast<std::size_t>(point) - digits.size(), '0');
  } else {
    s.append(digits, 0, static_cast<std::size_t>(point));
    s += '.';
    s.append(digits, static_cast<std::size_t>(point));
  }
  // Drop leading zeros of the integer part ("000.5" -> "0.5", "0025" -> "25").
  std::size_t first = negative ? 1 : 0;
  std::size_t z = first;
  while (z + 1 < s.size() && s[z] == '0' && s[z + 1] != '.') ++z;
  s.erase(first, z - first);
  *decimal = s;
  return {};
}

}  // namespace waybill
