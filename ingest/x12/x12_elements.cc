#include "ingest/x12/x12_elements.h"

#include <chrono>

#include "ingest/x12/x12_envelope.h"

namespace waybill::ingest::x12 {
namespace {

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

unsigned Digits(std::string_view s) {
  unsigned v = 0;
  for (char c : s) v = v * 10 + static_cast<unsigned>(c - '0');
  return v;
}

std::string Pad(unsigned v, std::size_t width) {
  std::string s = std::to_string(v);
  while (s.size() < width) s.insert(s.begin(), '0');
  return s;
}

}  // namespace

std::string FormatDate(const CivilDate& d) {
  return Pad(static_cast<unsigned>(d.year), 4) + "-" + Pad(d.month, 2) + "-" + Pad(d.day, 2);
}

std::optional<CivilDate> ParseDate8(std::string_view s) {
  if (s.size() != 8 || !AllDigits(s)) return std::nullopt;
  CivilDate d{static_cast<int>(Digits(s.substr(0, 4))), Digits(s.substr(4, 2)),
              Digits(s.substr(6, 2))};
  const std::chrono::year_month_day ymd{std::chrono::year{d.year}, std::chrono::month{d.month},
                                        std::chrono::day{d.day}};
  if (d.year < 1 || !ymd.ok()) return std::nullopt;
  return d;
}

std::optional<ClockTime> ParseTime(std::string_view s) {
  if ((s.size() != 4 && s.size() != 6 && s.size() != 7 && s.size() != 8) || !AllDigits(s)) {
    return std::nullopt;
  }
  ClockTime t;
  t.hour = Digits(s.substr(0, 2));
  t.minute = Digits(s.substr(2, 2));
  if (s.size() >= 6) t.second = Digits(s.substr(4, 2));
  if (s.size() == 7) t.nanos = Digits(s.substr(6, 1)) * 100'000'000u;
  if (s.size() == 8) t.nanos = Digits(s.substr(6, 2)) * 10'000'000u;
  if (t.hour > 23 || t.minute > 59 || t.second > 59) return std::nullopt;
  return t;
}

std::string SetReader::Where(std::size_t seg, std::size_t pos) const {
  std::string s(segs_[seg].id);
  s += " (segment ";
  s += std::to_string(seg - st_ + 1);
  s += ')';
  if (pos > 0) {
    s += " element ";
    if (pos < 10) s += '0';
    s += std::to_string(pos);
  }
  return s;
}

void SetReader::Error(std::size_t seg, std::size_t pos, std::string_view reason) {
  std::string m = Where(seg, pos);
  m += ": ";
  m += reason;
  AddError(errors_, std::move(m));
}

void SetReader::MissingSegment(std::string_view id, std::string_view what) {
  std::string m(id);
  m += ": required segment (";
  m += what;
  m += ") is missing";
  AddError(errors_, std::move(m));
}

void SetReader::Error(std::string error) { AddError(errors_, std::move(error)); }

std::string_view SetReader::Text(std::size_t seg, std::size_t pos, std::size_t min, std::size_t max,
                                 bool required, std::string_view what) {
  const std::string_view v = Get(seg, pos);
  if (v.empty()) {
    if (required) Error(seg, pos, "required (" + std::string(what) + ") but missing");
    return {};
  }
  if (v.size() < min || v.size() > max) {
    Error(seg, pos,
          Quote(v) + " (" + std::string(what) + ") is " + std::to_string(v.size()) +
              " characters long, " +
              (min == max ? std::to_string(min) : std::to_string(min) + "-" + std::to_string(max)) +
              " expected");
    return {};
  }
  for (char ch : v) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      Error(seg, pos, Quote(v) + " (" + std::string(what) + ") contains control characters");
      return {};
    }
  }
  return v;
}

std::optional<CivilDate> SetReader::Date(std::size_t seg, std::size_t pos, bool required,
                                         std::string_view what) {
  const std::string_view v = Get(seg, pos);
  if (v.empty()) {
    if (required) Error(seg, pos, "required (" + std::string(what) + ") but missing");
    return std::nullopt;
  }
  auto d = ParseDate8(v);
  if (!d) Error(seg, pos, Quote(v) + " is not a date CCYYMMDD");
  return d;
}

std::optional<ClockTime> SetReader::Time(std::size_t seg, std::size_t pos, bool required,
                                         std::string_view what) {
  const std::string_view v = Get(seg, pos);
  if (v.empty()) {
    if (required) Error(seg, pos, "required (" + std::string(what) + ") but missing");
    return std::nullopt;
  }
  auto t = ParseTime(v);
  if (!t) Error(seg, pos, Quote(v) + " is not a time HHMM, HHMMSS or HHMMSSdd");
  return t;
}

std::optional<std::int64_t> SetReader::N2(std::size_t seg, std::size_t pos, bool required,
                                          std::string_view what) {
  const std::string_view v = Get(seg, pos);
  if (v.empty()) {
    if (required) Error(seg, pos, "required (" + std::string(what) + ") but missing");
    return std::nullopt;
  }
  std::string_view digits = v;
  const bool negative = !digits.empty() && digits.front() == '-';
  if (negative) digits.remove_prefix(1);
  if (!AllDigits(digits)) {
    Error(seg, pos,
          Quote(v) + " (" + std::string(what) +
              ") is not an N2 amount (digits with two implied decimals, e.g. "
              "\"202575\" for 2025.75)");
    return std::nullopt;
  }
  if (digits.size() > 12) {
    Error(seg, pos,
          Quote(v) + " (" + std::string(what) + ") has " + std::to_string(digits.size()) +
              " digits, at most 12 are allowed");
    return std::nullopt;
  }
  std::int64_t value = 0;
  for (char c : digits) value = value * 10 + (c - '0');  // 12 digits cannot overflow
  return negative ? -value : value;
}

}  // namespace waybill::ingest::x12
