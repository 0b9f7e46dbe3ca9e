#include "ingest/mapping/message_mapper.h"

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "schemas/error_text.h"
#include "schemas/event_validate.h"
#include "schemas/money.h"

namespace waybill::ingest::mapping {
namespace {

// Where values are read from: a node of the tree and its input JSON path.
struct Scope {
  const JsonTree& tree;
  std::uint32_t root;
  std::string_view base;
};

enum class Got : std::uint8_t { kValue, kAbsent, kError };

// A located value: its node (or a constant) and the path it came from (for errors).
struct Located {
  const JsonNode* node = nullptr;
  const JsonPath* path = nullptr;  // null for a constant
  std::string_view constant;
};

bool IsIntegerToken(std::string_view t) { return t.find_first_of(".eE") == std::string_view::npos; }

// The reason `v` is not a valid identifier (empty when it is). The input is valid UTF-8
// already (simdjson checks it), so only length and control characters remain.
std::string IdProblem(std::string_view v) {
  if (v.size() > kMaxIdLength) {
    return QuoteForMessage(v) + " is " + std::to_string(v.size()) + " bytes long, at most " +
           std::to_string(kMaxIdLength) + " are allowed";
  }
  for (char ch : v) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) return QuoteForMessage(v) + " contains control characters";
  }
  return {};
}

std::string TextProblem(std::string_view v) {
  if (v.size() > kMaxTextLength) {
    return "is " + std::to_string(v.size()) + " bytes long, at most " +
           std::to_string(kMaxTextLength) + " are allowed";
  }
  for (char ch : v) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
      return "contains control characters other than tab, line feed and carriage return";
    }
  }
  return {};
}

class Run {
 public:
  Run(const CompiledMapping& m, std::string_view prefix, const AdapterContext& ctx,
      std::vector<std::string>* errors)
      : m_(m), prefix_(prefix), ctx_(ctx), errors_(errors) {}

  bool Holds(const Condition& c, const Scope& s, std::string* why) const;
  void Build(const EventTemplate& t, const Scope& s, Event* e);
  bool failed() const { return failed_; }
  void Error(std::string_view path, std::string_view reason);

 private:
  std::string PathOf(const Located& v, const Scope& s) const {
    return v.path != nullptr ? RenderPath(s.base, *v.path) : std::string(s.base);
  }
  Got Locate(const ValueRule& rule, const Scope& s, Located* out);
  Got ReadText(const ValueRule& rule, const Scope& s, Located* out, std::string_view* text);
  // Text with the rule's table applied (a miss keeps the source value).
  Got ReadMapped(const ValueRule& rule, const Scope& s, std::string_view* text, Located* at);
  void ReadId(const ValueRule& rule, const Scope& s, std::string* out);
  void ReadOptId(const ValueRule& rule, const Scope& s, std::optional<std::string>* out);
  void ReadOptText(const ValueRule& rule, const Scope& s, std::optional<std::string>* out);
  Got ReadTime(const ValueRule& rule, const Scope& s, ParsedTime* out);
  Got ReadDate(const ValueRule& rule, const Scope& s, std::string* out);
  Got ReadCurrency(const ValueRule& rule, const Scope& s, std::string* out);
  Got ReadMoney(const ValueRule& rule, const Scope& s, std::string_view currency,
                std::int64_t* out);
  void ReadLocation(const LocationRule& rule, const Scope& s, std::optional<Location>* out);
  void ReadStatus(const EventTemplate& t, const Scope& s, Event* e);
  void ReadCharges(const EventTemplate& t, const Scope& s, Event* e);

  const CompiledMapping& m_;
  std::string_view prefix_;
  const AdapterContext& ctx_;
  std::vector<std::string>* errors_;
  bool failed_ = false;
};

void Run::Error(std::string_view path, std::string_view reason) {
  failed_ = true;
  std::string e(prefix_);
  e += path;
  e += ": ";
  e += reason;
  // Two templates reading one field would report it twice.
  if (std::find(errors_->begin(), errors_->end(), e) == errors_->end()) {
    errors_->push_back(std::move(e));
  }
}

