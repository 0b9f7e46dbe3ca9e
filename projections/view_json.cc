#include "projections/view_json.h"

#include <charconv>
#include <limits>

#include "schemas/event_json.h"
#include "schemas/money.h"
#include "schemas/time.h"

namespace waybill::projections {

void AppendOptString(const std::optional<std::string>& s, std::string* out) {
  if (s) {
    AppendJsonString(*s, out);
  } else {
    out->append("null");
  }
}

void AppendOptTime(const std::optional<UnixNanos>& t, std::string* out) {
  if (t) {
    out->push_back('"');
    AppendUtc(*t, out);
    out->push_back('"');
  } else {
    out->append("null");
  }
}

void AppendUint(std::uint64_t v, std::string* out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  (void)ec;  // 24 bytes always hold a uint64
  out->append(buf, end);
}

void AppendIsoDuration(__int128 nanos, std::string* out) {
  constexpr unsigned __int128 kSecond = 1'000'000'000;
  const bool negative = nanos < 0;
  const unsigned __int128 magnitude =
      negative ? static_cast<unsigned __int128>(0) - static_cast<unsigned __int128>(nanos)
               : static_cast<unsigned __int128>(nanos);
  // The difference of two UnixNanos is below 2^65 ns (~1170 years), so hours fit uint64.
  const auto hours = static_cast<std::uint64_t>(magnitude / (3600 * kSecond));
  const auto minutes = static_cast<std::uint64_t>(magnitude / (60 * kSecond) % 60);
  const auto seconds = static_cast<std::uint64_t>(magnitude / kSecond % 60);
  auto fraction = static_cast<std::uint32_t>(magnitude % kSecond);
  if (negative) out->push_back('-');
  out->append("PT");
  if (hours != 0) {
    AppendUint(hours, out);
    out->push_back('H');
  }
  if (minutes != 0) {
    AppendUint(minutes, out);
    out->push_back('M');
  }
  if (seconds != 0 || fraction != 0 || (hours == 0 && minutes == 0)) {
    AppendUint(seconds, out);
    if (fraction != 0) {
      char digits[9];
      for (int i = 8; i >= 0; --i) {
        digits[i] = static_cast<char>('0' + fraction % 10);
        fraction /= 10;
      }
      int n = 9;
      while (digits[n - 1] == '0') --n;  // fraction != 0: at least one non-zero digit
      out->push_back('.');
      out->append(digits, static_cast<std::size_t>(n));
    }
    out->push_back('S');
  }
}

bool AppendMoney(__int128 minor_units, std::string_view currency, std::string* out) {
  if (minor_units > std::numeric_limits<std::int64_t>::max() ||
      minor_units < std::numeric_limits<std::int64_t>::min()) {
    return false;
  }
  out->push_back('"');
  out->append(FormatMoney(static_cast<std::int64_t>(minor_units), currency));
  out->push_back('"');
  return true;
}

}  // namespace waybill::projections
