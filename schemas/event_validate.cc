// Validation of canonical events and the derived event id.
//
// Every error names the JSON path of the offending field (`references[3].value: must not be
// empty`), so the same messages serve the JSON parser and every other adapter.
#include "schemas/event_validate.h"

#include <simdjson.h>

#include <charconv>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "schemas/json_error_path.h"
#include "schemas/money.h"
#include "schemas/sha256.h"
#include "schemas/time.h"

namespace waybill {
namespace {

// correlation_id is "<order_id>/<shipment_id>" by default, so it may be twice an id long.
constexpr std::size_t kMaxCorrelationIdLength = 2 * kMaxIdLength + 1;
constexpr std::int32_t kMaxOffsetMinutes = 23 * 60 + 59;

// A JSON path prefix; turned into text only for error messages.
using Path = internal::JsonErrorPath;
using internal::QuoteVerbatim;

Status Fail(const Path& path, std::string_view field, std::string_view reason) {
  std::string m = path.Field(field);
  m += ": ";
  m += reason;
  return Status::Invalid(std::move(m));
}

// The reason `v` is not a valid identifier (empty when it is): non-empty, at most `max` bytes,
// no control characters, valid UTF-8.
std::string IdProblem(std::string_view v, std::size_t max = kMaxIdLength) {
  if (v.empty()) return "must not be empty";
  if (v.size() > max) {
    return "is " + std::to_string(v.size()) + " bytes long, at most " + std::to_string(max) +
           " are allowed";
  }
  bool ascii = true;
  for (char ch : v) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) return "must not contain control characters";
    ascii &= c < 0x80;
  }
  if (!ascii && !simdjson::validate_utf8(v.data(), v.size())) return "is not valid UTF-8";
  return {};
}

// Free text (names, descriptions): like an id but up to kMaxTextLength bytes, and tab, line
// feed and carriage return are allowed.
std::string TextProblem(std::string_view v) {
  if (v.empty()) return "must not be empty";
  if (v.size() > kMaxTextLength) {
    return "is " + std::to_string(v.size()) + " bytes long, at most " +
           std::to_string(kMaxTextLength) + " are allowed";
  }
  bool ascii = true;
  for (char ch : v) {
    auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
      return "must not contain control characters other than tab, line feed and carriage return";
    }
    ascii &= c < 0x80;
  }
  if (!ascii && !simdjson::validate_utf8(v.data(), v.size())) return "is not valid UTF-8";
  return {};
}

Status CheckId(std::string_view v, const Path& path, std::string_view field,
               std::size_t max = kMaxIdLength) {
  std::string problem = IdProblem(v, max);
  if (problem.empty()) return Status::Ok();
  return Fail(path, field, problem);
}

Status CheckOptionalId(const std::optional<std::string>& v, const Path& path,
                       std::string_view field) {
  if (!v) return Status::Ok();
  return CheckId(*v, path, field);
}

Status CheckOptionalText(const std::optional<std::string>& v, const Path& path,
                         std::string_view field) {
  if (!v) return Status::Ok();
  std::string problem = TextProblem(*v);
  if (problem.empty()) return Status::Ok();
  return Fail(path, field, problem);
}

Status CheckCurrency(std::string_view code, const Path& path, std::string_view field) {
  if (code.empty()) return Fail(path, field, "must not be empty");
  if (!CurrencyExponent(code)) {
    return Fail(path, field, "unknown ISO 4217 currency " + QuoteVerbatim(code));
  }
  return Status::Ok();
}

bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