// Alternatives are tried in order; the first that exists wins. A path whose shape does not
// fit the message (a member of a string, an index into an object) is an error only when no
// alternative fits: with "items.results[0].ref" and "items[0].ref", a plain empty array is
// "missing", not "wrong type".
Got Run::Locate(const ValueRule& rule, const Scope& s, Located* out) {
  std::string problem_path, problem;
  bool fits = false;
  for (const JsonPath& path : rule.paths) {
    LookupResult r = Resolve(s.tree, s.root, path);
    switch (r.outcome) {
      case Lookup::kFound:
        fits = true;
        if (s.tree[r.node].type == JsonType::kNull) continue;  // null is absent
        out->node = &s.tree[r.node];
        out->path = &path;
        return Got::kValue;
      case Lookup::kMissing:
        fits = true;
        continue;
      case Lookup::kWrongType:
        if (problem.empty()) {
          problem_path = RenderPath(s.base, path, r.step);
          problem =
              std::string("expected ") +
              (path.steps()[r.step].kind == PathStep::Kind::kMember ? "an object" : "an array") +
              ", got " + std::string(JsonTypeName(r.got));
        }
        continue;
      case Lookup::kDuplicate:
        // Ambiguous input is always an error: another alternative must not hide it.
        Error(RenderPath(s.base, path, r.step + 1), "duplicate key (ambiguous)");
        return Got::kError;
    }
  }
  if (!problem.empty() && !fits) {
    Error(problem_path, problem);
    return Got::kError;
  }
  if (rule.required) {
    Error(RenderPath(s.base, rule.paths.front()), "required, missing");
    return Got::kError;
  }
  return Got::kAbsent;
}

Got Run::ReadText(const ValueRule& rule, const Scope& s, Located* at, std::string_view* text) {
  if (!rule.present) return Got::kAbsent;
  if (rule.constant) {
    at->constant = *rule.constant;
    *text = *rule.constant;
    return Got::kValue;
  }
  Got got = Locate(rule, s, at);
  if (got != Got::kValue) return got;
  const JsonNode& node = *at->node;
  if (node.type == JsonType::kString) {
    if (node.text.empty()) {
      if (!rule.required) return Got::kAbsent;  // ERPs send "" for "not set"
      Error(PathOf(*at, s), "required, empty");
      return Got::kError;
    }
    *text = node.text;
    return Got::kValue;
  }
  if (node.type == JsonType::kNumber && IsIntegerToken(node.text)) {
    *text = node.text;  // numeric ids ("ControlNumber": 42) as their digits
    return Got::kValue;
  }
  Error(PathOf(*at, s), "expected a string, got " + std::string(JsonTypeName(node.type)) +
                            (node.type == JsonType::kNumber ? " " + std::string(node.text) : ""));
  return Got::kError;
}

Got Run::ReadMapped(const ValueRule& rule, const Scope& s, std::string_view* text, Located* at) {
  Got got = ReadText(rule, s, at, text);
  if (got == Got::kValue && rule.table != nullptr) {
    auto it = rule.table->find(*text);
    if (it != rule.table->end()) *text = it->second;
  }
  return got;
}

void Run::ReadId(const ValueRule& rule, const Scope& s, std::string* out) {
  Located at;
  std::string_view text;
  if (ReadMapped(rule, s, &text, &at) != Got::kValue) return;
  std::string problem = IdProblem(text);
  if (!problem.empty()) {
    Error(PathOf(at, s), problem);
    return;
  }
  out->assign(text);
}

void Run::ReadOptId(const ValueRule& rule, const Scope& s, std::optional<std::string>* out) {
  std::string v;
  ReadId(rule, s, &v);
  if (!v.empty()) *out = std::move(v);
}

void Run::ReadOptText(const ValueRule& rule, const Scope& s, std::optional<std::string>* out) {
  Located at;
  std::string_view text;
  if (ReadMapped(rule, s, &text, &at) != Got::kValue) return;
  std::string problem = TextProblem(text);
  if (!problem.empty()) {
    Error(PathOf(at, s), problem);
    return;
  }
  *out = std::string(text);
}

Got Run::ReadTime(const ValueRule& rule, const Scope& s, ParsedTime* out) {
  if (!rule.present) return Got::kAbsent;
  Located at;
  Got got = Locate(rule, s, &at);
  if (got != Got::kValue) return got;
  if (at.node->type == JsonType::kString && at.node->text.empty()) {
    if (!rule.required) return Got::kAbsent;
    Error(PathOf(at, s), "required, empty");
    return Got::kError;
  }
  Status first;
  for (TimeFormat f : rule.time) {
    Result<ParsedTime> t = ParseTimeValue(*at.node, f);
    if (t.ok()) {
      *out = *t;
      return Got::kValue;
    }
    if (first.ok()) first = t.status();
  }
  if (rule.time.size() == 1) {
    Error(PathOf(at, s), first.message());
  } else {
    std::string names;
    for (TimeFormat f : rule.time)
      names += (names.empty() ? "" : ", ") + std::string(TimeFormatName(f));
    Error(PathOf(at, s),
          QuoteForMessage(at.node->text) + " matches none of the time formats " + names);
  }
  return Got::kError;
}

