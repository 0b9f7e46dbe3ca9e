// Mapping file -> CompiledMapping. The file is small and read once, so it goes through the
// simdjson DOM; every check that can be made without a message is made here.
#include "ingest/mapping/mapping_file.h"

#include <simdjson.h>

#include <algorithm>
#include <initializer_list>
#include <set>

#include "schemas/error_text.h"

namespace waybill::ingest::mapping {
namespace {

namespace dom = simdjson::dom;

using Table = std::map<std::string, std::string, std::less<>>;

std::string Quote(std::string_view s) { return QuoteForMessage(s); }

Status Fail(std::string_view path, std::string_view reason) {
  std::string m(path);
  m += ": ";
  m += reason;
  return Status::Invalid(std::move(m));
}

std::string Member(std::string_view path, std::string_view key) {
  std::string p(path);
  p += '.';
  p += key;
  return p;
}

std::string Element(std::string_view path, std::size_t index) {
  std::string p(path);
  p += '[';
  p += std::to_string(index);
  p += ']';
  return p;
}

const char* TypeName(dom::element_type t) {
  switch (t) {
    case dom::element_type::ARRAY:
      return "array";
    case dom::element_type::OBJECT:
      return "object";
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE:
      return "number";
    case dom::element_type::STRING:
      return "string";
    case dom::element_type::BOOL:
      return "boolean";
    case dom::element_type::NULL_VALUE:
      return "null";
  }
  return "unknown";
}

Status Expected(std::string_view path, std::string_view what, dom::element el) {
  return Fail(path, "expected " + std::string(what) + ", got " + TypeName(el.type()));
}

// Fails on keys outside `allowed` and on repeated keys.
Status CheckKeys(dom::object object, std::string_view path,
                 std::initializer_list<std::string_view> allowed) {
  std::set<std::string_view> seen;
  for (dom::key_value_pair kv : object) {
    if (!seen.insert(kv.key).second) return Fail(Member(path, kv.key), "duplicate key");
    if (std::find(allowed.begin(), allowed.end(), kv.key) == allowed.end()) {
      std::string expected;
      for (std::string_view a : allowed) {
        if (!expected.empty()) expected += ", ";
        expected += a;
      }
      return Fail(Member(path, kv.key), "unknown key (expected one of " + expected + ")");
    }
  }
  return Status::Ok();
}

Status GetObject(dom::element el, std::string_view path, dom::object* out) {
  if (el.get(*out) != simdjson::SUCCESS) return Expected(path, "an object", el);
  return Status::Ok();
}

Status GetString(dom::element el, std::string_view path, std::string_view* out) {
  if (el.get(*out) != simdjson::SUCCESS) return Expected(path, "a string", el);
  return Status::Ok();
}

Status GetNonEmptyString(dom::element el, std::string_view path, std::string_view* out) {
  WAYBILL_RETURN_IF_ERROR(GetString(el, path, out));
  if (out->empty()) return Fail(path, "must not be empty");
  return Status::Ok();
}

// A string or a non-empty array of strings.
Status GetStrings(dom::element el, std::string_view path, std::vector<std::string_view>* out) {
  std::string_view s;
  if (el.get(s) == simdjson::SUCCESS) {
    out->push_back(s);
    return Status::Ok();
  }
  dom::array array;
  if (el.get(array) != simdjson::SUCCESS) {
    return Expected(path, "a string or an array of strings", el);
  }
  std::size_t i = 0;
  for (dom::element item : array) {
    WAYBILL_RETURN_IF_ERROR(GetString(item, Element(path, i++), &s));
    out->push_back(s);
  }
  if (out->empty()) return Fail(path, "must not be an empty array");
  return Status::Ok();
}

// Paths: a string or an array of alternatives. `each` paths end in their only [*]; others
// have none.
Status ParsePaths(dom::element el, std::string_view path, bool each, std::vector<JsonPath>* out) {
  std::vector<std::string_view> texts;
  WAYBILL_RETURN_IF_ERROR(GetStrings(el, path, &texts));
  const bool is_array = el.is<dom::array>();
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const std::string at = is_array ? Element(path, i) : std::string(path);
    Result<JsonPath> p = JsonPath::Parse(texts[i]);
    if (!p.ok()) return Fail(at, p.status().message());
    if (each) {
      if (p->each_count() != 1 || p->steps().back().kind != PathStep::Kind::kEach) {
        return Fail(at, "path " + Quote(texts[i]) +
                            ": an \"each\" path ends in [*] and has no other [*] "
                            "(\"Charges[*]\")");
      }
    } else if (p->each_count() != 0) {
      return Fail(at, "path " + Quote(texts[i]) +
                          ": [*] selects many values and a field takes one; use [0] for the "
                          "first, or a lines rule's \"each\"");
    }
    out->push_back(std::move(p).value());
  }
  return Status::Ok();
}

class Loader {
 public:
  explicit Loader(CompiledMapping* m) : m_(m) {}

