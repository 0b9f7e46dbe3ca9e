#include "ingest/mapping/value_formats.h"

#include <charconv>
#include <limits>

#include "schemas/error_text.h"
#include "schemas/money.h"

namespace waybill::ingest::mapping {
namespace {

constexpr std::int64_t kNanosPerMilli = 1'000'000;
constexpr std::int64_t kMaxMillis = std::numeric_limits<std::int64_t>::max() / kNanosPerMilli;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string ExpectedString(const JsonNode& node) {
  return "expected a string, got " + std::string(JsonTypeName(node.type));
}

// Signed decimal integer text ("-12", "1700000000000") -> int64 milliseconds within the span
// a UnixNanos can hold.
Result<std::int64_t> ParseMillis(std::string_view digits, std::string_view shown) {
  std::int64_t ms = 0;
  const char* first = digits.data();
  const char* last = digits.data() + digits.size();
  if (digits.empty() || (digits[0] == '-' && digits.size() == 1)) {
    return Status::Invalid(QuoteForMessage(shown) +
                           ": expected milliseconds since 1970-01-01T00:00:00Z");
  }
  for (std::size_t i = digits[0] == '-' ? 1 : 0; i < digits.size(); ++i) {
    if (!IsDigit(digits[i])) {
      return Status::Invalid(QuoteForMessage(shown) +
                             ": expected milliseconds since 1970-01-01T00:00:00Z (digits only)");
    }
  }
  auto r = std::from_chars(first, last, ms);
  if (r.ec != std::errc() || r.ptr != last || ms > kMaxMillis || ms < -kMaxMillis) {
    return Status::Invalid(QuoteForMessage(shown) +
                           ": milliseconds outside the range a UnixNanos can hold (1677-09-21 "
                           "to 2262-04-11)");
  }
  return ms;
}

// JSON number token -> plain decimal text (exponent shifted textually), or an error reason.
Result<std::string> NumberToDecimal(std::string_view tok) {
  std::string scratch;
  std::string_view decimal;
  const std::string_view problem = JsonNumberToDecimal(tok, &decimal, &scratch);
  if (!problem.empty()) return Status::Invalid(QuoteForMessage(tok) + ": " + std::string(problem));
  return std::string(decimal);
}

}  // namespace

std::optional<TimeFormat> ParseTimeFormat(std::string_view name) {
  if (name == "rfc3339") return TimeFormat::kRfc3339;
  if (name == "ms-date") return TimeFormat::kMsDate;
  if (name == "epoch-ms") return TimeFormat::kEpochMs;
  if (name == "date") return TimeFormat::kDate;
  return std::nullopt;
}

std::string_view TimeFormatName(TimeFormat format) {
  switch (format) {
    case TimeFormat::kRfc3339:
      return "rfc3339";
    case TimeFormat::kMsDate:
      return "ms-date";
    case TimeFormat::kEpochMs:
      return "epoch-ms";
    case TimeFormat::kDate:
      return "date";
  }
  return "unknown";
}

std::string_view TimeFormatNames() { return "rfc3339, ms-date, epoch-ms, date"; }

Result<ParsedTime> ParseMsDate(std::string_view text) {
  constexpr std::string_view kOpen = "/Date(";
  constexpr std::string_view kClose = ")/";
  auto bad = [&](std::string_view why) {
    return Status::Invalid(QuoteForMessage(text) + ": " + std::string(why));
  };
  if (text.size() < kOpen.size() + kClose.size() || text.substr(0, kOpen.size()) != kOpen ||
      text.substr(text.size() - kClose.size()) != kClose) {
    return bad("is not a /Date(milliseconds)/ time");
  }
  std::string_view body =
      text.substr(kOpen.size(), text.size() - kOpen.size() - kClose.size());  // "ms[+HHMM]"
  std::size_t end = body.empty() || body[0] != '-' ? 0 : 1;
  const std::size_t digits = end;
  while (end < body.size() && IsDigit(body[end])) ++end;
  if (end == digits) return bad("expected milliseconds since 1970-01-01T00:00:00Z (digits only)");
  ParsedTime parsed;
  if (end < body.size()) {
    std::string_view offset = body.substr(end);
    if (offset.size() != 5 || (offset[0] != '+' && offset[0] != '-') || !IsDigit(offset[1]) ||
        !IsDigit(offset[2]) || !IsDigit(offset[3]) || !IsDigit(offset[4])) {
      return bad("is not a /Date(milliseconds)/ time (an offset suffix is +HHMM or -HHMM)");
    }
    const int hh = (offset[1] - '0') * 10 + (offset[2] - '0');
    const int mm = (offset[3] - '0') * 10 + (offset[4] - '0');
    if (hh > 23 || mm > 59) return bad("offset beyond +-23:59");
    parsed.offset_minutes = (offset[0] == '-' ? -1 : 1) * (hh * 60 + mm);
  }
  Result<std::int64_t> ms = ParseMillis(body.substr(0, end), text);
  if (!ms.ok()) return ms.status();
  parsed.utc = *ms * kNanosPerMilli;
  return parsed;
}

Result<ParsedTime> ParseTimeValue(const JsonNode& node, TimeFormat format) {
  if (format == TimeFormat::kEpochMs) {
    if (node.type != JsonType::kNumber && node.type != JsonType::kString) {
      return Status::Invalid("expected a number or a string, got " +
                             std::string(JsonTypeName(node.type)));
    }
    Result<std::int64_t> ms = ParseMillis(node.text, node.text);
    if (!ms.ok()) return ms.status();
    return ParsedTime{*ms * kNanosPerMilli, 0};
  }
  if (node.type != JsonType::kString) return Status::Invalid(ExpectedString(node));
  switch (format) {
    case TimeFormat::kRfc3339:
      return ParseRfc3339(node.text);
    case TimeFormat::kMsDate:
      return ParseMsDate(node.text);
    case TimeFormat::kDate: {
      WAYBILL_RETURN_IF_ERROR(ValidateDate(node.text));
      const std::string_view t = node.text;
      const int year = (t[0] - '0') * 1000 + (t[1] - '0') * 100 + (t[2] - '0') * 10 + (t[3] - '0');
      const auto month = static_cast<unsigned>((t[5] - '0') * 10 + (t[6] - '0'));
      const auto day = static_cast<unsigned>((t[8] - '0') * 10 + (t[9] - '0'));
      const UnixNanos utc = UnixNanosFromCivil(year, month, day, 0, 0, 0, 0);
      if (utc == std::numeric_limits<UnixNanos>::min() ||
          utc == std::numeric_limits<UnixNanos>::max()) {
        return Status::Invalid(QuoteForMessage(t) +
                               ": outside the range a UnixNanos can hold (1677-09-21 to "
                               "2262-04-11)");
      }
      return ParsedTime{utc, 0};
    }
    case TimeFormat::kEpochMs:
      break;
  }
  return Status::Internal("unhandled time format");
}

Result<std::string> ParseDateValue(const JsonNode& node, TimeFormat format) {
  if (format == TimeFormat::kDate) {
    if (node.type != JsonType::kString) return Status::Invalid(ExpectedString(node));
    WAYBILL_RETURN_IF_ERROR(ValidateDate(node.text));
    return std::string(node.text);
  }
  Result<ParsedTime> t = ParseTimeValue(node, format);
  if (!t.ok()) return t.status();
  if (format == TimeFormat::kRfc3339) return std::string(node.text.substr(0, 10));
  return FormatUtc(t->utc).substr(0, 10);
}

Result<std::int64_t> ParseMoneyValue(const JsonNode& node, std::string_view currency) {
  if (node.type == JsonType::kString) return ParseMoney(node.text, currency);
  if (node.type != JsonType::kNumber) {
    return Status::Invalid("expected a decimal string or a number, got " +
                           std::string(JsonTypeName(node.type)));
  }
  Result<std::string> decimal = NumberToDecimal(node.text);
  if (!decimal.ok()) return decimal.status();
  return ParseMoney(*decimal, currency);
}

}  // namespace waybill::ingest::mapping