Got Run::ReadDate(const ValueRule& rule, const Scope& s, std::string* out) {
  if (!rule.present) return Got::kAbsent;
  Located at;
  Got got = Locate(rule, s, &at);
  if (got != Got::kValue) return got;
  if (at.node->type == JsonType::kString && at.node->text.empty()) {
    if (!rule.required) return Got::kAbsent;
    Error(PathOf(at, s), "required, empty");
    return Got::kError;
  }
  Status first;
  for (TimeFormat f : rule.time) {
    Result<std::string> d = ParseDateValue(*at.node, f);
    if (d.ok()) {
      *out = std::move(d).value();
      return Got::kValue;
    }
    if (first.ok()) first = d.status();
  }
  if (rule.time.size() == 1) {
    Error(PathOf(at, s), first.message());
  } else {
    std::string names;
    for (TimeFormat f : rule.time)
      names += (names.empty() ? "" : ", ") + std::string(TimeFormatName(f));
    Error(PathOf(at, s),
          QuoteForMessage(at.node->text) + " matches none of the date formats " + names);
  }
  return Got::kError;
}

Got Run::ReadCurrency(const ValueRule& rule, const Scope& s, std::string* out) {
  Located at;
  std::string_view text;
  Got got = ReadMapped(rule, s, &text, &at);
  if (got != Got::kValue) return got;
  if (!CurrencyExponent(text)) {
    Error(PathOf(at, s), "unknown ISO 4217 currency " + QuoteForMessage(text));
    return Got::kError;
  }
  out->assign(text);
  return Got::kValue;
}

Got Run::ReadMoney(const ValueRule& rule, const Scope& s, std::string_view currency,
                   std::int64_t* out) {
  if (!rule.present) return Got::kAbsent;
  Located at;
  JsonNode constant;
  if (rule.constant) {
    constant.type = JsonType::kString;
    constant.text = *rule.constant;
    at.node = &constant;
  } else {
    Got got = Locate(rule, s, &at);
    if (got != Got::kValue) return got;
  }
  Result<std::int64_t> amount = ParseMoneyValue(*at.node, currency);
  if (!amount.ok()) {
    Error(PathOf(at, s), amount.status().message());
    return Got::kError;
  }
  *out = *amount;
  return Got::kValue;
}

void Run::ReadLocation(const LocationRule& rule, const Scope& s, std::optional<Location>* out) {
  if (!rule.present) return;
  Location loc;
  ReadOptText(rule.name, s, &loc.name);
  ReadOptText(rule.city, s, &loc.city);
  ReadOptText(rule.region, s, &loc.region);
  ReadOptId(rule.country, s, &loc.country);
  ReadOptId(rule.unlocode, s, &loc.unlocode);
  if (!(loc == Location{})) *out = std::move(loc);
}

void Run::ReadStatus(const EventTemplate& t, const Scope& s, Event* e) {
  if (!t.status.present) return;
  if (t.status.constant) {
    e->status = ParseShipmentStatus(*t.status.constant);
    return;
  }
  Located at;
  std::string_view code;
  if (ReadText(t.status, s, &at, &code) != Got::kValue) return;
  auto it = t.status.table->find(code);
  if (it != t.status.table->end()) {
    e->status = ParseShipmentStatus(it->second);
    return;
  }
  // Unknown codes are kept as the source's code, never guessed.
  std::string problem = IdProblem(code);
  if (!problem.empty()) {
    Error(PathOf(at, s), problem);
    return;
  }
  e->source_code = std::string(code);
}

