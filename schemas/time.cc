#include "schemas/time.h"

#include <chrono>
#include <cstddef>
#include <limits>
#include <string>

#include "schemas/error_text.h"

namespace waybill {
namespace {

namespace chr = std::chrono;

constexpr std::int64_t kNanosPerSecond = 1'000'000'000;
constexpr std::int64_t kSecondsPerDay = 86'400;
constexpr const char* kRange =
    "outside the range a UnixNanos can hold (1677-09-21T00:12:43.145224192Z to "
    "2262-04-11T23:47:16.854775807Z)";

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// "found 'x'" or "found the end of the text", for "expected ... at position N, <this>".
std::string Found(std::string_view s, std::size_t pos) {
  if (pos >= s.size()) return "found the end of the text";
  std::string q = QuoteForMessage(s.substr(pos, 1));
  q.front() = '\'';
  q.back() = '\'';
  return "found " + q;
}

std::string Expected(std::string_view s, std::size_t pos, std::string_view what) {
  std::string m = "expected ";
  m += what;
  m += " at position ";
  m += std::to_string(pos);
  m += ", ";
  m += Found(s, pos);
  return m;
}

// The parsers below return an empty string on success and the reason otherwise; the public
// functions prefix the reason with the quoted text.

// Reads exactly `n` digits at *pos.
std::string ReadDigits(std::string_view s, std::size_t* pos, int n, std::string_view field,
                       int* value) {
  int v = 0;
  for (int k = 0; k < n; ++k) {
    const std::size_t at = *pos + static_cast<std::size_t>(k);
    if (at >= s.size() || !IsDigit(s[at])) {
      return std::string(field) + " needs " + std::to_string(n) +
             " digits: " + Expected(s, at, "a digit");
    }
    v = v * 10 + (s[at] - '0');
  }
  *pos += static_cast<std::size_t>(n);
  *value = v;
  return {};
}

// Reads `c` (or its lower-case form `alt`) at *pos.
std::string ReadLiteral(std::string_view s, std::size_t* pos, char c, char alt,
                        std::string_view what) {
  if (*pos >= s.size() || (s[*pos] != c && s[*pos] != alt)) return Expected(s, *pos, what);
  ++*pos;
  return {};
}

// "YYYY-MM-DD", validated against the calendar (years 0001-9999).
std::string ReadDate(std::string_view s, std::size_t* pos, chr::year_month_day* out) {
  const std::size_t start = *pos;
  int y = 0, m = 0, d = 0;
  std::string e;
  if (!(e = ReadDigits(s, pos, 4, "the year", &y)).empty()) return e;
  if (!(e = ReadLiteral(s, pos, '-', '-', "'-' after the year")).empty()) return e;
  if (!(e = ReadDigits(s, pos, 2, "the month", &m)).empty()) return e;
  if (!(e = ReadLiteral(s, pos, '-', '-', "'-' after the month")).empty()) return e;
  if (!(e = ReadDigits(s, pos, 2, "the day", &d)).empty()) return e;
  if (y < 1) return "year 0000 is not 0001-9999";
  if (m < 1 || m > 12) return "month " + std::string(s.substr(start + 5, 2)) + " is not 01-12";
  const chr::year_month_day ymd{chr::year{y}, chr::month{static_cast<unsigned>(m)},
                                chr::day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) {
    return "day " + std::string(s.substr(start + 8, 2)) + " does not exist in " +
           std::string(s.substr(start, 7));
  }
  *out = ymd;
  return {};
}

// "Z", "z", "+HH:MM" or "-HH:MM", at most 23:59 either way.
std::string ReadOffset(std::string_view s, std::size_t* pos, std::int32_t* minutes) {
  if (*pos >= s.size()) {
    return "missing UTC offset: expected Z, +HH:MM or -HH:MM at position " + std::to_string(*pos);
  }
  const char sign = s[*pos];
  if (sign == 'Z' || sign == 'z') {
    ++*pos;
    *minutes = 0;
    return {};
  }
  if (sign != '+' && sign != '-') return Expected(s, *pos, "a UTC offset (Z, +HH:MM or -HH:MM)");
  ++*pos;
  int hh = 0, mm = 0;
  std::string e;
  if (!(e = ReadDigits(s, pos, 2, "the offset hour", &hh)).empty()) return e;
  if (!(e = ReadLiteral(s, pos, ':', ':', "':' in the offset")).empty()) return e;
  if (!(e = ReadDigits(s, pos, 2, "the offset minute", &mm)).empty()) return e;
  if (hh > 23) return "offset hour " + std::to_string(hh) + " is beyond +-23:59";
  if (mm > 59) return "offset minute " + std::to_string(mm) + " is not 00-59";
  *minutes = (sign == '-' ? -1 : 1) * (hh * 60 + mm);
  return {};
}

std::string Trailing(std::string_view s, std::size_t pos, std::string_view after) {
  std::string m = "unexpected ";
  m += QuoteForMessage(s.substr(pos));
  m += " after the ";
  m += after;
  return m;
}

std::int64_t DaysFromCivil(const chr::year_month_day& ymd) {
  return chr::sys_days{ymd}.time_since_epoch().count();
}

// seconds * 1e9 + nanos when it fits a UnixNanos. The seconds of years 1-9999 (about
// +-2.5e11) times 1e9 fit easily in 128 bits.
bool CombineNanos(std::int64_t seconds, std::int64_t nanos, UnixNanos* out) {
  const __int128 total = static_cast<__int128>(seconds) * kNanosPerSecond + nanos;
  if (total < std::numeric_limits<UnixNanos>::min() ||
      total > std::numeric_limits<UnixNanos>::max()) {
    return false;
  }
  *out = static_cast<UnixNanos>(total);
  return true;
}

char* Put2(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
  return p + 2;
}

}  // namespace

Result<ParsedTime> ParseRfc3339(std::string_view text) {
  auto fail = [&](const std::string& reason) {
    return Status::Invalid(QuoteForMessage(text) + ": " + reason);
  };
  std::size_t pos = 0;
  chr::year_month_day ymd;
  int hh = 0, mi = 0, ss = 0;
  std::string e;
  if (!(e = ReadDate(text, &pos, &ymd)).empty()) return fail(e);
  if (!(e = ReadLiteral(text, &pos, 'T', 't', "'T' between the date and the time")).empty()) {
    return fail(e);
  }
  if (!(e = ReadDigits(text, &pos, 2, "the hour", &hh)).empty()) return fail(e);
  if (!(e = ReadLiteral(text, &pos, ':', ':', "':' after the hour")).empty()) return fail(e);
  if (!(e = ReadDigits(text, &pos, 2, "the minute", &mi)).empty()) return fail(e);
  if (!(e = ReadLiteral(text, &pos, ':', ':', "':' after the minute")).empty()) return fail(e);
  if (!(e = ReadDigits(text, &pos, 2, "the second", &ss)).empty()) return fail(e);
  if (hh > 23) return fail("hour " + std::to_string(hh) + " is not 00-23");
  if (mi > 59) return fail("minute " + std::to_string(mi) + " is not 00-59");
  if (ss > 59) {
    return fail("second " + std::to_string(ss) + " is not 00-59 (leap seconds are not accepted)");
  }

  std::int64_t nanos = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int digits = 0;
    for (; pos < text.size() && IsDigit(text[pos]); ++pos, ++digits) {
      if (digits < 9) nanos = nanos * 10 + (text[pos] - '0');
    }
    if (digits == 0) return fail("'.' must be followed by 1 to 9 fraction digits");
    if (digits > 9) {
      return fail("the fraction has " + std::to_string(digits) +
                  " digits; at most 9 (nanoseconds) are allowed");
    }
    for (int k = digits; k < 9; ++k) nanos *= 10;  // ".5" is 500000000 ns
  }