Status CheckLocation(const Location& loc, const Path& path) {
  if (loc == Location{}) {
    return Fail(path, "", "must not be empty (omit the field instead)");
  }
  WAYBILL_RETURN_IF_ERROR(CheckOptionalText(loc.name, path, "name"));
  WAYBILL_RETURN_IF_ERROR(CheckOptionalText(loc.city, path, "city"));
  WAYBILL_RETURN_IF_ERROR(CheckOptionalText(loc.region, path, "region"));
  if (loc.country) {
    const std::string& c = *loc.country;
    if (c.size() != 2 || !IsUpper(c[0]) || !IsUpper(c[1])) {
      return Fail(path, "country",
                  QuoteVerbatim(c) + " is not an ISO 3166-1 alpha-2 code (two upper-case letters)");
    }
  }
  if (loc.unlocode) {
    const std::string& u = *loc.unlocode;
    bool ok = u.size() == 5 && IsUpper(u[0]) && IsUpper(u[1]);
    for (std::size_t i = 2; ok && i < 5; ++i) ok = IsUpper(u[i]) || IsDigit(u[i]);
    if (!ok) {
      return Fail(path, "unlocode",
                  QuoteVerbatim(u) +
                      " is not a UN/LOCODE (2 upper-case letters, then 3 letters or digits)");
    }
  }
  // Written as negations so that NaN fails too.
  if (loc.lat && !(*loc.lat >= -90.0 && *loc.lat <= 90.0)) {
    return Fail(path, "lat", "must be within [-90, 90]");
  }
  if (loc.lon && !(*loc.lon >= -180.0 && *loc.lon <= 180.0)) {
    return Fail(path, "lon", "must be within [-180, 180]");
  }
  return Status::Ok();
}

// Body presence: the body matching `kind` is required (optional for order), the others are
// not allowed.
template <typename T>
Status CheckBody(const std::optional<T>& body, EventKind body_kind, EventKind kind,
                 std::string_view field) {
  if (body_kind == kind) {
    if (!body && kind != EventKind::kOrder) {
      return Fail(Path{}, field, "required for kind " + QuoteVerbatim(ToString(kind)));
    }
  } else if (body) {
    return Fail(Path{}, field, "not allowed for kind " + QuoteVerbatim(ToString(kind)));
  }
  return Status::Ok();
}

Status CheckCharges(const Charges& ch) {
  const Path path{"charges"};
  if (!ParseChargeBasis(ToString(ch.basis))) return Fail(path, "basis", "unknown basis");
  WAYBILL_RETURN_IF_ERROR(CheckOptionalId(ch.document, path, "document"));
  WAYBILL_RETURN_IF_ERROR(CheckCurrency(ch.currency, path, "currency"));
  if (ch.lines.size() > kMaxChargeLines) {
    return Fail(path, "lines",
                "has " + std::to_string(ch.lines.size()) + " lines, at most " +
                    std::to_string(kMaxChargeLines) + " are allowed");
  }
  // Only lines in the charges currency are summed: a line in another currency (a fee billed in
  // the carrier's currency, say) cannot be added without an exchange rate we do not have.
  // When at least one line is in the charges currency, `total` must equal their sum exactly.
  // When none is (no lines at all, or only foreign-currency lines), `total` is the source's
  // own figure (a header-only total, or a converted one) and is accepted as given; the JSON
  // parser then requires `total` to be stated explicitly rather than defaulting it to 0.
  std::int64_t sum = 0;
  bool any_same_currency = false;
  for (std::size_t i = 0; i < ch.lines.size(); ++i) {
    const ChargeLine& line = ch.lines[i];
    const Path lp{"charges.lines", static_cast<std::ptrdiff_t>(i)};
    WAYBILL_RETURN_IF_ERROR(CheckId(line.code, lp, "code"));
    WAYBILL_RETURN_IF_ERROR(CheckOptionalText(line.description, lp, "description"));
    WAYBILL_RETURN_IF_ERROR(CheckCurrency(line.currency, lp, "currency"));
    if (line.currency == ch.currency) {
      any_same_currency = true;
      if (__builtin_add_overflow(sum, line.amount, &sum)) {
        return Fail(lp, "amount", "the sum of the lines in " + ch.currency + " overflows");
      }
    }
  }
  if (any_same_currency && sum != ch.total) {
    return Fail(path, "total",
                FormatMoney(ch.total, ch.currency) + " does not equal the sum of lines " +
                    FormatMoney(sum, ch.currency) + " " + ch.currency);
  }
  return Status::Ok();
}

Status CheckOrder(const OrderBody& order) {
  if (order.ship_to) WAYBILL_RETURN_IF_ERROR(CheckLocation(*order.ship_to, Path{"order.ship_to"}));
  if (order.promised) {
    const Promise& p = *order.promised;
    const Path path{"order.promised"};
    if (p == Promise{}) return Fail(path, "", "must not be empty (omit the field instead)");
    if (p.date) {
      Status st = ValidateDate(*p.date);
      if (!st.ok()) return Fail(path, "date", st.message());
    }
    if (p.window_start && p.window_end && *p.window_end < *p.window_start) {
      return Fail(path, "window_end", "is before window_start");
    }
  }
  return Status::Ok();
}