void Run::ReadCharges(const EventTemplate& t, const Scope& s, Event* e) {
  Charges c;
  c.basis = t.basis;
  ReadOptId(t.charges_document, s, &c.document);
  const bool have_currency = ReadCurrency(t.charges_currency, s, &c.currency) == Got::kValue;

  std::string lines_path(s.base);
  if (t.lines.present) {
    // The array: the first "each" alternative that exists.
    // The array: the first "each" alternative that exists (shape errors as in Locate).
    std::uint32_t array = 0;
    bool found = false;
    bool fits = false;
    std::string problem_path, problem;
    for (const JsonPath& each : t.lines.each) {
      const std::size_t prefix = each.steps().size() - 1;
      LookupResult r = Resolve(s.tree, s.root, each, 0, prefix);
      if (r.outcome == Lookup::kMissing ||
          (r.outcome == Lookup::kFound && s.tree[r.node].type == JsonType::kNull)) {
        fits = true;
        continue;
      }
      if (r.outcome == Lookup::kWrongType) {
        if (problem.empty()) {
          problem_path = RenderPath(s.base, each, r.step);
          problem =
              std::string("expected ") +
              (each.steps()[r.step].kind == PathStep::Kind::kMember ? "an object" : "an array") +
              ", got " + std::string(JsonTypeName(r.got));
        }
        continue;
      }
      if (r.outcome == Lookup::kDuplicate) {
        Error(RenderPath(s.base, each, r.step + 1), "duplicate key (ambiguous)");
        return;
      }
      lines_path = RenderPath(s.base, each, prefix);
      if (s.tree[r.node].type != JsonType::kArray) {
        Error(lines_path,
              "expected an array, got " + std::string(JsonTypeName(s.tree[r.node].type)));
        return;
      }
      array = r.node;
      found = true;
      break;
    }
    if (!found && !fits && !problem.empty()) {
      Error(problem_path, problem);
      return;
    }
    if (found) {
      const JsonNode& arr = s.tree[array];
      if (arr.size > kMaxChargeLines) {
        Error(lines_path, "has " + std::to_string(arr.size) + " charge lines, at most " +
                              std::to_string(kMaxChargeLines) + " are allowed");
        return;
      }
      c.lines.reserve(arr.size);
      std::uint32_t k = 0;
      for (std::uint32_t el = array + 1; el < arr.end; el = s.tree[el].end, ++k) {
        const std::string base = lines_path + "[" + std::to_string(k) + "]";
        const Scope ls{s.tree, el, base};
        ChargeLine line;
        ReadId(t.lines.code, ls, &line.code);
        ReadOptText(t.lines.description, ls, &line.description);
        Got cur = ReadCurrency(t.lines.currency, ls, &line.currency);
        if (cur == Got::kAbsent && have_currency) line.currency = c.currency;
        if (cur == Got::kAbsent && !have_currency) continue;  // the charges currency is reported
        if (cur == Got::kError) continue;
        if (ReadMoney(t.lines.amount, ls, line.currency, &line.amount) != Got::kValue) continue;
        c.lines.push_back(std::move(line));
      }
    }
  }
  if (!have_currency || failed_) return;

  Got total = ReadMoney(t.charges_total, s, c.currency, &c.total);
  if (total == Got::kError) return;
  if (total == Got::kAbsent) {
    bool any = false;
    std::int64_t sum = 0;
    for (const ChargeLine& line : c.lines) {
      if (line.currency != c.currency) continue;  // no exchange rates here
      any = true;
      if (__builtin_add_overflow(sum, line.amount, &sum)) {
        Error(lines_path, "the sum of the charge lines in " + c.currency + " overflows");
        return;
      }
    }
    if (!any) {
      Error(lines_path, "no charge line is in the charges currency " + c.currency +
                            " and the mapping gives no total");
      return;
    }
    c.total = sum;
  }
  e->charges = std::move(c);
}

bool Run::Holds(const Condition& c, const Scope& s, std::string* why) const {
  if (c.kind == Condition::Kind::kAlways) return true;
  const JsonPath& path = *c.path;
  LookupResult r = Resolve(s.tree, s.root, path);
  const JsonNode* node = r.outcome == Lookup::kFound && s.tree[r.node].type != JsonType::kNull
                             ? &s.tree[r.node]
                             : nullptr;
  const std::string where = RenderPath(s.base, path);
  switch (c.kind) {
    case Condition::Kind::kAlways:
      return true;
    case Condition::Kind::kExists:
      if (node != nullptr) return true;
      *why = where + " is missing";
      return false;
    case Condition::Kind::kNonEmpty: {
      bool ok = node != nullptr;
      if (ok && (node->type == JsonType::kArray || node->type == JsonType::kObject)) {
        ok = node->size > 0;
      } else if (ok && node->type == JsonType::kString) {
        ok = !node->text.empty();
      }
      if (!ok) *why = where + " is missing or empty";
      return ok;
    }
    case Condition::Kind::kEquals:
      if (node != nullptr && node->type == JsonType::kString && node->text == c.value) return true;
      *why = where + " is not " + QuoteForMessage(c.value);
      return false;
  }
  return false;
}