  ParsedTime parsed;
  if (!(e = ReadOffset(text, &pos, &parsed.offset_minutes)).empty()) return fail(e);
  if (pos != text.size()) return fail(Trailing(text, pos, "UTC offset"));

  // UTC = local time - offset; "02:30+02:00" is 00:30Z.
  const std::int64_t seconds = DaysFromCivil(ymd) * kSecondsPerDay + hh * 3600 + mi * 60 + ss -
                               std::int64_t{parsed.offset_minutes} * 60;
  if (!CombineNanos(seconds, nanos, &parsed.utc)) return fail(kRange);
  return parsed;
}

void AppendUtc(UnixNanos t, std::string* out) {
  // Floor division: 1969-12-31T23:59:59.5Z is -500000000 ns, i.e. second -1 plus 0.5 s.
  std::int64_t seconds = t / kNanosPerSecond;
  std::int64_t nanos = t % kNanosPerSecond;
  if (nanos < 0) {
    nanos += kNanosPerSecond;
    --seconds;
  }
  std::int64_t days = seconds / kSecondsPerDay;
  std::int64_t second_of_day = seconds % kSecondsPerDay;
  if (second_of_day < 0) {
    second_of_day += kSecondsPerDay;
    --days;
  }
  const chr::year_month_day ymd{chr::sys_days{chr::days{days}}};
  // Every int64 of nanoseconds lies in years 1677-2262: always four digits, never negative.
  const auto year = static_cast<unsigned>(static_cast<int>(ymd.year()));
  const auto sod = static_cast<unsigned>(second_of_day);

  char buf[40];
  char* p = Put2(buf, year / 100);
  p = Put2(p, year % 100);
  *p++ = '-';
  p = Put2(p, static_cast<unsigned>(ymd.month()));
  *p++ = '-';
  p = Put2(p, static_cast<unsigned>(ymd.day()));
  *p++ = 'T';
  p = Put2(p, sod / 3600);
  *p++ = ':';
  p = Put2(p, sod / 60 % 60);
  *p++ = ':';
  p = Put2(p, sod % 60);
  if (nanos != 0) {
    *p++ = '.';
    auto frac = static_cast<std::uint32_t>(nanos);
    char* const first = p;
    for (int k = 8; k >= 0; --k) {
      first[k] = static_cast<char>('0' + frac % 10);
      frac /= 10;
    }
    p = first + 9;
    while (p[-1] == '0') --p;  // nanos != 0, so a non-zero digit stops this
  }
  *p++ = 'Z';
  out->append(buf, static_cast<std::size_t>(p - buf));
}