// Appends `field` length-prefixed: decimal byte count, ':', the bytes.
void AppendField(std::string_view field, std::string* out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), field.size());
  out->append(buf, r.ptr);
  out->push_back(':');
  out->append(field);
}

void AppendIntField(std::int64_t v, std::string* out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  AppendField(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)), out);
}

}  // namespace

Status ValidateEvent(const Event& event) {
  const Path root{};
  WAYBILL_RETURN_IF_ERROR(CheckId(event.event_id, root, "event_id"));
  if (!ParseEventKind(ToString(event.kind))) return Fail(root, "kind", "unknown kind");
  if (event.schema_version == 0) return Fail(root, "schema_version", "must be at least 1");
  if (event.schema_version > kSchemaVersion) {
    return Status::Unsupported("schema_version: " + std::to_string(event.schema_version) +
                               " is newer than this Waybill supports (" +
                               std::to_string(kSchemaVersion) + ")");
  }
  // occurred_at must lie within years 1-9999. Every UnixNanos (int64 nanoseconds) lies
  // within 1677-2262, so the type itself guarantees it; ParseRfc3339 rejects text beyond.
  if (event.occurred_offset_minutes < -kMaxOffsetMinutes ||
      event.occurred_offset_minutes > kMaxOffsetMinutes) {
    return Fail(root, "occurred_offset", "must be within -23:59 and +23:59");
  }

  const Path source{"source"};
  if (!ParseSourceSystem(ToString(event.source.system))) {
    return Fail(source, "system", "unknown source system");
  }
  WAYBILL_RETURN_IF_ERROR(CheckId(event.source.format, source, "format"));
  WAYBILL_RETURN_IF_ERROR(CheckOptionalId(event.source.partner, source, "partner"));
  WAYBILL_RETURN_IF_ERROR(CheckOptionalId(event.source.principal, source, "principal"));

  WAYBILL_RETURN_IF_ERROR(CheckId(event.shipment_id, root, "shipment_id"));
  WAYBILL_RETURN_IF_ERROR(CheckOptionalId(event.order_id, root, "order_id"));
  WAYBILL_RETURN_IF_ERROR(CheckOptionalId(event.customer_id, root, "customer_id"));
  WAYBILL_RETURN_IF_ERROR(CheckOptionalId(event.carrier, root, "carrier"));

  if (event.references.size() > kMaxReferences) {
    return Fail(root, "references",
                "has " + std::to_string(event.references.size()) + " entries, at most " +
                    std::to_string(kMaxReferences) + " are allowed");
  }
  for (std::size_t i = 0; i < event.references.size(); ++i) {
    const Path rp{"references", static_cast<std::ptrdiff_t>(i)};
    WAYBILL_RETURN_IF_ERROR(CheckId(event.references[i].type, rp, "type"));
    WAYBILL_RETURN_IF_ERROR(CheckId(event.references[i].value, rp, "value"));
  }
  if (event.correlation_id) {
    WAYBILL_RETURN_IF_ERROR(
        CheckId(*event.correlation_id, root, "correlation_id", kMaxCorrelationIdLength));
  }

  if (event.status && !ParseShipmentStatus(ToString(*event.status))) {
    return Fail(root, "status", "unknown status");
  }
  WAYBILL_RETURN_IF_ERROR(CheckOptionalId(event.source_code, root, "source_code"));
  WAYBILL_RETURN_IF_ERROR(CheckOptionalId(event.reason_code, root, "reason_code"));
  if (event.kind == EventKind::kMilestone && !event.status && !event.source_code) {
    return Fail(root, "status", "a milestone needs a status or a source_code");
  }
  if (event.location) WAYBILL_RETURN_IF_ERROR(CheckLocation(*event.location, Path{"location"}));

  WAYBILL_RETURN_IF_ERROR(CheckBody(event.estimate, EventKind::kEstimate, event.kind, "estimate"));
  if (event.estimate && !ParseEstimateOf(ToString(event.estimate->of))) {
    return Fail(Path{"estimate"}, "of", "unknown value");
  }
  WAYBILL_RETURN_IF_ERROR(CheckBody(event.charges, EventKind::kCharges, event.kind, "charges"));
  if (event.charges) WAYBILL_RETURN_IF_ERROR(CheckCharges(*event.charges));
  WAYBILL_RETURN_IF_ERROR(CheckBody(event.order, EventKind::kOrder, event.kind, "order"));
  if (event.order) WAYBILL_RETURN_IF_ERROR(CheckOrder(*event.order));
  WAYBILL_RETURN_IF_ERROR(CheckBody(event.document, EventKind::kDocument, event.kind, "document"));
  if (event.document) {
    const Path dp{"document"};
    WAYBILL_RETURN_IF_ERROR(CheckId(event.document->type, dp, "type"));
    WAYBILL_RETURN_IF_ERROR(CheckOptionalId(event.document->number, dp, "number"));
  }
  return Status::Ok();
}

