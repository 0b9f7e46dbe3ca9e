// The JSON form of canonical events: the simdjson On-Demand reader (the writer is in
// event_json_writer.cc).
// Reader decisions (the contract for producers; see also schemas/event.schema.json):
//  - Keys may come in any order; each object is iterated once. Unknown keys are ignored
//    (forward compatibility) but still checked for well-formedness and nesting depth.
//  - A DUPLICATE known key is an error (`location.city: duplicate key`): a ledger must not
//    pick one of two conflicting values silently. Duplicate unknown keys are ignored.
//  - `null` is the same as an absent field. An empty string for an optional field is an
//    error (`order_id: must not be empty (omit the field instead)`); for a required field,
//    ValidateEvent reports it (`shipment_id: must not be empty`).
//  - Ignored from input: seq, recorded_at, prev_hash, hash and raw_hash (the ledger and the
//    caller set them), and source.principal: the ledger sets it from authentication, so a
//    producer cannot claim to be someone else. ParseExported (a line of `waybill export`,
//    restored only offline by an operator holding the data dir) reads all of them instead,
//    so that the event's content is byte for byte the exported one.
//  - occurred_at is RFC 3339 with any offset; it is stored in UTC and its offset is kept in
//    occurred_offset_minutes. When the text ends in "Z" and `occurred_offset` is given, that
//    is our own export form and `occurred_offset` is the original offset. When the text
//    carries an explicit offset and `occurred_offset` is given too, they must agree.
//  - Money (`amount`, `total`) is a JSON string with a plain decimal ("2025.75"), or a JSON
//    number whose token is converted exactly as text (never through a double; exponents are
//    shifted textually: 2.02575e3 is 2025.75). A line's currency defaults to the charges
//    currency. `total` defaults to the sum of the lines in the charges currency; when no line
//    is in that currency, `total` is required.
//  - schema_version defaults to kSchemaVersion; source.format to "canonical";
//    estimate.issued_at to occurred_at.
//  - Containers nested deeper than kMaxDepth (16) levels, the root object being level 1, are
//    rejected. References and charge lines beyond their limits are rejected while reading.
//  - After reading: event_id is derived when absent (DeriveEventId), correlation_id filled
//    (FillCorrelationId), and the event validated (ValidateEvent).
#include "schemas/event_json.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "schemas/event_validate.h"
#include "schemas/json_error_path.h"
#include "schemas/money.h"
#include "schemas/time.h"