  Status Load(dom::element root);

 private:
  Status LoadTables(dom::element el, std::string_view path);
  Status LoadTemplate(dom::element el, const std::string& path, EventTemplate* t);
  Status LoadValue(dom::element el, const std::string& path, ValueKind kind, ValueRule* out,
                   bool allow_suffix = false);
  Status LoadStatus(dom::element el, const std::string& path, ValueRule* out);
  Status LoadLocation(dom::element el, const std::string& path, LocationRule* out);
  Status LoadCondition(dom::element el, const std::string& path, Condition* out);
  Status LoadOrder(dom::element el, const std::string& path, EventTemplate* t);
  Status LoadCharges(dom::element el, const std::string& path, EventTemplate* t);
  Status LoadLines(dom::element el, const std::string& path, LinesRule* out);

  CompiledMapping* m_;
};

Status Loader::Load(dom::element root) {
  dom::object top;
  WAYBILL_RETURN_IF_ERROR(GetObject(root, "$", &top));
  WAYBILL_RETURN_IF_ERROR(CheckKeys(top, "$",
                                    {"$schema", "kind", "version", "format", "description", "input",
                                     "source_system", "tables", "events"}));
  dom::element el;
  std::string_view s;
  if (top["kind"].get(el)) return Fail("$.kind", "required (\"mapping\")");
  WAYBILL_RETURN_IF_ERROR(GetString(el, "$.kind", &s));
  if (s != "mapping") return Fail("$.kind", "expected \"mapping\", got " + Quote(s));

  if (top["version"].get(el))
    return Fail("$.version", "required (the mapping language version, 1)");
  std::int64_t version = 0;
  if (el.get(version) != simdjson::SUCCESS) return Expected("$.version", "an integer", el);
  if (version > kMappingLanguageVersion) {
    return Status::Unsupported("$.version: mapping language version " + std::to_string(version) +
                               " is newer than this Waybill reads (" +
                               std::to_string(kMappingLanguageVersion) + ")");
  }
  if (version < 1) return Fail("$.version", "must be at least 1");
  m_->version = static_cast<int>(version);

  if (top["format"].get(el)) return Fail("$.format", "required (the format name)");
  WAYBILL_RETURN_IF_ERROR(GetNonEmptyString(el, "$.format", &s));
  bool ok = s.size() <= 64 && ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9'));
  for (char c : s) ok &= (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  if (!ok) {
    return Fail("$.format", Quote(s) +
                                " is not a format name (lower-case letters, digits, '-' and '_', "
                                "at most 64, starting with a letter or digit)");
  }
  m_->format = std::string(s);

  if (!top["description"].get(el)) {
    WAYBILL_RETURN_IF_ERROR(GetString(el, "$.description", &s));
    m_->description = std::string(s);
  }
  if (!top["input"].get(el)) {
    WAYBILL_RETURN_IF_ERROR(GetString(el, "$.input", &s));
    if (s == "object") {
      m_->input = InputShape::kObject;
    } else if (s == "array") {
      m_->input = InputShape::kArray;
    } else if (s == "ndjson") {
      m_->input = InputShape::kNdjson;
    } else if (s == "auto") {
      m_->input = InputShape::kAuto;
    } else {
      return Fail("$.input",
                  "unknown input shape " + Quote(s) + " (expected object, array, ndjson or auto)");
    }
  }
  if (top["source_system"].get(el)) {
    return Fail("$.source_system", "required (erp, tms, carrier or ops)");
  }
  WAYBILL_RETURN_IF_ERROR(GetString(el, "$.source_system", &s));
  std::optional<SourceSystem> system = ParseSourceSystem(s);
  if (!system) {
    return Fail("$.source_system",
                "unknown source system " + Quote(s) + " (expected erp, tms, carrier or ops)");
  }
  m_->source_system = *system;

  if (!top["tables"].get(el)) WAYBILL_RETURN_IF_ERROR(LoadTables(el, "$.tables"));

  if (top["events"].get(el)) return Fail("$.events", "required (a list of event templates)");
  dom::array events;
  if (el.get(events) != simdjson::SUCCESS) return Expected("$.events", "an array", el);
  std::size_t i = 0;
  for (dom::element item : events) {
    EventTemplate t;
    WAYBILL_RETURN_IF_ERROR(LoadTemplate(item, Element("$.events", i), &t));
    for (std::size_t k = 0; k < m_->events.size(); ++k) {
      const EventTemplate& other = m_->events[k];
      if (other.name == t.name) {
        return Fail(Element("$.events", i) + ".name", "duplicate template name " + Quote(t.name) +
                                                          " (also events[" + std::to_string(k) +
                                                          "])");
      }
      bool same_id = !t.derive_id && !other.derive_id &&
                     t.event_id.suffix == other.event_id.suffix &&
                     t.event_id.paths.size() == other.event_id.paths.size();
      for (std::size_t p = 0; same_id && p < t.event_id.paths.size(); ++p) {
        same_id = t.event_id.paths[p].text() == other.event_id.paths[p].text();
      }
      if (same_id) {
        return Fail(Element("$.events", i) + ".event_id",
                    "gives the same id as events[" + std::to_string(k) +
                        "]; one message yielding both would have two events with one id (add a "
                        "\"suffix\")");
      }
    }
    m_->events.push_back(std::move(t));
    ++i;
  }
  if (m_->events.empty()) return Fail("$.events", "must hold at least one event template");
  return Status::Ok();
}

Status Loader::LoadTables(dom::element el, std::string_view path) {
  dom::object tables;
  WAYBILL_RETURN_IF_ERROR(GetObject(el, path, &tables));
  for (dom::key_value_pair kv : tables) {
    const std::string tpath = Member(path, kv.key);
    if (m_->tables.count(kv.key) != 0) return Fail(tpath, "duplicate table");
    dom::object entries;
    WAYBILL_RETURN_IF_ERROR(GetObject(kv.value, tpath, &entries));
    Table table;
    for (dom::key_value_pair e : entries) {
      std::string_view v;
      WAYBILL_RETURN_IF_ERROR(GetNonEmptyString(e.value, Member(tpath, e.key), &v));
      if (!table.emplace(std::string(e.key), std::string(v)).second) {
        return Fail(Member(tpath, e.key), "duplicate key");
      }
    }
    m_->tables.emplace(std::string(kv.key), std::move(table));
  }
  return Status::Ok();
}

Status Loader::LoadValue(dom::element el, const std::string& path, ValueKind kind, ValueRule* out,
                         bool allow_suffix) {
  dom::object rule;
  if (el.get(rule) != simdjson::SUCCESS) {
    return Expected(path, "a value rule (an object with \"path\" or \"const\")", el);
  }
  WAYBILL_RETURN_IF_ERROR(
      CheckKeys(rule, path, {"path", "const", "required", "table", "time", "suffix"}));
  out->present = true;
  dom::element v;
  std::string_view s;
  const bool has_path = !rule["path"].get(v);
  if (has_path) WAYBILL_RETURN_IF_ERROR(ParsePaths(v, path + ".path", false, &out->paths));
  const bool has_const = !rule["const"].get(v);
  if (has_const) {
    WAYBILL_RETURN_IF_ERROR(GetNonEmptyString(v, path + ".const", &s));
    out->constant = std::string(s);
  }
  if (has_path == has_const) return Fail(path, "needs exactly one of \"path\" and \"const\"");
  if (!rule["required"].get(v)) {
    if (v.get(out->required) != simdjson::SUCCESS) {
      return Expected(path + ".required", "true or false", v);
    }
  }
  const bool is_time = kind == ValueKind::kTime || kind == ValueKind::kDate;
  if (!rule["table"].get(v)) {
    if (kind != ValueKind::kText) return Fail(path + ".table", "only text fields take a table");
    if (has_const) return Fail(path + ".table", "a constant needs no table");
    WAYBILL_RETURN_IF_ERROR(GetString(v, path + ".table", &s));
    auto it = m_->tables.find(s);
    if (it == m_->tables.end()) {
      std::string names;
      for (const auto& [name, table] : m_->tables) names += (names.empty() ? "" : ", ") + name;
      return Fail(path + ".table", "unknown table " + Quote(s) +
                                       " (tables: " + (names.empty() ? "none" : names) + ")");
    }
    out->table = &it->second;
  }
  if (!rule["time"].get(v)) {
    if (!is_time) return Fail(path + ".time", "only time and date fields take a time format");
    std::vector<std::string_view> names;
    WAYBILL_RETURN_IF_ERROR(GetStrings(v, path + ".time", &names));
    const bool is_array = v.is<dom::array>();
    for (std::size_t i = 0; i < names.size(); ++i) {
      std::optional<TimeFormat> f = ParseTimeFormat(names[i]);
      if (!f) {
        return Fail(is_array ? Element(path + ".time", i) : path + ".time",
                    "unknown time format " + Quote(names[i]) + " (expected one of " +
                        std::string(TimeFormatNames()) + ")");
      }
      out->time.push_back(*f);
    }
  } else if (is_time) {
    return Fail(path + ".time",
                "required for a time field (one of " + std::string(TimeFormatNames()) + ")");
  }
  if (is_time && has_const) return Fail(path + ".const", "a time must come from the message");
  if (!rule["suffix"].get(v)) {
    if (!allow_suffix) return Fail(path + ".suffix", "only event_id takes a suffix");
    WAYBILL_RETURN_IF_ERROR(GetNonEmptyString(v, path + ".suffix", &s));
    out->suffix = std::string(s);
  }
  return Status::Ok();
}

Status Loader::LoadStatus(dom::element el, const std::string& path, ValueRule* out) {
  WAYBILL_RETURN_IF_ERROR(LoadValue(el, path, ValueKind::kText, out));
  if (out->constant && !ParseShipmentStatus(*out->constant)) {
    return Fail(path + ".const", Quote(*out->constant) + " is not a canonical status");
  }
  if (out->paths.empty() || out->table == nullptr) {
    if (!out->constant) {
      return Fail(path,
                  "a status comes from a table (source code -> canonical status) or is a "
                  "constant; map the raw code with source_code");
    }
    return Status::Ok();
  }
  for (const auto& [code, status] : *out->table) {
    if (!ParseShipmentStatus(status)) {
      return Fail(path + ".table", "table entry " + Quote(code) + " -> " + Quote(status) +
                                       " is not a canonical status");
    }
  }
  return Status::Ok();
}

Status Loader::LoadLocation(dom::element el, const std::string& path, LocationRule* out) {
  dom::object loc;
  WAYBILL_RETURN_IF_ERROR(GetObject(el, path, &loc));
  WAYBILL_RETURN_IF_ERROR(CheckKeys(loc, path, {"name", "city", "region", "country", "unlocode"}));
  const std::pair<const char*, ValueRule*> parts[] = {{"name", &out->name},
                                                      {"city", &out->city},
                                                      {"region", &out->region},
                                                      {"country", &out->country},
                                                      {"unlocode", &out->unlocode}};
  for (const auto& [key, rule] : parts) {
    dom::element v;
    if (!loc[key].get(v)) {
      WAYBILL_RETURN_IF_ERROR(LoadValue(v, Member(path, key), ValueKind::kText, rule));
      out->present = true;
    }
  }
  if (!out->present)
    return Fail(path, "needs at least one of name, city, region, country, unlocode");
  return Status::Ok();
}

Status Loader::LoadCondition(dom::element el, const std::string& path, Condition* out) {
  std::string_view s;
  if (el.get(s) == simdjson::SUCCESS) {
    if (s != "always") {
      return Fail(path, "expected \"always\" or an object with exists, non_empty or equals");
    }
    out->kind = Condition::Kind::kAlways;
    return Status::Ok();
  }
  dom::object c;
  WAYBILL_RETURN_IF_ERROR(GetObject(el, path, &c));
  WAYBILL_RETURN_IF_ERROR(CheckKeys(c, path, {"exists", "non_empty", "equals"}));
  if (c.size() != 1) return Fail(path, "needs exactly one of exists, non_empty, equals");
  dom::element v;
  std::vector<JsonPath> paths;
  if (!c["exists"].get(v)) {
    out->kind = Condition::Kind::kExists;
    WAYBILL_RETURN_IF_ERROR(GetString(v, path + ".exists", &s));
    WAYBILL_RETURN_IF_ERROR(ParsePaths(v, path + ".exists", false, &paths));
  } else if (!c["non_empty"].get(v)) {
    out->kind = Condition::Kind::kNonEmpty;
    WAYBILL_RETURN_IF_ERROR(GetString(v, path + ".non_empty", &s));
    WAYBILL_RETURN_IF_ERROR(ParsePaths(v, path + ".non_empty", false, &paths));
  } else {
    if (c["equals"].get(v)) return Fail(path + ".equals", "required");
    out->kind = Condition::Kind::kEquals;
    const std::string epath = path + ".equals";
    dom::object eq;
    WAYBILL_RETURN_IF_ERROR(GetObject(v, epath, &eq));
    WAYBILL_RETURN_IF_ERROR(CheckKeys(eq, epath, {"path", "value"}));
    dom::element p;
    if (eq["path"].get(p)) return Fail(epath + ".path", "required");
    WAYBILL_RETURN_IF_ERROR(GetString(p, epath + ".path", &s));
    WAYBILL_RETURN_IF_ERROR(ParsePaths(p, epath + ".path", false, &paths));
    if (eq["value"].get(p)) return Fail(epath + ".value", "required");
    WAYBILL_RETURN_IF_ERROR(GetString(p, epath + ".value", &s));
    out->value = std::string(s);
  }
  out->path = std::move(paths.front());
  return Status::Ok();
}

Status Loader::LoadOrder(dom::element el, const std::string& path, EventTemplate* t) {
  dom::object order;
  WAYBILL_RETURN_IF_ERROR(GetObject(el, path, &order));
  WAYBILL_RETURN_IF_ERROR(CheckKeys(order, path, {"ship_to", "promised"}));
  dom::element v;
  if (!order["ship_to"].get(v)) {
    WAYBILL_RETURN_IF_ERROR(LoadLocation(v, path + ".ship_to", &t->ship_to));
  }
  if (!order["promised"].get(v)) {
    const std::string ppath = path + ".promised";
    dom::object promised;
    WAYBILL_RETURN_IF_ERROR(GetObject(v, ppath, &promised));
    WAYBILL_RETURN_IF_ERROR(CheckKeys(promised, ppath, {"date", "window_start", "window_end"}));
    if (!promised["date"].get(v)) {
      WAYBILL_RETURN_IF_ERROR(LoadValue(v, ppath + ".date", ValueKind::kDate, &t->promised_date));
    }
    if (!promised["window_start"].get(v)) {
      WAYBILL_RETURN_IF_ERROR(
          LoadValue(v, ppath + ".window_start", ValueKind::kTime, &t->window_start));
    }
    if (!promised["window_end"].get(v)) {
      WAYBILL_RETURN_IF_ERROR(
          LoadValue(v, ppath + ".window_end", ValueKind::kTime, &t->window_end));
    }
    if (promised.size() == 0) {
      return Fail(ppath, "needs at least one of date, window_start, window_end");
    }
  }
  return Status::Ok();
}

Status Loader::LoadLines(dom::element el, const std::string& path, LinesRule* out) {
  dom::object lines;
  WAYBILL_RETURN_IF_ERROR(GetObject(el, path, &lines));
  WAYBILL_RETURN_IF_ERROR(
      CheckKeys(lines, path, {"each", "code", "description", "amount", "currency"}));
  out->present = true;
  dom::element v;
  if (lines["each"].get(v)) return Fail(path + ".each", "required (a path ending in [*])");
  WAYBILL_RETURN_IF_ERROR(ParsePaths(v, path + ".each", true, &out->each));
  if (lines["code"].get(v)) return Fail(path + ".code", "required");
  WAYBILL_RETURN_IF_ERROR(LoadValue(v, path + ".code", ValueKind::kText, &out->code));
  out->code.required = true;
  if (!lines["description"].get(v)) {
    WAYBILL_RETURN_IF_ERROR(
        LoadValue(v, path + ".description", ValueKind::kText, &out->description));
  }
  if (lines["amount"].get(v)) return Fail(path + ".amount", "required");
  WAYBILL_RETURN_IF_ERROR(LoadValue(v, path + ".amount", ValueKind::kMoney, &out->amount));
  out->amount.required = true;
  if (!lines["currency"].get(v)) {
    WAYBILL_RETURN_IF_ERROR(LoadValue(v, path + ".currency", ValueKind::kText, &out->currency));
  }
  return Status::Ok();
}

Status Loader::LoadCharges(dom::element el, const std::string& path, EventTemplate* t) {
  dom::object charges;
  WAYBILL_RETURN_IF_ERROR(GetObject(el, path, &charges));
  WAYBILL_RETURN_IF_ERROR(
      CheckKeys(charges, path, {"basis", "document", "currency", "total", "lines"}));
  dom::element v;
  std::string_view s;
  if (charges["basis"].get(v))
    return Fail(path + ".basis", "required (quoted, invoiced or posted)");
  WAYBILL_RETURN_IF_ERROR(GetString(v, path + ".basis", &s));
  std::optional<ChargeBasis> basis = ParseChargeBasis(s);
  if (!basis) {
    return Fail(path + ".basis",
                "unknown basis " + Quote(s) + " (expected quoted, invoiced or posted)");
  }
  t->basis = *basis;
  if (!charges["document"].get(v)) {
    WAYBILL_RETURN_IF_ERROR(
        LoadValue(v, path + ".document", ValueKind::kText, &t->charges_document));
  }
  if (charges["currency"].get(v)) return Fail(path + ".currency", "required");
  WAYBILL_RETURN_IF_ERROR(LoadValue(v, path + ".currency", ValueKind::kText, &t->charges_currency));
  t->charges_currency.required = true;
  if (!charges["total"].get(v)) {
    WAYBILL_RETURN_IF_ERROR(LoadValue(v, path + ".total", ValueKind::kMoney, &t->charges_total));
  }
  if (!charges["lines"].get(v)) WAYBILL_RETURN_IF_ERROR(LoadLines(v, path + ".lines", &t->lines));
  if (!t->lines.present && !t->charges_total.present) {
    return Fail(path, "needs lines, a total, or both");
  }
  return Status::Ok();
}

Status Loader::LoadTemplate(dom::element el, const std::string& path, EventTemplate* t) {
  dom::object o;
  WAYBILL_RETURN_IF_ERROR(GetObject(el, path, &o));
  WAYBILL_RETURN_IF_ERROR(
      CheckKeys(o, path,
                {"name", "description", "when", "kind", "event_id", "occurred_at", "shipment_id",
                 "order_id", "customer_id", "carrier", "status", "source_code", "reason_code",
                 "references", "location", "order", "charges", "document", "estimate"}));
  dom::element v;
  std::string_view s;
  if (o["name"].get(v)) return Fail(path + ".name", "required");
  WAYBILL_RETURN_IF_ERROR(GetNonEmptyString(v, path + ".name", &s));
  t->name = std::string(s);
  if (!o["description"].get(v)) WAYBILL_RETURN_IF_ERROR(GetString(v, path + ".description", &s));
  if (!o["when"].get(v)) WAYBILL_RETURN_IF_ERROR(LoadCondition(v, path + ".when", &t->when));

  if (o["kind"].get(v)) return Fail(path + ".kind", "required");
  WAYBILL_RETURN_IF_ERROR(GetString(v, path + ".kind", &s));
  std::optional<EventKind> kind = ParseEventKind(s);
  if (!kind) {
    return Fail(path + ".kind", "unknown kind " + Quote(s) +
                                    " (expected milestone, estimate, charges, order or document)");
  }
  t->kind = *kind;

  if (o["event_id"].get(v)) return Fail(path + ".event_id", "required (a path rule or \"derive\")");
  if (v.get(s) == simdjson::SUCCESS) {
    if (s != "derive") {
      return Fail(path + ".event_id", "expected a path rule or \"derive\", got " + Quote(s));
    }
    t->derive_id = true;
  } else {
    WAYBILL_RETURN_IF_ERROR(
        LoadValue(v, path + ".event_id", ValueKind::kText, &t->event_id, /*allow_suffix=*/true));
    if (t->event_id.constant) {
      return Fail(path + ".event_id.const",
                  "a constant id would make every message a duplicate of the first; use a path "
                  "or \"derive\"");
    }
    if (t->event_id.table != nullptr) return Fail(path + ".event_id.table", "ids take no table");
    t->event_id.required = true;
  }

  if (o["occurred_at"].get(v)) return Fail(path + ".occurred_at", "required");
  WAYBILL_RETURN_IF_ERROR(LoadValue(v, path + ".occurred_at", ValueKind::kTime, &t->occurred_at));
  t->occurred_at.required = true;
  if (o["shipment_id"].get(v)) return Fail(path + ".shipment_id", "required");
  WAYBILL_RETURN_IF_ERROR(LoadValue(v, path + ".shipment_id", ValueKind::kText, &t->shipment_id));
  t->shipment_id.required = true;

  const std::pair<const char*, ValueRule*> ids[] = {{"order_id", &t->order_id},
                                                    {"customer_id", &t->customer_id},
                                                    {"carrier", &t->carrier},
                                                    {"source_code", &t->source_code},
                                                    {"reason_code", &t->reason_code}};
  for (const auto& [key, rule] : ids) {
    if (!o[key].get(v))
      WAYBILL_RETURN_IF_ERROR(LoadValue(v, Member(path, key), ValueKind::kText, rule));
  }
  if (!o["status"].get(v)) WAYBILL_RETURN_IF_ERROR(LoadStatus(v, path + ".status", &t->status));
  if (t->kind == EventKind::kMilestone && !t->status.present && !t->source_code.present) {
    return Fail(path, "a milestone needs a status or a source_code rule");
  }

  if (!o["references"].get(v)) {
    const std::string rpath = path + ".references";
    dom::array refs;
    if (v.get(refs) != simdjson::SUCCESS) return Expected(rpath, "an array", v);
    std::size_t i = 0;
    for (dom::element item : refs) {
      const std::string ipath = Element(rpath, i++);
      dom::object ref;
      WAYBILL_RETURN_IF_ERROR(GetObject(item, ipath, &ref));
      WAYBILL_RETURN_IF_ERROR(CheckKeys(ref, ipath, {"type", "value"}));
      ReferenceRule rule;
      dom::element f;
      if (ref["type"].get(f)) return Fail(ipath + ".type", "required");
      WAYBILL_RETURN_IF_ERROR(GetNonEmptyString(f, ipath + ".type", &s));
      rule.type = std::string(s);
      if (ref["value"].get(f)) return Fail(ipath + ".value", "required");
      WAYBILL_RETURN_IF_ERROR(LoadValue(f, ipath + ".value", ValueKind::kText, &rule.value));
      t->references.push_back(std::move(rule));
    }
  }
  if (!o["location"].get(v))
    WAYBILL_RETURN_IF_ERROR(LoadLocation(v, path + ".location", &t->location));

  // Bodies: the one matching the kind (required except for order), no other.
  const char* bodies[] = {"order", "charges", "document", "estimate"};
  const EventKind body_kinds[] = {EventKind::kOrder, EventKind::kCharges, EventKind::kDocument,
                                  EventKind::kEstimate};
  for (std::size_t b = 0; b < 4; ++b) {
    const bool given = !o[bodies[b]].get(v);
    if (given && t->kind != body_kinds[b]) {
      return Fail(Member(path, bodies[b]), "not allowed for kind " + Quote(ToString(t->kind)));
    }
    if (!given) {
      if (t->kind == body_kinds[b] && t->kind != EventKind::kOrder) {
        return Fail(Member(path, bodies[b]), "required for kind " + Quote(ToString(t->kind)));
      }
      continue;
    }
    const std::string bpath = Member(path, bodies[b]);
    switch (body_kinds[b]) {
      case EventKind::kOrder:
        WAYBILL_RETURN_IF_ERROR(LoadOrder(v, bpath, t));
        break;
      case EventKind::kCharges:
        WAYBILL_RETURN_IF_ERROR(LoadCharges(v, bpath, t));
        break;
      case EventKind::kDocument: {
        dom::object doc;
        WAYBILL_RETURN_IF_ERROR(GetObject(v, bpath, &doc));
        WAYBILL_RETURN_IF_ERROR(CheckKeys(doc, bpath, {"type", "number"}));
        dom::element f;
        if (doc["type"].get(f)) return Fail(bpath + ".type", "required");
        WAYBILL_RETURN_IF_ERROR(LoadValue(f, bpath + ".type", ValueKind::kText, &t->document_type));
        t->document_type.required = true;
        if (!doc["number"].get(f)) {
          WAYBILL_RETURN_IF_ERROR(
              LoadValue(f, bpath + ".number", ValueKind::kText, &t->document_number));
        }
        break;
      }
      case EventKind::kEstimate: {
        dom::object est;
        WAYBILL_RETURN_IF_ERROR(GetObject(v, bpath, &est));
        WAYBILL_RETURN_IF_ERROR(CheckKeys(est, bpath, {"of", "estimated_at", "issued_at"}));
        dom::element f;
        if (est["of"].get(f)) return Fail(bpath + ".of", "required");
        WAYBILL_RETURN_IF_ERROR(GetString(f, bpath + ".of", &s));
        std::optional<EstimateOf> of = ParseEstimateOf(s);
        if (!of) {
          return Fail(bpath + ".of", "unknown value " + Quote(s) +
                                         " (expected delivery, arrival, pickup or departure)");
        }
        t->estimate_of = *of;
        if (est["estimated_at"].get(f)) return Fail(bpath + ".estimated_at", "required");
        WAYBILL_RETURN_IF_ERROR(
            LoadValue(f, bpath + ".estimated_at", ValueKind::kTime, &t->estimated_at));
        t->estimated_at.required = true;
        if (!est["issued_at"].get(f)) {
          WAYBILL_RETURN_IF_ERROR(
              LoadValue(f, bpath + ".issued_at", ValueKind::kTime, &t->issued_at));
        }
        break;
      }
      case EventKind::kMilestone:
        break;
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::shared_ptr<const CompiledMapping>> CompileMapping(std::string_view mapping_file_json) {
  dom::parser parser;
  dom::element root;
  if (auto err = parser.parse(mapping_file_json.data(), mapping_file_json.size()).get(root)) {
    return Status::Invalid(std::string("$: not valid JSON: ") + simdjson::error_message(err));
  }
  auto mapping = std::make_shared<CompiledMapping>();
  Loader loader(mapping.get());
  WAYBILL_RETURN_IF_ERROR(loader.Load(root));
  return std::shared_ptr<const CompiledMapping>(std::move(mapping));
}

}  // namespace waybill::ingest::mapping
