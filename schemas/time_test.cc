#include "schemas/time.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <limits>
#include <random>
#include <string>

namespace waybill {
namespace {

constexpr std::int64_t kSec = 1'000'000'000;
constexpr UnixNanos kMin = std::numeric_limits<UnixNanos>::min();
constexpr UnixNanos kMax = std::numeric_limits<UnixNanos>::max();

ParsedTime Parse(std::string_view text) {
  Result<ParsedTime> r = ParseRfc3339(text);
  INFO("ParseRfc3339(\"", std::string(text), "\"): ", r.status().ToString());
  REQUIRE(r.ok());
  return *r;
}

UnixNanos ParseUtc(std::string_view text) { return Parse(text).utc; }

// The error message of a rejected parse; fails the test if the parse succeeded.
std::string Rejected(std::string_view text) {
  Result<ParsedTime> r = ParseRfc3339(text);
  INFO("ParseRfc3339(\"", std::string(text), "\") should fail");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == ErrorCode::kInvalidArgument);
  return r.status().message();
}

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

// Reference calendar arithmetic, written independently of <chrono>: days since 1970-01-01.
bool IsLeap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
std::int64_t DaysBeforeYear(std::int64_t y) {
  const std::int64_t p = y - 1;
  return 365 * p + p / 4 - p / 100 + p / 400;
}
std::int64_t ReferenceDays(std::int64_t y, int m, int d) {
  static constexpr int kCumulative[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
  std::int64_t days = DaysBeforeYear(y) - DaysBeforeYear(1970) + kCumulative[m - 1] + (d - 1);
  if (m > 2 && IsLeap(y)) ++days;
  return days;
}
int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Reference canonical formatting through the C library's gmtime_r.
std::string ReferenceFormat(UnixNanos t) {
  std::int64_t secs = t / kSec;
  std::int64_t nanos = t % kSec;
  if (nanos < 0) {
    nanos += kSec;
    --secs;
  }
  const std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  REQUIRE(gmtime_r(&tt, &tm) != nullptr);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  std::string out = buf;
  if (nanos != 0) {
    std::snprintf(buf, sizeof(buf), ".%09lld", static_cast<long long>(nanos));
    std::string frac = buf;
    while (frac.back() == '0') frac.pop_back();
    out += frac;
  }
  return out + "Z";
}

TEST_CASE("ParseRfc3339 reads UTC times") {
  CHECK(ParseUtc("1970-01-01T00:00:00Z") == 0);
  CHECK(ParseUtc("2025-03-01T08:00:00Z") == 1740816000 * kSec);
  CHECK(ParseUtc("2000-01-01T00:00:00Z") == 946684800 * kSec);
  CHECK(ParseUtc("2025-03-01t08:00:00z") == 1740816000 * kSec);  // lower case 't' and 'z'
  const ParsedTime p = Parse("2025-03-01T08:00:00Z");
  CHECK(p.offset_minutes == 0);
  CHECK(UnixNanosFromCivil(2025, 3, 1, 8, 0, 0, 0) == 1740816000 * kSec);
}

TEST_CASE("ParseRfc3339 converts offsets: utc = local - offset") {
  ParsedTime p = Parse("2025-03-30T02:30:00+02:00");
  CHECK(p.offset_minutes == 120);
  CHECK(p.utc == 1743294600 * kSec);
  CHECK(FormatUtc(p.utc) == "2025-03-30T00:30:00Z");

  p = Parse("2025-01-01T19:00:00-05:00");  // crosses midnight and the year forward
  CHECK(p.offset_minutes == -300);
  CHECK(FormatUtc(p.utc) == "2025-01-02T00:00:00Z");

  p = Parse("2025-01-01T01:00:00+05:45");  // crosses the year backward
  CHECK(p.offset_minutes == 345);
  CHECK(FormatUtc(p.utc) == "2024-12-31T19:15:00Z");

  p = Parse("2024-03-01T00:00:00+14:00");  // back into a leap day
  CHECK(p.offset_minutes == 840);
  CHECK(FormatUtc(p.utc) == "2024-02-29T10:00:00Z");

  p = Parse("2025-06-15T12:00:00-09:30");
  CHECK(p.offset_minutes == -570);
  CHECK(FormatUtc(p.utc) == "2025-06-15T21:30:00Z");

  p = Parse("2025-06-15T12:00:00+23:59");
  CHECK(p.offset_minutes == 23 * 60 + 59);
  CHECK(FormatUtc(p.utc) == "2025-06-14T12:01:00Z");

  p = Parse("2025-06-15T12:00:00-00:00");
  CHECK(p.offset_minutes == 0);
  CHECK(FormatUtc(p.utc) == "2025-06-15T12:00:00Z");

  // The same instant written three ways.
  CHECK(ParseUtc("2025-03-01T09:00:00+01:00") == ParseUtc("2025-03-01T08:00:00Z"));
  CHECK(ParseUtc("2025-03-01T03:00:00-05:00") == ParseUtc("2025-03-01T08:00:00Z"));
}

TEST_CASE("ParseRfc3339 fractions scale to nanoseconds") {
  const UnixNanos base = 1740816000 * kSec;
  CHECK(ParseUtc("2025-03-01T08:00:00.5Z") == base + 500'000'000);
  CHECK(ParseUtc("2025-03-01T08:00:00.05Z") == base + 50'000'000);
  CHECK(ParseUtc("2025-03-01T08:00:00.123Z") == base + 123'000'000);
  CHECK(ParseUtc("2025-03-01T08:00:00.123456Z") == base + 123'456'000);
  CHECK(ParseUtc("2025-03-01T08:00:00.123456789Z") == base + 123'456'789);
  CHECK(ParseUtc("2025-03-01T08:00:00.000000001Z") == base + 1);
  CHECK(ParseUtc("2025-03-01T08:00:00.000000000Z") == base);
  CHECK(ParseUtc("2025-03-01T10:00:00.25+02:00") == base + 250'000'000);
}

TEST_CASE("times before 1970 parse and format with floor division") {
  CHECK(ParseUtc("1969-12-31T23:59:59Z") == -kSec);
  CHECK(ParseUtc("1969-12-31T23:59:59.5Z") == -500'000'000);
  CHECK(ParseUtc("1969-12-31T23:59:59.999999999Z") == -1);
  CHECK(ParseUtc("1969-07-20T20:17:40Z") == -14182940 * kSec);
  CHECK(ParseUtc("1900-01-01T00:00:00Z") == -2208988800 * kSec);
  CHECK(ParseUtc("1970-01-01T00:30:00+01:00") == -30 * 60 * kSec);

  CHECK(FormatUtc(-1) == "1969-12-31T23:59:59.999999999Z");
  CHECK(FormatUtc(-500'000'000) == "1969-12-31T23:59:59.5Z");
  CHECK(FormatUtc(-kSec) == "1969-12-31T23:59:59Z");
  CHECK(FormatUtc(-kSec - 1) == "1969-12-31T23:59:58.999999999Z");
  CHECK(FormatUtc(-86400 * kSec) == "1969-12-31T00:00:00Z");
  CHECK(FormatUtc(-86400 * kSec - 1) == "1969-12-30T23:59:59.999999999Z");
  CHECK(FormatUtc(-2208988800 * kSec) == "1900-01-01T00:00:00Z");
  CHECK(FormatUtc(-14182940 * kSec + 250'000'000) == "1969-07-20T20:17:40.25Z");
}

TEST_CASE("leap years follow the Gregorian rules") {
  CHECK(ParseUtc("2024-02-29T12:00:00Z") == 1709208000 * kSec);
  CHECK(ParseUtc("2000-02-29T00:00:00Z") == 951782400 * kSec);
  CHECK(Rejected("1900-02-29T00:00:00Z") ==
        "\"1900-02-29T00:00:00Z\": day 29 does not exist in 1900-02");
  CHECK(Rejected("2025-02-29T10:00:00Z") ==
        "\"2025-02-29T10:00:00Z\": day 29 does not exist in 2025-02");
  CHECK(Rejected("2100-02-29T00:00:00Z") ==
        "\"2100-02-29T00:00:00Z\": day 29 does not exist in 2100-02");
  CHECK(Rejected("2024-02-30T00:00:00Z") ==
        "\"2024-02-30T00:00:00Z\": day 30 does not exist in 2024-02");
  CHECK(FormatUtc(1709208000 * kSec) == "2024-02-29T12:00:00Z");
  CHECK(FormatUtc(951782400 * kSec) == "2000-02-29T00:00:00Z");
  CHECK(FormatUtc(951782400 * kSec + 86400 * kSec) == "2000-03-01T00:00:00Z");
  CHECK(FormatUtc(ParseUtc("2100-02-28T23:59:59Z") + kSec) == "2100-03-01T00:00:00Z");
  CHECK(ValidateDate("2024-02-29").ok());
  CHECK(ValidateDate("2000-02-29").ok());
  CHECK_FALSE(ValidateDate("1900-02-29").ok());
  CHECK_FALSE(ValidateDate("2023-02-29").ok());
}

TEST_CASE("ParseRfc3339 rejects malformed and impossible times") {
  struct Case {
    const char* text;
    const char* reason;
  };
  const Case cases[] = {
      {"", "the year needs 4 digits"},
      {"2025-03-01", "expected 'T' between the date and the time at position 10, found the end"},
      {"2025-03-01T08:00:00", "missing UTC offset"},
      {"2025-03-01T08:00", "expected ':' after the minute at position 16"},
      {"2025-03-01 08:00:00Z", "expected 'T' between the date and the time at position 10"},
      {"2025-03-01T08:00:00UTC", "expected a UTC offset (Z, +HH:MM or -HH:MM) at position 19"},
      {"2025-03-01T08:00:00+0200", "expected ':' in the offset at position 22"},
      {"2025-03-01T08:00:00+2:00", "the offset hour needs 2 digits"},
      {"2025-03-01T08:00:00+02", "expected ':' in the offset at position 22, found the end"},
      {"2025-03-01T08:00:00+24:00", "offset hour 24 is beyond +-23:59"},
      {"2025-03-01T08:00:00-25:00", "offset hour 25 is beyond +-23:59"},
      {"2025-03-01T08:00:00+23:60", "offset minute 60 is not 00-59"},
      {"2025-03-01T08:00:00ZZ", "unexpected \"Z\" after the UTC offset"},
      {"2025-03-01T08:00:00Z ", "unexpected \" \" after the UTC offset"},
      {"2025-03-01T08:00:00+02:00:00", "unexpected \":00\" after the UTC offset"},
      {"2025-03-01T24:00:00Z", "hour 24 is not 00-23"},
      {"2025-03-01T23:60:00Z", "minute 60 is not 00-59"},
      {"2025-03-01T23:59:60Z", "second 60 is not 00-59"},
      {"2025-03-01T8:00:00Z", "the hour needs 2 digits"},
      {"2025-03-01T08:00:00.Z", "'.' must be followed by 1 to 9 fraction digits"},
      {"2025-03-01T08:00:00.1234567890Z", "the fraction has 10 digits"},
      {"2025-03-01T08:00:00,5Z", "expected a UTC offset (Z, +HH:MM or -HH:MM) at position 19"},
      {"25-03-01T08:00:00Z", "the year needs 4 digits"},
      {"+2025-03-01T08:00:00Z", "the year needs 4 digits"},
      {"2025-3-01T08:00:00Z", "the month needs 2 digits"},
      {"2025/03/01T08:00:00Z", "expected '-' after the year at position 4, found '/'"},
      {"2025-13-01T08:00:00Z", "month 13 is not 01-12"},
      {"2025-00-01T08:00:00Z", "month 00 is not 01-12"},
      {"2025-01-00T08:00:00Z", "day 00 does not exist in 2025-01"},
      {"2025-01-32T08:00:00Z", "day 32 does not exist in 2025-01"},
      {"2025-04-31T08:00:00Z", "day 31 does not exist in 2025-04"},
      {"0000-01-01T00:00:00Z", "year 0000 is not 0001-9999"},
      {"2025-03-01T08:00:00\n",
       "expected a UTC offset (Z, +HH:MM or -HH:MM) at position 19, "
       "found '\\x0a'"},
  };
  for (const Case& c : cases) {
    const std::string m = Rejected(c.text);
    INFO("text: \"", std::string(c.text), "\" message: ", m);
    CHECK(Contains(m, c.reason));
  }
  // The message starts with the quoted text.
  CHECK(Rejected("2025-03-01T24:00:00Z") == "\"2025-03-01T24:00:00Z\": hour 24 is not 00-23");
}

TEST_CASE("ParseRfc3339 rejects valid text outside the UnixNanos span") {
  CHECK(ParseUtc("2262-04-11T23:47:16.854775807Z") == kMax);
  CHECK(ParseUtc("1677-09-21T00:12:43.145224192Z") == kMin);
  CHECK(ParseUtc("2262-04-12T00:00:00+01:00") == ParseUtc("2262-04-11T23:00:00Z"));
  CHECK(ParseUtc("1677-09-21T00:00:00-01:00") == ParseUtc("1677-09-21T01:00:00Z"));
  for (const char* text :
       {"2262-04-11T23:47:16.854775808Z", "1677-09-21T00:12:43.145224191Z",
        "2262-04-11T23:47:16.854775807-00:01", "1677-09-21T00:13:00+00:01", "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999999Z", "1500-06-01T12:00:00Z", "3000-01-01T00:00:00+05:00"}) {
    INFO(std::string(text));
    CHECK(Contains(Rejected(text), "outside the range a UnixNanos can hold"));
  }
}

TEST_CASE("FormatUtc writes the canonical form, trimming the fraction") {
  CHECK(FormatUtc(0) == "1970-01-01T00:00:00Z");
  CHECK(FormatUtc(1740816000 * kSec) == "2025-03-01T08:00:00Z");
  CHECK(FormatUtc(1740816000 * kSec + 500'000'000) == "2025-03-01T08:00:00.5Z");
  CHECK(FormatUtc(1740816000 * kSec + 123'000'000) == "2025-03-01T08:00:00.123Z");
  CHECK(FormatUtc(1740816000 * kSec + 123'456'789) == "2025-03-01T08:00:00.123456789Z");
  CHECK(FormatUtc(1740816000 * kSec + 120'000'000) == "2025-03-01T08:00:00.12Z");
  CHECK(FormatUtc(1740816000 * kSec + 1'000) == "2025-03-01T08:00:00.000001Z");
  CHECK(FormatUtc(1740816000 * kSec + 1) == "2025-03-01T08:00:00.000000001Z");
  CHECK(FormatUtc(946684800 * kSec - 1) == "1999-12-31T23:59:59.999999999Z");
  CHECK(FormatUtc(kMax) == "2262-04-11T23:47:16.854775807Z");
  CHECK(FormatUtc(kMin) == "1677-09-21T00:12:43.145224192Z");

  std::string out = "at=";
  AppendUtc(1740816000 * kSec, &out);
  AppendUtc(-500'000'000, &out);
  CHECK(out == "at=2025-03-01T08:00:00Z1969-12-31T23:59:59.5Z");
}

TEST_CASE("FormatOffset and ParseOffset") {
  CHECK(FormatOffset(0) == "+00:00");
  CHECK(FormatOffset(120) == "+02:00");
  CHECK(FormatOffset(-300) == "-05:00");
  CHECK(FormatOffset(345) == "+05:45");
  CHECK(FormatOffset(-570) == "-09:30");
  CHECK(FormatOffset(-1) == "-00:01");
  CHECK(FormatOffset(23 * 60 + 59) == "+23:59");
  CHECK(FormatOffset(-(23 * 60 + 59)) == "-23:59");

  for (std::int32_t m = -(23 * 60 + 59); m <= 23 * 60 + 59; ++m) {
    const std::string text = FormatOffset(m);
    Result<std::int32_t> back = ParseOffset(text);
    INFO(std::string(text));
    REQUIRE(back.ok());
    REQUIRE(*back == m);
  }
  CHECK(*ParseOffset("Z") == 0);
  CHECK(*ParseOffset("z") == 0);
  CHECK(*ParseOffset("-00:00") == 0);

  for (const char* bad : {"", "+24:00", "-24:00", "+23:60", "02:00", "+0200", "+2:00", "+02:0",
                          "Z ", "UTC", "+02:00Z", " +02:00", "+02-00"}) {
    Result<std::int32_t> r = ParseOffset(bad);
    INFO(std::string(bad));
    REQUIRE_FALSE(r.ok());
    CHECK(Contains(r.status().message(), std::string("\"") + bad + "\": "));
  }
  CHECK(ParseOffset("+24:00").status().message() == "\"+24:00\": offset hour 24 is beyond +-23:59");
}

TEST_CASE("ValidateDate is strict") {
  CHECK(ValidateDate("2025-03-01").ok());
  CHECK(ValidateDate("0001-01-01").ok());
  CHECK(ValidateDate("9999-12-31").ok());
  struct Case {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      {"2025-02-29", "\"2025-02-29\": day 29 does not exist in 2025-02"},
      {"2025-13-01", "\"2025-13-01\": month 13 is not 01-12"},
      {"2025-04-31", "\"2025-04-31\": day 31 does not exist in 2025-04"},
      {"0000-01-01", "\"0000-01-01\": year 0000 is not 0001-9999"},
      {"2025-01-01T00:00:00Z",
       "\"2025-01-01T00:00:00Z\": unexpected \"T00:00:00Z\" after the date (expected YYYY-MM-DD)"},
      {"2025-1-01",
       "\"2025-1-01\": the month needs 2 digits: expected a digit at position 6, "
       "found '-'"},
      {"20250101", "\"20250101\": expected '-' after the year at position 4, found '0'"},
      {"",
       "\"\": the year needs 4 digits: expected a digit at position 0, found the end of the "
       "text"},
      {" 2025-01-01", "\" 2025-01-01\": the year needs 4 digits"},
  };
  for (const Case& c : cases) {
    Status s = ValidateDate(c.text);
    INFO(std::string(c.text));
    REQUIRE_FALSE(s.ok());
    CHECK(s.code() == ErrorCode::kInvalidArgument);
    CHECK(Contains(s.message(), c.message));
  }
}

TEST_CASE("UnixNanosFromCivil agrees with a reference calendar and saturates") {
  CHECK(UnixNanosFromCivil(1970, 1, 1, 0, 0, 0, 0) == 0);
  CHECK(UnixNanosFromCivil(1969, 12, 31, 23, 59, 59, 999'999'999) == -1);
  CHECK(UnixNanosFromCivil(2262, 4, 11, 23, 47, 16, 854'775'807) == kMax);
  CHECK(UnixNanosFromCivil(1677, 9, 21, 0, 12, 43, 145'224'192) == kMin);
  CHECK(UnixNanosFromCivil(2262, 4, 11, 23, 47, 16, 854'775'808) == kMax);
  CHECK(UnixNanosFromCivil(9999, 12, 31, 23, 59, 59, 0) == kMax);
  CHECK(UnixNanosFromCivil(1, 1, 1, 0, 0, 0, 0) == kMin);

  std::mt19937_64 rng(7);
  for (int i = 0; i < 20000; ++i) {
    const int y = std::uniform_int_distribution<int>(1678, 2261)(rng);
    const int mo = std::uniform_int_distribution<int>(1, 12)(rng);
    const int d = std::uniform_int_distribution<int>(1, DaysInMonth(y, mo))(rng);
    const int h = std::uniform_int_distribution<int>(0, 23)(rng);
    const int mi = std::uniform_int_distribution<int>(0, 59)(rng);
    const int s = std::uniform_int_distribution<int>(0, 59)(rng);
    const auto ns = std::uniform_int_distribution<std::uint32_t>(0, 999'999'999)(rng);
    const std::int64_t secs = ReferenceDays(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    INFO(y, "-", mo, "-", d, " ", h, ":", mi, ":", s, ".", ns);
    REQUIRE(UnixNanosFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d),
                               static_cast<unsigned>(h), static_cast<unsigned>(mi),
                               static_cast<unsigned>(s), ns) == secs * kSec + ns);
  }
}

TEST_CASE("FormatUtc then ParseRfc3339 round-trips random instants") {
  std::mt19937_64 rng(20250301);
  std::uniform_int_distribution<std::int64_t> any(kMin, kMax);
  std::uniform_int_distribution<int> shift(0, 63);
  for (int i = 0; i < 50000; ++i) {
    UnixNanos t = any(rng);
    if (i % 4 == 1) t >>= shift(rng);    // all magnitudes, both signs
    if (i % 4 == 2) t -= t % kSec;       // whole seconds
    if (i % 4 == 3) t -= t % 1'000'000;  // whole milliseconds
    const std::string text = FormatUtc(t);
    INFO("t=", t, " text=", text);
    REQUIRE(text == ReferenceFormat(t));
    Result<ParsedTime> back = ParseRfc3339(text);
    REQUIRE(back.ok());
    REQUIRE(back->utc == t);
    REQUIRE(back->offset_minutes == 0);
  }
  for (UnixNanos t : {kMin, kMin + 1, kMax, kMax - 1, UnixNanos{0}, UnixNanos{-1}, UnixNanos{1}}) {
    CHECK(ParseUtc(FormatUtc(t)) == t);
  }
}

TEST_CASE("ParseRfc3339 over random civil times in years 0001-9999 with offsets") {
  std::mt19937_64 rng(42);
  int in_range = 0;
  int out_of_range = 0;
  for (int i = 0; i < 50000; ++i) {
    // Half the draws land in the representable span, half anywhere in 0001-9999.
    const int y = i % 2 == 0 ? std::uniform_int_distribution<int>(1, 9999)(rng)
                             : std::uniform_int_distribution<int>(1677, 2262)(rng);
    const int mo = std::uniform_int_distribution<int>(1, 12)(rng);
    const int d = std::uniform_int_distribution<int>(1, DaysInMonth(y, mo))(rng);
    const int h = std::uniform_int_distribution<int>(0, 23)(rng);
    const int mi = std::uniform_int_distribution<int>(0, 59)(rng);
    const int s = std::uniform_int_distribution<int>(0, 59)(rng);
    const int digits = std::uniform_int_distribution<int>(0, 9)(rng);
    const int off = std::uniform_int_distribution<int>(-(23 * 60 + 59), 23 * 60 + 59)(rng);

    char text[64];
    int len =
        std::snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d", y, mo, d, h, mi, s);
    std::int64_t frac_nanos = 0;
    if (digits > 0) {
      text[len++] = '.';
      std::int64_t scale = kSec;
      for (int k = 0; k < digits; ++k) {
        const int digit = std::uniform_int_distribution<int>(0, 9)(rng);
        text[len++] = static_cast<char>('0' + digit);
        scale /= 10;
        frac_nanos += digit * scale;
      }
    }
    if (off == 0 && i % 3 == 0) {
      std::snprintf(text + len, sizeof(text) - static_cast<std::size_t>(len), "Z");
    } else {
      const int a = off < 0 ? -off : off;
      std::snprintf(text + len, sizeof(text) - static_cast<std::size_t>(len), "%c%02d:%02d",
                    off < 0 ? '-' : '+', a / 60, a % 60);
    }

    const __int128 expected = static_cast<__int128>(ReferenceDays(y, mo, d) * 86400 + h * 3600 +
                                                    mi * 60 + s - std::int64_t{off} * 60) *
                                  kSec +
                              frac_nanos;
    Result<ParsedTime> r = ParseRfc3339(text);
    INFO("text=", std::string(text));
    if (expected >= kMin && expected <= kMax) {
      ++in_range;
      REQUIRE(r.ok());
      REQUIRE(r->utc == static_cast<UnixNanos>(expected));
      REQUIRE(r->offset_minutes == off);
      // The canonical form of the instant names the same instant.
      REQUIRE(ParseUtc(FormatUtc(r->utc)) == r->utc);
    } else {
      ++out_of_range;
      REQUIRE_FALSE(r.ok());
      REQUIRE(Contains(r.status().message(), "outside the range a UnixNanos can hold"));
    }
  }
  CHECK(in_range > 20000);
  CHECK(out_of_range > 15000);
}

TEST_CASE("NowUnixNanos reads the system clock") {
  const UnixNanos before = static_cast<UnixNanos>(std::time(nullptr)) * kSec;
  const UnixNanos now = NowUnixNanos();
  const UnixNanos after = static_cast<UnixNanos>(std::time(nullptr) + 1) * kSec;
  CHECK(now >= before);
  CHECK(now <= after);
  CHECK(now > ParseUtc("2024-01-01T00:00:00Z"));
}

}  // namespace
}  // namespace waybill
