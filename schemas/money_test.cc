#include "schemas/money.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>

namespace waybill {
namespace {

constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

std::int64_t Parse(std::string_view decimal, std::string_view currency) {
  Result<std::int64_t> r = ParseMoney(decimal, currency);
  INFO("ParseMoney(\"", std::string(decimal), "\", ", std::string(currency),
       "): ", r.status().ToString());
  REQUIRE(r.ok());
  return *r;
}

// The error message of a rejected parse; fails the test if the parse succeeded.
std::string Rejected(std::string_view decimal, std::string_view currency) {
  Result<std::int64_t> r = ParseMoney(decimal, currency);
  INFO("ParseMoney(\"", std::string(decimal), "\", ", std::string(currency), ") should fail");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == ErrorCode::kInvalidArgument);
  return r.status().message();
}

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

// Independent reference for FormatMoney: integer division on a 128-bit copy of the value.
std::string ReferenceFormat(std::int64_t v, int exp) {
  __int128 m = v;
  const bool negative = m < 0;
  if (negative) m = -m;
  __int128 scale = 1;
  for (int i = 0; i < exp; ++i) scale *= 10;
  const auto whole = static_cast<unsigned long long>(m / scale);
  const auto frac = static_cast<unsigned long long>(m % scale);
  std::string out = negative ? "-" : "";
  out += std::to_string(whole);
  if (exp > 0) {
    std::string f = std::to_string(frac);
    out += '.';
    out += std::string(static_cast<std::size_t>(exp) - f.size(), '0') + f;
  }
  return out;
}

TEST_CASE("CurrencyExponent knows the ISO 4217 minor units") {
  CHECK(CurrencyExponent("USD") == 2);
  CHECK(CurrencyExponent("EUR") == 2);
  CHECK(CurrencyExponent("AED") == 2);  // first entry of the table
  CHECK(CurrencyExponent("ZWL") == 2);  // last entry
  CHECK(CurrencyExponent("ZWG") == 2);
  CHECK(CurrencyExponent("XCG") == 2);
  for (const char* code : {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
                           "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"}) {
    INFO(std::string(code));
    CHECK(CurrencyExponent(code) == 0);
  }
  for (const char* code : {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"}) {
    INFO(std::string(code));
    CHECK(CurrencyExponent(code) == 3);
  }
  CHECK(CurrencyExponent("CLF") == 4);
  CHECK(CurrencyExponent("UYW") == 4);
  // Metals, SDR, test and "no currency" codes have no minor unit.
  for (const char* code : {"XAU", "XAG", "XPT", "XPD", "XDR", "XTS", "XXX", "XBA", "XSU", "XUA"}) {
    INFO(std::string(code));
    CHECK_FALSE(CurrencyExponent(code).has_value());
  }
  CHECK_FALSE(CurrencyExponent("usd").has_value());
  CHECK_FALSE(CurrencyExponent("Usd").has_value());
  CHECK_FALSE(CurrencyExponent("").has_value());
  CHECK_FALSE(CurrencyExponent("US").has_value());
  CHECK_FALSE(CurrencyExponent("USDX").has_value());
  CHECK_FALSE(CurrencyExponent("AAA").has_value());  // before the first entry
  CHECK_FALSE(CurrencyExponent("ZZZ").has_value());  // after the last entry
  CHECK_FALSE(CurrencyExponent("HRK").has_value());  // withdrawn 2023
}

TEST_CASE("ParseMoney is exact for two-digit currencies") {
  CHECK(Parse("2025.75", "USD") == 202575);
  CHECK(Parse("12", "USD") == 1200);
  CHECK(Parse("12.5", "USD") == 1250);
  CHECK(Parse("-12.5", "USD") == -1250);
  CHECK(Parse("+12.50", "USD") == 1250);
  CHECK(Parse("-0.5", "USD") == -50);
  CHECK(Parse("0.05", "USD") == 5);
  CHECK(Parse("0", "USD") == 0);
  CHECK(Parse("-0", "USD") == 0);
  CHECK(Parse("-0.00", "USD") == 0);
  CHECK(Parse("007.10", "EUR") == 710);
  // A float would turn 0.29 into 28 cents and 1.15 into 114.
  CHECK(Parse("0.29", "USD") == 29);
  CHECK(Parse("1.15", "USD") == 115);
  CHECK(Parse("4.35", "USD") == 435);
  // Extra fraction digits are fine while they are zero.
  CHECK(Parse("1.230", "USD") == 123);
  CHECK(Parse("1.2300000000000000000000000", "USD") == 123);
  // Leading zeros do not count toward overflow.
  CHECK(Parse("000000000000000000000000000001.00", "USD") == 100);
}

TEST_CASE("ParseMoney with exponent 0, 3 and 4") {
  CHECK(Parse("100", "JPY") == 100);
  CHECK(Parse("100.0", "JPY") == 100);
  CHECK(Parse("100.000", "JPY") == 100);
  CHECK(Parse("-1500", "JPY") == -1500);
  CHECK(Parse("1.234", "KWD") == 1234);
  CHECK(Parse("1.2", "KWD") == 1200);
  CHECK(Parse("5", "KWD") == 5000);
  CHECK(Parse("-0.001", "BHD") == -1);
  CHECK(Parse("1.2345", "CLF") == 12345);
  CHECK(Parse("1", "CLF") == 10000);
  CHECK(Parse("0.0001", "UYW") == 1);

  std::string m = Rejected("100.5", "JPY");
  CHECK(m == "\"100.5\" has 1 decimal places, JPY allows 0");
  m = Rejected("1.2345", "KWD");
  CHECK(m == "\"1.2345\" has 4 decimal places, KWD allows 3");
  m = Rejected("1.23451", "CLF");
  CHECK(m == "\"1.23451\" has 5 decimal places, CLF allows 4");
}

TEST_CASE("ParseMoney rejects extra non-zero decimals with a clear message") {
  CHECK(Rejected("1.234", "USD") == "\"1.234\" has 3 decimal places, USD allows 2");
  CHECK(Rejected("1.2301", "USD") == "\"1.2301\" has 4 decimal places, USD allows 2");
  CHECK(Rejected("-0.001", "EUR") == "\"-0.001\" has 3 decimal places, EUR allows 2");
}

TEST_CASE("ParseMoney rejects malformed amounts, naming value and currency") {
  struct Case {
    const char* text;
    const char* reason;
  };
  const Case cases[] = {
      {"", "empty"},
      {"-", "sign"},
      {"+", "sign"},
      {".", "leading '.'"},
      {".5", "leading '.'"},
      {"-.5", "leading '.'"},
      {"12.", "trailing '.'"},
      {"12.x", "'.' must be followed by digits"},
      {"1.2.3", "unexpected character '.'"},
      {" 12", "unexpected character ' ' at position 0"},
      {"12 ", "unexpected character ' ' at position 2"},
      {"1 000", "unexpected character ' '"},
      {"1,000.00", "unexpected character ','"},
      {"1000,00", "unexpected character ','"},
      {"1e3", "unexpected character 'e'"},
      {"1E3", "unexpected character 'E'"},
      {"NaN", "unexpected character 'N' at position 0"},
      {"inf", "unexpected character 'i'"},
      {"--1", "unexpected character '-'"},
      {"+-1", "unexpected character '-'"},
      {"0x10", "unexpected character 'x'"},
      {"$12", "unexpected character '$'"},
      {"12USD", "unexpected character 'U'"},
  };
  for (const Case& c : cases) {
    const std::string m = Rejected(c.text, "USD");
    INFO("text: \"", std::string(c.text), "\" message: ", m);
    CHECK(Contains(m, std::string("\"") + c.text));
    CHECK(Contains(m, "USD"));
    CHECK(Contains(m, c.reason));
  }
}

TEST_CASE("ParseMoney escapes control characters in its messages") {
  CHECK(Rejected("1\n", "USD") ==
        "\"1\\x0a\" is not a valid USD amount: unexpected character '\\x0a' at position 1 (only "
        "an optional sign, digits and one '.' are allowed; no spaces, thousands separators or "
        "exponents)");
}

TEST_CASE("ParseMoney rejects unknown currencies, naming them") {
  std::string m = Rejected("12.00", "XYZ");
  CHECK(Contains(m, "unknown currency \"XYZ\""));
  CHECK(Contains(m, "\"12.00\""));
  m = Rejected("12.00", "usd");
  CHECK(Contains(m, "unknown currency \"usd\""));
  m = Rejected("1", "");
  CHECK(Contains(m, "unknown currency \"\""));
  m = Rejected("1", "XAU");
  CHECK(Contains(m, "unknown currency \"XAU\""));
}

TEST_CASE("ParseMoney covers exactly the int64 range") {
  CHECK(Parse("92233720368547758.07", "USD") == kMax);
  CHECK(Parse("-92233720368547758.08", "USD") == kMin);
  CHECK(Parse("9223372036854775807", "JPY") == kMax);
  CHECK(Parse("-9223372036854775808", "JPY") == kMin);
  CHECK(Parse("922337203685477.5807", "CLF") == kMax);

  for (const char* text : {"92233720368547758.08", "-92233720368547758.09", "92233720368547759",
                           "100000000000000000", "99999999999999999999999999"}) {
    INFO(std::string(text));
    CHECK(Contains(Rejected(text, "USD"), "out of range"));
  }
  CHECK(Contains(Rejected("9223372036854775808", "JPY"), "out of range"));
  CHECK(Contains(Rejected("-9223372036854775809", "JPY"), "out of range"));
  CHECK(Contains(Rejected("18446744073709551616", "JPY"), "out of range"));  // 2^64 wraps to 0
  CHECK(Contains(Rejected("18446744073709551615", "JPY"), "out of range"));
  // The implied zeros overflow too: 10^15 KWD is 10^18 fils, 10^16 KWD is not representable.
  CHECK(Parse("1000000000000000", "KWD") == 1'000'000'000'000'000'000);
  CHECK(Contains(Rejected("10000000000000000", "KWD"), "out of range"));
  CHECK(Contains(Rejected("922337203685478", "CLF"), "out of range"));
  // A syntax error is reported ahead of overflow.
  CHECK(Contains(Rejected("99999999999999999999e3", "USD"), "unexpected character 'e'"));
}

TEST_CASE("FormatMoney writes exactly the exponent's digits") {
  CHECK(FormatMoney(202575, "USD") == "2025.75");
  CHECK(FormatMoney(1500, "JPY") == "1500");
  CHECK(FormatMoney(-1500, "JPY") == "-1500");
  CHECK(FormatMoney(0, "JPY") == "0");
  CHECK(FormatMoney(-50, "USD") == "-0.50");
  CHECK(FormatMoney(5, "USD") == "0.05");
  CHECK(FormatMoney(-5, "USD") == "-0.05");
  CHECK(FormatMoney(0, "USD") == "0.00");
  CHECK(FormatMoney(100, "USD") == "1.00");
  CHECK(FormatMoney(1234, "KWD") == "1.234");
  CHECK(FormatMoney(1, "KWD") == "0.001");
  CHECK(FormatMoney(12345, "CLF") == "1.2345");
  CHECK(FormatMoney(-1, "CLF") == "-0.0001");
  CHECK(FormatMoney(kMax, "USD") == "92233720368547758.07");
  CHECK(FormatMoney(kMin, "USD") == "-92233720368547758.08");
  CHECK(FormatMoney(kMin, "JPY") == "-9223372036854775808");
  CHECK(FormatMoney(kMin, "CLF") == "-922337203685477.5808");
  // An unknown currency is formatted with two digits.
  CHECK(FormatMoney(12345, "XYZ") == "123.45");
  CHECK(FormatMoney(12345, "") == "123.45");
}

TEST_CASE("FormatMoney then ParseMoney round-trips random values") {
  std::mt19937_64 rng(20250301);
  const char* currencies[] = {"USD", "JPY", "KWD", "CLF", "EUR", "BHD", "VND"};
  std::uniform_int_distribution<std::int64_t> any(kMin, kMax);
  std::uniform_int_distribution<std::int64_t> small(-100000, 100000);
  std::uniform_int_distribution<int> bits(0, 63);
  int checked = 0;
  for (int i = 0; i < 20000; ++i) {
    std::int64_t v = 0;
    switch (i % 3) {
      case 0:
        v = any(rng);
        break;
      case 1:
        v = small(rng);
        break;
      default:
        v = any(rng) >> bits(rng);
        break;  // every magnitude
    }
    for (const char* currency : currencies) {
      const std::string text = FormatMoney(v, currency);
      const int exp = *CurrencyExponent(currency);
      INFO("value ", v, " currency ", std::string(currency), " text ", text);
      REQUIRE(text == ReferenceFormat(v, exp));
      Result<std::int64_t> back = ParseMoney(text, currency);
      REQUIRE(back.ok());
      REQUIRE(*back == v);
      // Extra zero digits and an explicit '+' parse to the same value.
      if (v >= 0) {
        Result<std::int64_t> plus = ParseMoney("+" + text + (exp > 0 ? "000" : ".000"), currency);
        REQUIRE(plus.ok());
        REQUIRE(*plus == v);
      }
      ++checked;
    }
  }
  CHECK(checked == 20000 * 7);
  for (std::int64_t v : {kMin, kMin + 1, kMax, kMax - 1, std::int64_t{0}, std::int64_t{-1}}) {
    for (const char* currency : currencies) {
      CHECK(Parse(FormatMoney(v, currency), currency) == v);
    }
  }
}

}  // namespace
}  // namespace waybill