// Recipe, version 1. PERSISTED FOREVER: derived ids are idempotency keys, so any change to
// this function must become a new recipe version, never an edit of this one.
//
//   id = "d:" + lower-case hex of SHA-256(F(f1) F(f2) ... F(f10) [F(extra)...])
//   F(s) = decimal byte length of s, ':', the bytes of s (no separators between fields)
//
//   f1  "waybill.event_id.v1"
//   f2  kind name ("milestone", "estimate", "charges", "order", "document")
//   f3  source.format
//   f4  source.partner, or "" when absent
//   f5  shipment_id
//   f6  status name ("IN_TRANSIT"), or "" when there is no status
//   f7  source_code when there is NO status, otherwise "" (a status makes the source code
//       irrelevant: the same canonical status re-sent with another code is a duplicate)
//   f8  occurred_at as decimal UTC nanoseconds ("1740816000000000000"); the offset is ignored
//   f9  location: "U" + unlocode, else "N" + name, else "C" + city, else "" (no location)
//   f10 nothing more for milestone and order events; then, per kind:
//       estimate: F(estimated_at decimal ns) F(of name)
//       charges:  F(basis name) F(document or "") F(total decimal minor units) F(currency)
//       document: F(type) F(number or "")
//
// Bodies that the kind does not call for are not hashed. Money and times are hashed in
// their integer form, so "10.0" and "10.00" or "+02:00" and "Z" forms of one instant agree.
std::string DeriveEventId(const Event& event) {
  std::string buf;
  buf.reserve(256);
  AppendField("waybill.event_id.v1", &buf);
  AppendField(ToString(event.kind), &buf);
  AppendField(event.source.format, &buf);
  AppendField(event.source.partner ? std::string_view(*event.source.partner) : "", &buf);
  AppendField(event.shipment_id, &buf);
  AppendField(event.status ? ToString(*event.status) : "", &buf);
  AppendField(!event.status && event.source_code ? std::string_view(*event.source_code) : "", &buf);
  AppendIntField(event.occurred_at, &buf);
  std::string loc;
  if (event.location) {
    if (event.location->unlocode) {
      loc = "U" + *event.location->unlocode;
    } else if (event.location->name) {
      loc = "N" + *event.location->name;
    } else if (event.location->city) {
      loc = "C" + *event.location->city;
    }
  }
  AppendField(loc, &buf);
  switch (event.kind) {
    case EventKind::kEstimate:
      if (event.estimate) {
        AppendIntField(event.estimate->estimated_at, &buf);
        AppendField(ToString(event.estimate->of), &buf);
      }
      break;
    case EventKind::kCharges:
      if (event.charges) {
        AppendField(ToString(event.charges->basis), &buf);
        AppendField(event.charges->document ? std::string_view(*event.charges->document) : "",
                    &buf);
        AppendIntField(event.charges->total, &buf);
        AppendField(event.charges->currency, &buf);
      }
      break;
    case EventKind::kDocument:
      if (event.document) {
        AppendField(event.document->type, &buf);
        AppendField(event.document->number ? std::string_view(*event.document->number) : "", &buf);
      }
      break;
    case EventKind::kMilestone:
    case EventKind::kOrder:
      break;
  }
  return "d:" + ToHex(Sha256Of(buf));
}

void FillCorrelationId(Event* event) {
  if (event->correlation_id) return;
  if (event->order_id) {
    event->correlation_id = *event->order_id + "/" + event->shipment_id;
  } else {
    event->correlation_id = event->shipment_id;
  }
}

}  // namespace waybill