std::string FormatUtc(UnixNanos t) {
  std::string out;
  out.reserve(32);
  AppendUtc(t, &out);
  return out;
}

std::string FormatOffset(std::int32_t offset_minutes) {
  const std::int64_t m = offset_minutes;  // 64-bit so that negating INT32_MIN is fine
  const std::int64_t magnitude = m < 0 ? -m : m;
  const std::int64_t hours = magnitude / 60;
  std::string out(1, m < 0 ? '-' : '+');
  if (hours < 10) out += '0';
  out += std::to_string(hours);
  out += ':';
  char mm[2];
  Put2(mm, static_cast<unsigned>(magnitude % 60));
  out.append(mm, 2);
  return out;
}

Result<std::int32_t> ParseOffset(std::string_view text) {
  std::size_t pos = 0;
  std::int32_t minutes = 0;
  std::string e = ReadOffset(text, &pos, &minutes);
  if (e.empty() && pos != text.size()) e = Trailing(text, pos, "UTC offset");
  if (!e.empty()) return Status::Invalid(QuoteForMessage(text) + ": " + e);
  return minutes;
}

Status ValidateDate(std::string_view text) {
  std::size_t pos = 0;
  chr::year_month_day ymd;
  std::string e = ReadDate(text, &pos, &ymd);
  if (e.empty() && pos != text.size()) e = Trailing(text, pos, "date (expected YYYY-MM-DD)");
  if (!e.empty()) return Status::Invalid(QuoteForMessage(text) + ": " + e);
  return Status::Ok();
}

UnixNanos UnixNanosFromCivil(int year, unsigned month, unsigned day, unsigned hour, unsigned minute,
                             unsigned second, std::uint32_t nanos) {
  const chr::year_month_day ymd{chr::year{year}, chr::month{month}, chr::day{day}};
  const std::int64_t seconds = DaysFromCivil(ymd) * kSecondsPerDay + std::int64_t{hour} * 3600 +
                               std::int64_t{minute} * 60 + std::int64_t{second};
  UnixNanos out = 0;
  if (CombineNanos(seconds, nanos, &out)) return out;
  // Outside 1677-2262: saturate rather than wrap around.
  return seconds < 0 ? std::numeric_limits<UnixNanos>::min()
                     : std::numeric_limits<UnixNanos>::max();
}

UnixNanos NowUnixNanos() {
  return chr::duration_cast<chr::nanoseconds>(chr::system_clock::now().time_since_epoch()).count();
}

}  // namespace waybill