void Run::Build(const EventTemplate& t, const Scope& s, Event* e) {
  failed_ = false;
  e->kind = t.kind;
  e->source.system = m_.source_system;
  e->source.format = m_.format;
  if (ctx_.partner && !ctx_.partner->empty()) e->source.partner = *ctx_.partner;

  ParsedTime occurred;
  if (ReadTime(t.occurred_at, s, &occurred) == Got::kValue) {
    e->occurred_at = occurred.utc;
    e->occurred_offset_minutes = occurred.offset_minutes;
  }
  ReadId(t.shipment_id, s, &e->shipment_id);
  ReadOptId(t.order_id, s, &e->order_id);
  ReadOptId(t.customer_id, s, &e->customer_id);
  ReadOptId(t.carrier, s, &e->carrier);
  ReadStatus(t, s, e);
  ReadOptId(t.source_code, s, &e->source_code);  // an explicit rule wins over a table miss
  ReadOptId(t.reason_code, s, &e->reason_code);
  for (const ReferenceRule& ref : t.references) {
    std::optional<std::string> value;
    ReadOptId(ref.value, s, &value);
    if (value) e->references.push_back(Reference{ref.type, std::move(*value)});
  }
  ReadLocation(t.location, s, &e->location);

  switch (t.kind) {
    case EventKind::kOrder: {
      OrderBody order;
      ReadLocation(t.ship_to, s, &order.ship_to);
      Promise promised;
      std::string date;
      if (ReadDate(t.promised_date, s, &date) == Got::kValue) promised.date = std::move(date);
      ParsedTime w;
      if (ReadTime(t.window_start, s, &w) == Got::kValue) promised.window_start = w.utc;
      if (ReadTime(t.window_end, s, &w) == Got::kValue) promised.window_end = w.utc;
      if (!(promised == Promise{})) order.promised = std::move(promised);
      if (!(order == OrderBody{})) e->order = std::move(order);
      break;
    }
    case EventKind::kCharges:
      ReadCharges(t, s, e);
      break;
    case EventKind::kDocument: {
      DocumentBody doc;
      ReadId(t.document_type, s, &doc.type);
      ReadOptId(t.document_number, s, &doc.number);
      e->document = std::move(doc);
      break;
    }
    case EventKind::kEstimate: {
      Estimate est;
      est.of = t.estimate_of;
      ParsedTime at;
      if (ReadTime(t.estimated_at, s, &at) == Got::kValue) est.estimated_at = at.utc;
      est.issued_at = e->occurred_at;
      if (ReadTime(t.issued_at, s, &at) == Got::kValue) est.issued_at = at.utc;
      e->estimate = est;
      break;
    }
    case EventKind::kMilestone:
      break;
  }

  if (t.derive_id) {
    if (!failed_) e->event_id = DeriveEventId(*e);
  } else {
    Located at;
    std::string_view id;
    if (ReadText(t.event_id, s, &at, &id) == Got::kValue) {
      std::string full(id);
      full += t.event_id.suffix;
      std::string problem = IdProblem(full);
      if (problem.empty()) {
        e->event_id = std::move(full);
      } else {
        Error(PathOf(at, s), "as event id " + problem);
      }
    }
  }
  if (failed_) return;
  FillCorrelationId(e);
  Status st = ValidateEvent(*e);
  if (!st.ok()) Error(s.base, "event " + QuoteForMessage(t.name) + ": " + st.message());
}

}  // namespace

void MessageMapper::Map(const JsonTree& tree, std::string_view base, std::string_view error_prefix,
                        const AdapterContext& ctx, MappedMessage* out) const {
  std::string prefix_path(error_prefix);
  if (tree.nodes.empty() || tree[0].type != JsonType::kObject) {
    const JsonType got = tree.nodes.empty() ? JsonType::kNull : tree[0].type;
    out->errors.push_back(prefix_path + std::string(base) + ": expected a JSON object, got " +
                          std::string(JsonTypeName(got)));
    return;
  }
  const Scope scope{tree, 0, base};
  Run run(mapping_, error_prefix, ctx, &out->errors);
  std::string reasons;
  bool any = false;
  bool any_failed = false;
  for (const EventTemplate& t : mapping_.events) {
    std::string why;
    if (!run.Holds(t.when, scope, &why)) {
      reasons += (reasons.empty() ? "" : "; ") + t.name + ": " + why;
      continue;
    }
    any = true;
    Event e;
    run.Build(t, scope, &e);
    if (run.failed()) {
      any_failed = true;
    } else {
      out->events.push_back(std::move(e));
    }
  }
  if (!any) run.Error(base, "no event template applies (" + reasons + ")");
  if (any_failed || !out->errors.empty()) out->events.clear();
}

}  // namespace waybill::ingest::mapping