namespace waybill {
namespace {

namespace od = simdjson::ondemand;

constexpr int kMaxDepth = 16;

// ---------------------------------------------------------------------------------------------
// Reader helpers.

// A JSON path prefix; turned into text only for error messages.
using Path = internal::JsonErrorPath;
using internal::QuoteVerbatim;

Status Fail(const Path& path, std::string_view field, std::string_view reason) {
  std::string m = path.Field(field);
  if (!m.empty()) m += ": ";
  m += reason;
  return Status::Invalid(std::move(m));
}

const char* TypeName(od::json_type t) {
  switch (t) {
    case od::json_type::array:
      return "array";
    case od::json_type::object:
      return "object";
    case od::json_type::number:
      return "number";
    case od::json_type::string:
      return "string";
    case od::json_type::boolean:
      return "boolean";
    case od::json_type::null:
      return "null";
  }
  return "unknown";
}

std::string_view TrimTrailingSpace(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// A money value read before its currency is known.
struct PendingAmount {
  std::string_view text;  // decimal string contents, or the raw number token
  bool is_number = false;
  const char* at = nullptr;  // position in the input, for error offsets
  bool currency_given = false;
};

struct Scratch {
  std::vector<PendingAmount> amounts;
  std::string number;
};

// Per-parse state.
struct Ctx {
  const char* base = nullptr;  // the padded copy of the input
  std::size_t size = 0;
  od::document* doc = nullptr;
  Scratch* scratch = nullptr;
  bool exported = false;  // ParseExported: read ledger fields, raw_hash and the principal

  Status Malformed(const Path& path, std::string_view field, std::string_view what,
                   const char* at) const {
    std::string m = path.Field(field);
    if (!m.empty()) m += ": ";
    m += "malformed JSON";
    if (at == nullptr) {
      const char* loc = nullptr;
      if (doc != nullptr && doc->current_location().get(loc) == simdjson::SUCCESS) at = loc;
    }
    if (at != nullptr && at >= base && at <= base + size) {
      m += " at byte ";
      m += std::to_string(at - base);
    }
    m += ": ";
    m += what;
    return Status::Invalid(std::move(m));
  }
  Status Malformed(const Path& path, std::string_view field, simdjson::error_code e,
                   const char* at) const {
    return Malformed(path, field, simdjson::error_message(e), at);
  }
};

Status TypeError(const Path& path, std::string_view field, std::string_view expected,
                 od::json_type got) {
  std::string m = "expected ";
  m += expected;
  m += ", got ";
  m += TypeName(got);
  return Fail(path, field, m);
}

Status OmitInstead(const Path& path, std::string_view field) {
  return Fail(path, field, "must not be empty (omit the field instead)");
}

// Reads the type of `v`; a null literal is checked for well-formedness.
Status TypeOf(Ctx& c, od::value& v, const Path& p, std::string_view f, od::json_type* t) {
  const char* at = v.raw_json_token().data();
  if (auto e = v.type().get(*t)) return c.Malformed(p, f, e, at);
  if (*t == od::json_type::null) {
    bool is_null = false;
    if (v.is_null().get(is_null) != simdjson::SUCCESS || !is_null) {
      return c.Malformed(p, f, "invalid literal", at);
    }
  }
  return Status::Ok();
}

// Reads a string; *present is false for null.
Status ReadString(Ctx& c, od::value& v, const Path& p, std::string_view f, std::string_view* out,
                  bool* present) {
  od::json_type t;
  WAYBILL_RETURN_IF_ERROR(TypeOf(c, v, p, f, &t));
  if (t == od::json_type::null) {
    *present = false;
    return Status::Ok();
  }
  if (t != od::json_type::string) return TypeError(p, f, "a string", t);
  const char* at = v.raw_json_token().data();
  if (auto e = v.get_string().get(*out)) return c.Malformed(p, f, e, at);
  *present = true;
  return Status::Ok();
}

// A required string: null leaves *present false; an empty string is left for ValidateEvent.
Status ReadRequiredString(Ctx& c, od::value& v, const Path& p, std::string_view f, std::string* out,
                          bool* present) {
  std::string_view s;
  WAYBILL_RETURN_IF_ERROR(ReadString(c, v, p, f, &s, present));
  if (*present) out->assign(s);
  return Status::Ok();
}

Status ReadOptString(Ctx& c, od::value& v, const Path& p, std::string_view f,
                     std::optional<std::string>* out) {
  std::string_view s;
  bool present = false;
  WAYBILL_RETURN_IF_ERROR(ReadString(c, v, p, f, &s, &present));
  if (!present) return Status::Ok();
  if (s.empty()) return OmitInstead(p, f);
  out->emplace(s);
  return Status::Ok();
}

Status ReadTime(Ctx& c, od::value& v, const Path& p, std::string_view f, UnixNanos* out,
                bool* present) {
  std::string_view s;
  WAYBILL_RETURN_IF_ERROR(ReadString(c, v, p, f, &s, present));
  if (!*present) return Status::Ok();
  if (s.empty()) return OmitInstead(p, f);
  Result<ParsedTime> t = ParseRfc3339(s);
  if (!t.ok()) return Fail(p, f, t.status().message());
  *out = t->utc;
  return Status::Ok();
}

Status ReadOptTime(Ctx& c, od::value& v, const Path& p, std::string_view f,
                   std::optional<UnixNanos>* out) {
  UnixNanos t = 0;
  bool present = false;
  WAYBILL_RETURN_IF_ERROR(ReadTime(c, v, p, f, &t, &present));
  if (present) *out = t;
  return Status::Ok();
}

template <typename E>
Status ReadEnum(Ctx& c, od::value& v, const Path& p, std::string_view f,
                std::optional<E> (*parse)(std::string_view), std::string_view expected,
                std::optional<E>* out) {
  std::string_view s;
  bool present = false;
  WAYBILL_RETURN_IF_ERROR(ReadString(c, v, p, f, &s, &present));
  if (!present) return Status::Ok();
  std::optional<E> e = parse(s);
  if (!e) {
    std::string m = "unknown value " + QuoteVerbatim(s) + " (expected one of ";
    m += expected;
    m += ')';
    return Fail(p, f, m);
  }
  *out = e;
  return Status::Ok();
}

Status ReadOptDouble(Ctx& c, od::value& v, const Path& p, std::string_view f,
                     std::optional<double>* out) {
  od::json_type t;
  WAYBILL_RETURN_IF_ERROR(TypeOf(c, v, p, f, &t));
  if (t == od::json_type::null) return Status::Ok();
  if (t != od::json_type::number) return TypeError(p, f, "a number", t);
  const char* at = v.raw_json_token().data();
  double d = 0;
  if (auto e = v.get_double().get(d)) return c.Malformed(p, f, e, at);
  *out = d;
  return Status::Ok();
}

// Money as a decimal string or an exact number token; resolved once the currency is known.
Status ReadMoney(Ctx& c, od::value& v, const Path& p, std::string_view f, PendingAmount* out,
                 bool* present) {
  od::json_type t;
  WAYBILL_RETURN_IF_ERROR(TypeOf(c, v, p, f, &t));
  *present = false;
  if (t == od::json_type::null) return Status::Ok();
  const char* at = v.raw_json_token().data();
  if (t == od::json_type::string) {
    if (auto e = v.get_string().get(out->text)) return c.Malformed(p, f, e, at);
    if (out->text.empty()) return OmitInstead(p, f);
    out->is_number = false;
  } else if (t == od::json_type::number) {
    out->text = TrimTrailingSpace(v.raw_json_token());
    std::string_view problem = JsonNumberToDecimal(out->text);
    if (!problem.empty()) return c.Malformed(p, f, problem, at);
    out->is_number = true;
  } else {
    return TypeError(p, f, "a decimal string or a number", t);
  }
  out->at = at;
  *present = true;
  return Status::Ok();
}

Status ResolveMoney(Ctx& c, const PendingAmount& a, std::string_view currency, const Path& p,
                    std::string_view f, std::int64_t* out) {
  std::string_view text = a.text;
  if (a.is_number) {
    std::string_view problem = JsonNumberToDecimal(a.text, &text, &c.scratch->number);
    if (!problem.empty()) return Fail(p, f, std::string(a.text) + ": " + std::string(problem));
  }
  Result<std::int64_t> r = ParseMoney(text, currency);
  if (!r.ok()) return Fail(p, f, r.status().message());
  *out = *r;
  return Status::Ok();
}

// Walks a value nobody asked for: checks it is well-formed and not nested too deeply.
// `depth` is the nesting level `v` has if it is a container (the root object is level 1).
Status SkipUnknown(Ctx& c, od::value v, int depth, const Path& p, std::string_view key) {
  od::json_type t;
  WAYBILL_RETURN_IF_ERROR(TypeOf(c, v, p, key, &t));
  const char* at = v.raw_json_token().data();
  switch (t) {
    case od::json_type::object: {
      if (depth > kMaxDepth) {
        return Fail(p, key, "nesting deeper than " + std::to_string(kMaxDepth) + " levels");
      }
      od::object obj;
      if (auto e = v.get_object().get(obj)) return c.Malformed(p, key, e, at);
      for (auto fr : obj) {
        if (auto e = fr.error()) return c.Malformed(p, key, e, nullptr);
        od::field& field = fr.value_unsafe();
        std::string_view k;
        if (auto e = field.unescaped_key().get(k)) return c.Malformed(p, key, e, nullptr);
        WAYBILL_RETURN_IF_ERROR(SkipUnknown(c, field.value(), depth + 1, p, key));
      }
      return Status::Ok();
    }
    case od::json_type::array: {
      if (depth > kMaxDepth) {
        return Fail(p, key, "nesting deeper than " + std::to_string(kMaxDepth) + " levels");
      }
      od::array arr;
      if (auto e = v.get_array().get(arr)) return c.Malformed(p, key, e, at);
      for (auto er : arr) {
        if (auto e = er.error()) return c.Malformed(p, key, e, nullptr);
        WAYBILL_RETURN_IF_ERROR(SkipUnknown(c, er.value_unsafe(), depth + 1, p, key));
      }
      return Status::Ok();
    }
    case od::json_type::string: {
      std::string_view s;
      if (auto e = v.get_string().get(s)) return c.Malformed(p, key, e, at);
      return Status::Ok();
    }
    case od::json_type::number: {
      std::string_view problem = JsonNumberToDecimal(TrimTrailingSpace(v.raw_json_token()));
      if (!problem.empty()) return c.Malformed(p, key, problem, at);
      return Status::Ok();
    }
    case od::json_type::boolean: {
      bool b = false;
      if (auto e = v.get_bool().get(b)) return c.Malformed(p, key, e, at);
      return Status::Ok();
    }
    case od::json_type::null:
      return Status::Ok();
  }
  return Status::Ok();
}

// Reads an object value; *present is false for null.
Status ReadObject(Ctx& c, od::value& v, const Path& p, std::string_view f, od::object* out,
                  bool* present) {
  od::json_type t;
  WAYBILL_RETURN_IF_ERROR(TypeOf(c, v, p, f, &t));
  *present = false;
  if (t == od::json_type::null) return Status::Ok();
  if (t != od::json_type::object) return TypeError(p, f, "an object", t);
  const char* at = v.raw_json_token().data();
  if (auto e = v.get_object().get(*out)) return c.Malformed(p, f, e, at);
  *present = true;
  return Status::Ok();
}

Status ReadArray(Ctx& c, od::value& v, const Path& p, std::string_view f, od::array* out,
                 bool* present) {
  od::json_type t;
  WAYBILL_RETURN_IF_ERROR(TypeOf(c, v, p, f, &t));
  *present = false;
  if (t == od::json_type::null) return Status::Ok();
  if (t != od::json_type::array) return TypeError(p, f, "an array", t);
  const char* at = v.raw_json_token().data();
  if (auto e = v.get_array().get(*out)) return c.Malformed(p, f, e, at);
  *present = true;
  return Status::Ok();
}

// Iterates the fields of a small object once: `keys` names the known keys (at most 32), `fn`
// is called with the key's index and value. Unknown keys are walked by SkipUnknown; a repeated
// known key is an error. `depth` is the object's own nesting level.
template <std::size_t N, typename Fn>
Status ForEachField(Ctx& c, od::object& obj, const Path& p, int depth,
                    const std::string_view (&keys)[N], Fn&& fn) {
  static_assert(N <= 32);
  std::uint32_t seen = 0;
  for (auto fr : obj) {
    if (auto e = fr.error()) return c.Malformed(p, "", e, nullptr);
    od::field& field = fr.value_unsafe();
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return c.Malformed(p, "", e, nullptr);
    std::size_t id = N;
    for (std::size_t i = 0; i < N; ++i) {
      if (keys[i] == key) {
        id = i;
        break;
      }
    }
    if (id == N) {
      WAYBILL_RETURN_IF_ERROR(SkipUnknown(c, field.value(), depth + 1, p, key));
      continue;
    }
    const std::uint32_t bit = std::uint32_t{1} << id;
    if (seen & bit) return Fail(p, key, "duplicate key");
    seen |= bit;
    od::value v = field.value();
    WAYBILL_RETURN_IF_ERROR(fn(id, v));
  }
  return Status::Ok();
}

constexpr std::string_view kLocationKeys[] = {"name",     "city", "region", "country",
                                              "unlocode", "lat",  "lon"};

Status ParseLocation(Ctx& c, od::object& obj, const Path& p, int depth, Location* loc) {
  return ForEachField(c, obj, p, depth, kLocationKeys, [&](std::size_t id, od::value& v) {
    switch (id) {
      case 0:
        return ReadOptString(c, v, p, "name", &loc->name);
      case 1:
        return ReadOptString(c, v, p, "city", &loc->city);
      case 2:
        return ReadOptString(c, v, p, "region", &loc->region);
      case 3:
        return ReadOptString(c, v, p, "country", &loc->country);
      case 4:
        return ReadOptString(c, v, p, "unlocode", &loc->unlocode);
      case 5:
        return ReadOptDouble(c, v, p, "lat", &loc->lat);
      default:
        return ReadOptDouble(c, v, p, "lon", &loc->lon);
    }
  });
}

// Reads an optional location-valued field (`location`, `order.ship_to`).
Status ReadLocation(Ctx& c, od::value& v, const Path& parent, std::string_view f,
                    std::string_view path, int depth, std::optional<Location>* out) {
  od::object obj;
  bool present = false;
  WAYBILL_RETURN_IF_ERROR(ReadObject(c, v, parent, f, &obj, &present));
  if (!present) return Status::Ok();
  Location loc;
  WAYBILL_RETURN_IF_ERROR(ParseLocation(c, obj, Path{path}, depth, &loc));
  *out = std::move(loc);
  return Status::Ok();
}

// A producer's `principal` is an unknown key (ignored); only an export's is read.
constexpr std::string_view kSourceKeys[] = {"system", "format", "partner"};
constexpr std::string_view kExportedSourceKeys[] = {"system", "format", "partner", "principal"};

Status ParseSource(Ctx& c, od::object& obj, Source* src) {
  const Path p{"source"};
  std::optional<SourceSystem> system;
  bool has_format = false;
  auto field = [&](std::size_t id, od::value& v) -> Status {
    switch (id) {
      case 0:
        return ReadEnum(c, v, p, "system", &ParseSourceSystem, "erp, tms, carrier, ops", &system);
      case 1: {
        std::string_view s;
        WAYBILL_RETURN_IF_ERROR(ReadString(c, v, p, "format", &s, &has_format));
        if (has_format && s.empty()) return OmitInstead(p, "format");
        if (has_format) src->format.assign(s);
        return Status::Ok();
      }
      case 2:
        return ReadOptString(c, v, p, "partner", &src->partner);
      default:
        return ReadOptString(c, v, p, "principal", &src->principal);
    }
  };
  WAYBILL_RETURN_IF_ERROR(c.exported ? ForEachField(c, obj, p, 2, kExportedSourceKeys, field)
                                     : ForEachField(c, obj, p, 2, kSourceKeys, field));
  if (!system) return Fail(p, "system", "required");
  src->system = *system;
  if (!has_format) src->format = "canonical";
  return Status::Ok();
}

constexpr std::string_view kReferenceKeys[] = {"type", "value"};

Status ReadReferences(Ctx& c, od::value& v, std::vector<Reference>* refs) {
  const Path root{};
  od::array arr;
  bool present = false;
  WAYBILL_RETURN_IF_ERROR(ReadArray(c, v, root, "references", &arr, &present));
  if (!present) return Status::Ok();
  std::ptrdiff_t i = 0;
  for (auto er : arr) {
    if (auto e = er.error()) return c.Malformed(root, "references", e, nullptr);
    if (refs->size() >= kMaxReferences) {
      return Fail(root, "references",
                  "more than " + std::to_string(kMaxReferences) + " entries are not allowed");
    }
    const Path ep{"references", i};
    od::value ev = er.value_unsafe();
    od::object obj;
    bool obj_present = false;
    WAYBILL_RETURN_IF_ERROR(ReadObject(c, ev, ep, "", &obj, &obj_present));
    if (!obj_present) return Fail(ep, "", "expected an object, got null");
    Reference ref;
    bool has_type = false, has_value = false;
    WAYBILL_RETURN_IF_ERROR(
        ForEachField(c, obj, ep, 3, kReferenceKeys, [&](std::size_t id, od::value& fv) {
          return id == 0 ? ReadRequiredString(c, fv, ep, "type", &ref.type, &has_type)
                         : ReadRequiredString(c, fv, ep, "value", &ref.value, &has_value);
        }));
    if (!has_type) return Fail(ep, "type", "required");
    if (!has_value) return Fail(ep, "value", "required");
    refs->push_back(std::move(ref));
    ++i;
  }
  return Status::Ok();
}

constexpr std::string_view kEstimateKeys[] = {"estimated_at", "of", "issued_at"};

Status ParseEstimate(Ctx& c, od::object& obj, Estimate* est, bool* issued_at_given) {
  const Path p{"estimate"};
  bool has_estimated_at = false;
  std::optional<EstimateOf> of;
  WAYBILL_RETURN_IF_ERROR(
      ForEachField(c, obj, p, 2, kEstimateKeys, [&](std::size_t id, od::value& v) {
        switch (id) {
          case 0:
            return ReadTime(c, v, p, "estimated_at", &est->estimated_at, &has_estimated_at);
          case 1:
            return ReadEnum(c, v, p, "of", &ParseEstimateOf, "delivery, arrival, pickup, departure",
                            &of);
          default:
            return ReadTime(c, v, p, "issued_at", &est->issued_at, issued_at_given);
        }
      }));
  if (!has_estimated_at) return Fail(p, "estimated_at", "required");
  if (!of) return Fail(p, "of", "required");
  est->of = *of;
  return Status::Ok();
}

constexpr std::string_view kLineKeys[] = {"code", "description", "amount", "currency"};

Status ParseChargeLine(Ctx& c, od::object& obj, const Path& p, ChargeLine* line,
                       PendingAmount* amount) {
  bool has_code = false, has_amount = false;
  WAYBILL_RETURN_IF_ERROR(ForEachField(c, obj, p, 4, kLineKeys, [&](std::size_t id, od::value& v) {
    switch (id) {
      case 0:
        return ReadRequiredString(c, v, p, "code", &line->code, &has_code);
      case 1:
        return ReadOptString(c, v, p, "description", &line->description);
      case 2:
        return ReadMoney(c, v, p, "amount", amount, &has_amount);
      default: {
        std::string_view s;
        WAYBILL_RETURN_IF_ERROR(ReadString(c, v, p, "currency", &s, &amount->currency_given));
        if (amount->currency_given && s.empty()) return OmitInstead(p, "currency");
        if (amount->currency_given) line->currency.assign(s);
        return Status::Ok();
      }
    }
  }));
  if (!has_code) return Fail(p, "code", "required");
  if (!has_amount) return Fail(p, "amount", "required");
  return Status::Ok();
}

constexpr std::string_view kChargesKeys[] = {"basis", "document", "currency", "total", "lines"};

Status ParseCharges(Ctx& c, od::object& obj, Charges* ch) {
  const Path p{"charges"};
  std::optional<ChargeBasis> basis;
  bool has_currency = false, has_total = false;
  PendingAmount total;
  std::vector<PendingAmount>& amounts = c.scratch->amounts;
  amounts.clear();
  WAYBILL_RETURN_IF_ERROR(
      ForEachField(c, obj, p, 2, kChargesKeys, [&](std::size_t id, od::value& v) -> Status {
        switch (id) {
          case 0:
            return ReadEnum(c, v, p, "basis", &ParseChargeBasis, "quoted, invoiced, posted",
                            &basis);
          case 1:
            return ReadOptString(c, v, p, "document", &ch->document);
          case 2:
            return ReadRequiredString(c, v, p, "currency", &ch->currency, &has_currency);
          case 3:
            return ReadMoney(c, v, p, "total", &total, &has_total);
          default:
            break;
        }
        od::array arr;
        bool present = false;
        WAYBILL_RETURN_IF_ERROR(ReadArray(c, v, p, "lines", &arr, &present));
        if (!present) return Status::Ok();
        std::ptrdiff_t i = 0;
        for (auto er : arr) {
          if (auto e = er.error()) return c.Malformed(p, "lines", e, nullptr);
          if (ch->lines.size() >= kMaxChargeLines) {
            return Fail(p, "lines",
                        "more than " + std::to_string(kMaxChargeLines) + " lines are not allowed");
          }
          const Path lp{"charges.lines", i};
          od::value ev = er.value_unsafe();
          od::object line_obj;
          bool obj_present = false;
          WAYBILL_RETURN_IF_ERROR(ReadObject(c, ev, lp, "", &line_obj, &obj_present));
          if (!obj_present) return Fail(lp, "", "expected an object, got null");
          ChargeLine line;
          PendingAmount amount;
          WAYBILL_RETURN_IF_ERROR(ParseChargeLine(c, line_obj, lp, &line, &amount));
          ch->lines.push_back(std::move(line));
          amounts.push_back(amount);
          ++i;
        }
        return Status::Ok();
      }));
  if (!basis) return Fail(p, "basis", "required");
  ch->basis = *basis;
  if (!has_currency) return Fail(p, "currency", "required");
  if (ch->currency.empty()) return Fail(p, "currency", "must not be empty");
  if (!CurrencyExponent(ch->currency)) {
    return Fail(p, "currency", "unknown ISO 4217 currency " + QuoteVerbatim(ch->currency));
  }
  std::int64_t sum = 0;
  bool any_same_currency = false;
  for (std::size_t i = 0; i < ch->lines.size(); ++i) {
    ChargeLine& line = ch->lines[i];
    const Path lp{"charges.lines", static_cast<std::ptrdiff_t>(i)};
    if (!amounts[i].currency_given) {
      line.currency = ch->currency;
    } else if (!CurrencyExponent(line.currency)) {
      return Fail(lp, "currency", "unknown ISO 4217 currency " + QuoteVerbatim(line.currency));
    }
    WAYBILL_RETURN_IF_ERROR(ResolveMoney(c, amounts[i], line.currency, lp, "amount", &line.amount));
    if (line.currency == ch->currency) {
      any_same_currency = true;
      if (__builtin_add_overflow(sum, line.amount, &sum)) {
        return Fail(lp, "amount", "the sum of the lines in " + ch->currency + " overflows");
      }
    }
  }
  if (has_total) {
    return ResolveMoney(c, total, ch->currency, p, "total", &ch->total);
  }
  if (!any_same_currency) {
    return Fail(p, "total", "required when no line is in the charges currency " + ch->currency);
  }
  ch->total = sum;
  return Status::Ok();
}

constexpr std::string_view kPromiseKeys[] = {"date", "window_start", "window_end"};
constexpr std::string_view kOrderKeys[] = {"ship_to", "promised"};

Status ParseOrder(Ctx& c, od::object& obj, OrderBody* order) {
  const Path p{"order"};
  return ForEachField(c, obj, p, 2, kOrderKeys, [&](std::size_t id, od::value& v) -> Status {
    if (id == 0) return ReadLocation(c, v, p, "ship_to", "order.ship_to", 3, &order->ship_to);
    od::object pobj;
    bool present = false;
    WAYBILL_RETURN_IF_ERROR(ReadObject(c, v, p, "promised", &pobj, &present));
    if (!present) return Status::Ok();
    const Path pp{"order.promised"};
    Promise promise;
    WAYBILL_RETURN_IF_ERROR(
        ForEachField(c, pobj, pp, 3, kPromiseKeys, [&](std::size_t pid, od::value& pv) {
          switch (pid) {
            case 0:
              return ReadOptString(c, pv, pp, "date", &promise.date);
            case 1:
              return ReadOptTime(c, pv, pp, "window_start", &promise.window_start);
            default:
              return ReadOptTime(c, pv, pp, "window_end", &promise.window_end);
          }
        }));
    order->promised = std::move(promise);
    return Status::Ok();
  });
}

constexpr std::string_view kDocumentKeys[] = {"type", "number"};

Status ParseDocument(Ctx& c, od::object& obj, DocumentBody* doc) {
  const Path p{"document"};
  bool has_type = false;
  WAYBILL_RETURN_IF_ERROR(
      ForEachField(c, obj, p, 2, kDocumentKeys, [&](std::size_t id, od::value& v) {
        return id == 0 ? ReadRequiredString(c, v, p, "type", &doc->type, &has_type)
                       : ReadOptString(c, v, p, "number", &doc->number);
      }));
  if (!has_type) return Fail(p, "type", "required");
  return Status::Ok();
}

enum class RootKey : std::uint8_t {
  kEventId,
  kKind,
  kSchemaVersion,
  kOccurredAt,
  kOccurredOffset,
  kSource,
  kShipmentId,
  kOrderId,
  kCustomerId,
  kCarrier,
  kReferences,
  kCorrelationId,
  kStatus,
  kSourceCode,
  kReasonCode,
  kLocation,
  kEstimate,
  kCharges,
  kOrder,
  kDocument,
  // Read only by ParseExported; unknown keys to Parse.
  kSeq,
  kRecordedAt,
  kPrevHash,
  kHash,
  kRawHash,
  kUnknown,
};

bool IsExportOnlyKey(RootKey k) { return k >= RootKey::kSeq && k < RootKey::kUnknown; }

// One switch on the length and a character or two, then a single comparison.
RootKey LookupRootKey(std::string_view k) {
  RootKey cand = RootKey::kUnknown;
  std::string_view name;
  auto pick = [&](RootKey key, std::string_view n) {
    cand = key;
    name = n;
  };
  switch (k.size()) {
    case 3:
      pick(RootKey::kSeq, "seq");
      break;
    case 4:
      if (k[0] == 'k') {
        pick(RootKey::kKind, "kind");
      } else {
        pick(RootKey::kHash, "hash");
      }
      break;
    case 5:
      pick(RootKey::kOrder, "order");
      break;
    case 6:
      if (k[1] == 'o') {
        pick(RootKey::kSource, "source");
      } else {
        pick(RootKey::kStatus, "status");
      }
      break;
    case 7:
      if (k[1] == 'a') {
        pick(RootKey::kCarrier, "carrier");
      } else {
        pick(RootKey::kCharges, "charges");
      }
      break;
    case 8:
      switch (k[0]) {
        case 'e':
          if (k[1] == 'v') {
            pick(RootKey::kEventId, "event_id");
          } else {
            pick(RootKey::kEstimate, "estimate");
          }
          break;
        case 'o':
          pick(RootKey::kOrderId, "order_id");
          break;
        case 'l':
          pick(RootKey::kLocation, "location");
          break;
        case 'd':
          pick(RootKey::kDocument, "document");
          break;
        case 'r':
          pick(RootKey::kRawHash, "raw_hash");
          break;
        default:
          break;
      }
      break;
    case 9:
      pick(RootKey::kPrevHash, "prev_hash");
      break;
    case 10:
      pick(RootKey::kReferences, "references");
      break;
    case 11:
      switch (k[0]) {
        case 'o':
          pick(RootKey::kOccurredAt, "occurred_at");
          break;
        case 's':
          if (k[1] == 'h') {
            pick(RootKey::kShipmentId, "shipment_id");
          } else {
            pick(RootKey::kSourceCode, "source_code");
          }
          break;
        case 'c':
          pick(RootKey::kCustomerId, "customer_id");
          break;
        case 'r':
          if (k[2] == 'a') {
            pick(RootKey::kReasonCode, "reason_code");
          } else {
            pick(RootKey::kRecordedAt, "recorded_at");
          }
          break;
        default:
          break;
      }
      break;
    case 14:
      if (k[0] == 's') {
        pick(RootKey::kSchemaVersion, "schema_version");
      } else {
        pick(RootKey::kCorrelationId, "correlation_id");
      }
      break;
    case 15:
      pick(RootKey::kOccurredOffset, "occurred_offset");
      break;
    default:
      break;
  }
  return cand != RootKey::kUnknown && k == name ? cand : RootKey::kUnknown;
}

// Values of the root object that are resolved after all its fields are read.
struct RootState {
  std::string_view occurred_at;
  std::string_view occurred_offset;
  bool has_kind = false;
  bool has_occurred_at = false;
  bool has_occurred_offset = false;
  bool has_source = false;
  bool has_shipment_id = false;
  bool issued_at_given = false;
  int ledger_fields = 0;  // how many of seq, recorded_at, prev_hash, hash were given
};

Status ReadHash(Ctx& c, od::value& v, const Path& p, std::string_view f, Sha256* out,
                bool* present) {
  std::string_view s;
  WAYBILL_RETURN_IF_ERROR(ReadString(c, v, p, f, &s, present));
  if (!*present) return Status::Ok();
  std::optional<Sha256> h = ParseSha256Hex(s);
  if (!h) return Fail(p, f, QuoteVerbatim(s) + " is not 64 lower-case hex digits");
  *out = *h;
  return Status::Ok();
}

Status ReadRootField(Ctx& c, RootKey key, od::value& v, Event* ev, RootState* st) {
  const Path p{};
  switch (key) {
    case RootKey::kEventId: {
      std::string_view s;
      bool present = false;
      WAYBILL_RETURN_IF_ERROR(ReadString(c, v, p, "event_id", &s, &present));
      if (present && s.empty()) return OmitInstead(p, "event_id");
      if (present) ev->event_id.assign(s);
      return Status::Ok();
    }
    case RootKey::kKind: {
      std::optional<EventKind> kind;
      WAYBILL_RETURN_IF_ERROR(ReadEnum(c, v, p, "kind", &ParseEventKind,
                                       "milestone, estimate, charges, order, document", &kind));
      st->has_kind = kind.has_value();
      if (kind) ev->kind = *kind;
      return Status::Ok();
    }
    case RootKey::kSchemaVersion: {
      od::json_type t;
      WAYBILL_RETURN_IF_ERROR(TypeOf(c, v, p, "schema_version", &t));
      if (t == od::json_type::null) return Status::Ok();
      if (t != od::json_type::number) return TypeError(p, "schema_version", "a number", t);
      std::string_view tok = TrimTrailingSpace(v.raw_json_token());
      std::uint64_t u = 0;
      if (v.get_uint64().get(u) != simdjson::SUCCESS ||
          u > std::numeric_limits<std::uint32_t>::max()) {
        return Fail(p, "schema_version", std::string(tok) + " is not a valid schema version");
      }
      ev->schema_version = static_cast<std::uint32_t>(u);
      return Status::Ok();
    }
    case RootKey::kOccurredAt:
      WAYBILL_RETURN_IF_ERROR(
          ReadString(c, v, p, "occurred_at", &st->occurred_at, &st->has_occurred_at));
      if (st->has_occurred_at && st->occurred_at.empty()) {
        return Fail(p, "occurred_at", "must not be empty");
      }
      return Status::Ok();
    case RootKey::kOccurredOffset:
      WAYBILL_RETURN_IF_ERROR(
          ReadString(c, v, p, "occurred_offset", &st->occurred_offset, &st->has_occurred_offset));
      if (st->has_occurred_offset && st->occurred_offset.empty()) {
        return OmitInstead(p, "occurred_offset");
      }
      return Status::Ok();
    case RootKey::kSource: {
      od::object obj;
      WAYBILL_RETURN_IF_ERROR(ReadObject(c, v, p, "source", &obj, &st->has_source));
      if (!st->has_source) return Status::Ok();
      return ParseSource(c, obj, &ev->source);
    }
    case RootKey::kShipmentId:
      return ReadRequiredString(c, v, p, "shipment_id", &ev->shipment_id, &st->has_shipment_id);
    case RootKey::kOrderId:
      return ReadOptString(c, v, p, "order_id", &ev->order_id);
    case RootKey::kCustomerId:
      return ReadOptString(c, v, p, "customer_id", &ev->customer_id);
    case RootKey::kCarrier:
      return ReadOptString(c, v, p, "carrier", &ev->carrier);
    case RootKey::kReferences:
      return ReadReferences(c, v, &ev->references);
    case RootKey::kCorrelationId:
      return ReadOptString(c, v, p, "correlation_id", &ev->correlation_id);
    case RootKey::kStatus:
      return ReadEnum(c, v, p, "status", &ParseShipmentStatus,
                      "ORDER_RELEASED, TENDERED, TENDER_ACCEPTED, TENDER_DECLINED, AT_PICKUP, "
                      "PICKED_UP, IN_TRANSIT, DELAYED, AT_DELIVERY, DELIVERED, CANCELLED",
                      &ev->status);
    case RootKey::kSourceCode:
      return ReadOptString(c, v, p, "source_code", &ev->source_code);
    case RootKey::kReasonCode:
      return ReadOptString(c, v, p, "reason_code", &ev->reason_code);
    case RootKey::kLocation:
      return ReadLocation(c, v, p, "location", "location", 2, &ev->location);
    case RootKey::kEstimate: {
      od::object obj;
      bool present = false;
      WAYBILL_RETURN_IF_ERROR(ReadObject(c, v, p, "estimate", &obj, &present));
      if (!present) return Status::Ok();
      Estimate est;
      WAYBILL_RETURN_IF_ERROR(ParseEstimate(c, obj, &est, &st->issued_at_given));
      ev->estimate = est;
      return Status::Ok();
    }
    case RootKey::kCharges: {
      od::object obj;
      bool present = false;
      WAYBILL_RETURN_IF_ERROR(ReadObject(c, v, p, "charges", &obj, &present));
      if (!present) return Status::Ok();
      Charges ch;
      WAYBILL_RETURN_IF_ERROR(ParseCharges(c, obj, &ch));
      ev->charges = std::move(ch);
      return Status::Ok();
    }
    case RootKey::kOrder: {
      od::object obj;
      bool present = false;
      WAYBILL_RETURN_IF_ERROR(ReadObject(c, v, p, "order", &obj, &present));
      if (!present) return Status::Ok();
      OrderBody order;
      WAYBILL_RETURN_IF_ERROR(ParseOrder(c, obj, &order));
      ev->order = std::move(order);
      return Status::Ok();
    }
    case RootKey::kDocument: {
      od::object obj;
      bool present = false;
      WAYBILL_RETURN_IF_ERROR(ReadObject(c, v, p, "document", &obj, &present));
      if (!present) return Status::Ok();
      DocumentBody doc;
      WAYBILL_RETURN_IF_ERROR(ParseDocument(c, obj, &doc));
      ev->document = std::move(doc);
      return Status::Ok();
    }
    case RootKey::kSeq: {
      od::json_type t;
      WAYBILL_RETURN_IF_ERROR(TypeOf(c, v, p, "seq", &t));
      if (t == od::json_type::null) return Status::Ok();
      if (t != od::json_type::number) return TypeError(p, "seq", "a number", t);
      std::uint64_t u = 0;
      if (v.get_uint64().get(u) != simdjson::SUCCESS || u == 0) {
        return Fail(p, "seq",
                    std::string(TrimTrailingSpace(v.raw_json_token())) +
                        " is not a sequence (a whole number from 1)");
      }
      ev->ledger.seq = u;
      ++st->ledger_fields;
      return Status::Ok();
    }
    case RootKey::kRecordedAt: {
      bool present = false;
      WAYBILL_RETURN_IF_ERROR(ReadTime(c, v, p, "recorded_at", &ev->ledger.recorded_at, &present));
      if (present) ++st->ledger_fields;
      return Status::Ok();
    }
    case RootKey::kPrevHash: {
      bool present = false;
      WAYBILL_RETURN_IF_ERROR(ReadHash(c, v, p, "prev_hash", &ev->ledger.prev_hash, &present));
      if (present) ++st->ledger_fields;
      return Status::Ok();
    }
    case RootKey::kHash: {
      bool present = false;
      WAYBILL_RETURN_IF_ERROR(ReadHash(c, v, p, "hash", &ev->ledger.hash, &present));
      if (present) ++st->ledger_fields;
      return Status::Ok();
    }
    case RootKey::kRawHash: {
      bool present = false;
      return ReadHash(c, v, p, "raw_hash", &ev->raw_hash, &present);
    }
    case RootKey::kUnknown:
      break;
  }
  return Status::Ok();
}

Status ParseRoot(Ctx& c, od::object& obj, Event* ev) {
  const Path root{};
  RootState st;
  std::uint32_t seen = 0;
  for (auto fr : obj) {
    if (auto e = fr.error()) return c.Malformed(root, "", e, nullptr);
    od::field& field = fr.value_unsafe();
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return c.Malformed(root, "", e, nullptr);
    RootKey k = LookupRootKey(key);
    if (!c.exported && IsExportOnlyKey(k)) k = RootKey::kUnknown;
    if (k == RootKey::kUnknown) {
      WAYBILL_RETURN_IF_ERROR(SkipUnknown(c, field.value(), 2, root, key));
      continue;
    }
    const std::uint32_t bit = std::uint32_t{1} << static_cast<unsigned>(k);
    if (seen & bit) return Fail(root, key, "duplicate key");
    seen |= bit;
    od::value v = field.value();
    WAYBILL_RETURN_IF_ERROR(ReadRootField(c, k, v, ev, &st));
  }

  // Anything after the root object is an error ({"a":1}} or two concatenated objects).
  const char* rest = nullptr;
  if (c.doc->current_location().get(rest) == simdjson::SUCCESS) {
    return c.Malformed(root, "", "unexpected content after the object", rest);
  }

  if (st.ledger_fields != 0 && st.ledger_fields != 4) {
    return Fail(root, "",
                "seq, recorded_at, prev_hash and hash go together: a ledger export line "
                "carries all four");
  }
  if (!st.has_kind) return Fail(root, "kind", "required");
  if (!st.has_occurred_at) return Fail(root, "occurred_at", "required");
  if (!st.has_source) return Fail(root, "source", "required");
  if (!st.has_shipment_id) return Fail(root, "shipment_id", "required");

  Result<ParsedTime> t = ParseRfc3339(st.occurred_at);
  if (!t.ok()) return Fail(root, "occurred_at", t.status().message());
  ev->occurred_at = t->utc;
  ev->occurred_offset_minutes = t->offset_minutes;
  if (st.has_occurred_offset) {
    Result<std::int32_t> off = ParseOffset(st.occurred_offset);
    if (!off.ok()) return Fail(root, "occurred_offset", off.status().message());
    const char last = st.occurred_at.back();
    if (last == 'Z' || last == 'z') {
      ev->occurred_offset_minutes = *off;  // our export form: UTC time plus original offset
    } else if (*off != t->offset_minutes) {
      return Fail(root, "occurred_offset",
                  QuoteVerbatim(st.occurred_offset) +
                      " does not match the offset of occurred_at (" +
                      FormatOffset(t->offset_minutes) + ")");
    }
  }
  if (ev->estimate && !st.issued_at_given) ev->estimate->issued_at = ev->occurred_at;
  return Status::Ok();
}

}  // namespace

struct EventJsonParser::Impl {
  simdjson::ondemand::parser parser;
  std::unique_ptr<char[]> buffer;  // a padded copy of the input
  std::size_t capacity = 0;
  Scratch scratch;
};

EventJsonParser::EventJsonParser() : impl_(std::make_unique<Impl>()) {}
EventJsonParser::~EventJsonParser() = default;

Result<Event> EventJsonParser::Parse(std::string_view json) { return Run(json, false); }

Result<Event> EventJsonParser::ParseExported(std::string_view json) { return Run(json, true); }

Result<Event> EventJsonParser::Run(std::string_view json, bool exported) {
  Impl& im = *impl_;
  const std::size_t needed = json.size() + simdjson::SIMDJSON_PADDING;
  if (im.capacity < needed) {
    const std::size_t cap = std::max(needed, std::max<std::size_t>(4096, 2 * im.capacity));
    im.buffer.reset(new char[cap]);
    im.capacity = cap;
  }
  if (!json.empty()) std::memcpy(im.buffer.get(), json.data(), json.size());
  // simdjson only needs the padding to be readable; zero it so nothing depends on old bytes.
  std::memset(im.buffer.get() + json.size(), 0, simdjson::SIMDJSON_PADDING);

  od::document doc;
  if (auto e = im.parser.iterate(im.buffer.get(), json.size(), im.capacity).get(doc)) {
    return Status::Invalid(std::string("malformed JSON: ") + simdjson::error_message(e));
  }
  Ctx c;
  c.base = im.buffer.get();
  c.size = json.size();
  c.doc = &doc;
  c.scratch = &im.scratch;
  c.exported = exported;

  od::json_type t;
  if (auto e = doc.type().get(t)) return c.Malformed(Path{}, "", e, c.base);
  if (t != od::json_type::object) {
    return Status::Invalid(std::string("expected a JSON object, got ") + TypeName(t));
  }
  od::object root;
  if (auto e = doc.get_object().get(root)) return c.Malformed(Path{}, "", e, nullptr);

  Event ev;
  WAYBILL_RETURN_IF_ERROR(ParseRoot(c, root, &ev));
  // An exported event is taken as stored: deriving or filling anything would change the
  // content its hash covers (ValidateEvent still names a missing event_id).
  if (!exported) {
    if (ev.event_id.empty()) ev.event_id = DeriveEventId(ev);
    FillCorrelationId(&ev);
  }
  WAYBILL_RETURN_IF_ERROR(ValidateEvent(ev));
  return ev;
}

}  // namespace waybill
