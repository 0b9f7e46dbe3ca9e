// GS1 EPCIS 2.0 adapter. The whole document is parsed (and so validated) with the simdjson
// DOM parser; a second, On-Demand pass over the same padded bytes finds each event's original
// text, which becomes the message's unit.
#include "ingest/epcis/epcis_adapter.h"

#include <simdjson.h>

#include <array>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/epcis/epcis_mappings.h"
#include "schemas/event_validate.h"
#include "schemas/time.h"

namespace waybill::ingest {
namespace {

namespace dom = simdjson::dom;
namespace od = simdjson::ondemand;

// EPCIS events with ILMD and sensor reports nest about 8 levels; deeper is rejected whole.
constexpr std::size_t kMaxDepth = 64;
// One event object larger than this is rejected (its unit is still kept as a dead letter).
constexpr std::size_t kMaxEventBytes = 1 << 20;
constexpr std::size_t kInitialCapacity = 1 << 16;

constexpr std::array<std::string_view, 5> kEventTypes = {"ObjectEvent", "AggregationEvent",
                                                         "TransactionEvent", "TransformationEvent",
                                                         "AssociationEvent"};

bool IsEventType(std::string_view t) {
  for (auto e : kEventTypes) {
    if (e == t) return true;
  }
  return false;
}

std::string Quote(std::string_view s) {
  std::string q;
  q.reserve(s.size() + 2);
  q += '"';
  for (std::size_t i = 0; i < s.size() && i < 80; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    q += (c < 0x20 || c == 0x7f) ? '?' : s[i];
  }
  if (s.size() > 80) q += "...";
  q += '"';
  return q;
}

const char* TypeName(dom::element_type t) {
  switch (t) {
    case dom::element_type::ARRAY:
      return "an array";
    case dom::element_type::OBJECT:
      return "an object";
    case dom::element_type::STRING:
      return "a string";
    case dom::element_type::BOOL:
      return "a boolean";
    case dom::element_type::NULL_VALUE:
      return "null";
    default:
      return "a number";
  }
}

std::string_view TrimSpace(std::string_view s) {
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

std::string Join(std::string_view parent, std::string_view key) {
  std::string p(parent);
  p += '.';
  p += key;
  return p;
}

std::string Index(std::string_view parent, std::size_t i) {
  std::string p(parent);
  p += '[';
  p += std::to_string(i);
  p += ']';
  return p;
}

std::string IdProblem(std::string_view v, std::size_t max) {
  if (v.size() > max) {
    return "is " + std::to_string(v.size()) + " bytes long, at most " + std::to_string(max) +
           " are allowed";
  }
  for (char ch : v) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) return "must not contain control characters";
  }
  return {};
}

// The errors of one message, each "<path>: <reason>".
class Problems {
 public:
  explicit Problems(std::vector<std::string>* out) : out_(out) {}
  void Add(std::string_view path, std::string_view reason) {
    std::string m(path);
    m += ": ";
    m += reason;
    out_->push_back(std::move(m));
  }
  bool any() const { return !out_->empty(); }

 private:
  std::vector<std::string>* out_;
};

// A string field: nullopt when absent, null or ""; a value of another type is an error.
std::optional<std::string_view> Str(dom::object o, std::string_view key, std::string_view parent,
                                    Problems* p) {
  dom::element e;
  if (o[key].get(e)) return std::nullopt;
  std::string_view s;
  if (!e.get(s)) {
    if (s.empty()) return std::nullopt;
    return s;
  }
  if (!e.is_null()) {
    p->Add(Join(parent, key), std::string("expected a string, got ") + TypeName(e.type()));
  }
  return std::nullopt;
}

// A string that must be a usable identifier of at most `max` bytes.
std::optional<std::string_view> Id(dom::object o, std::string_view key, std::string_view parent,
                                   Problems* p, std::size_t max = kMaxIdLength) {
  auto s = Str(o, key, parent, p);
  if (s) {
    std::string problem = IdProblem(*s, max);
    if (!problem.empty()) {
      p->Add(Join(parent, key), problem);
      return std::nullopt;
    }
  }
  return s;
}

bool Present(dom::object o, std::string_view key) {
  dom::element e;
  return !o[key].get(e) && !e.is_null();
}

// The document number in a bizTransaction value: after the last ':' of a URN, after the
// last '/' of an http(s) URI, the whole value otherwise.
std::string_view DocumentNumber(std::string_view v) {
  if (v.rfind("http://", 0) == 0 || v.rfind("https://", 0) == 0) {
    return v.substr(v.rfind('/') + 1);
  }
  auto colon = v.rfind(':');
  return colon == std::string_view::npos ? v : v.substr(colon + 1);
}

void AddReference(std::vector<Reference>* refs, std::string_view type, std::string_view value) {
  for (const auto& r : *refs) {
    if (r.type == type && r.value == value) return;
  }
  refs->push_back(Reference{std::string(type), std::string(value)});
}

// The id of an EPCIS location object ({"id": "urn:epc:id:sgln:..."}).
std::optional<std::string_view> LocationId(dom::object o, std::string_view key,
                                           std::string_view parent, Problems* p) {
  dom::element e;
  if (o[key].get(e) || e.is_null()) return std::nullopt;
  dom::object loc;
  if (e.get(loc)) {
    p->Add(Join(parent, key), std::string("expected an object, got ") + TypeName(e.type()));
    return std::nullopt;
  }
  return Id(loc, "id", Join(parent, key), p, kMaxTextLength);
}

void MapEvent(dom::element el, const std::string& base, const AdapterContext& ctx,
              const EpcisMappings& m, MappedMessage* out) {
  Problems problems(&out->errors);
  if (out->unit.size() > kMaxEventBytes) {
    problems.Add(base, "the event is " + std::to_string(out->unit.size()) +
                           " bytes long, at most " + std::to_string(kMaxEventBytes) +
                           " are allowed");
    return;
  }
  dom::object o;
  if (el.get(o)) {
    problems.Add(base, std::string("expected an EPCIS event object, got ") + TypeName(el.type()));
    return;
  }

  auto type = Str(o, "type", base, &problems);
  if (!type) {
    if (!problems.any()) problems.Add(Join(base, "type"), "required");
  } else if (!IsEventType(*type)) {
    problems.Add(Join(base, "type"),
                 "unknown EPCIS event type " + Quote(*type) +
                     " (expected ObjectEvent, AggregationEvent, TransactionEvent, "
                     "TransformationEvent or AssociationEvent)");
  }
  if (Present(o, "errorDeclaration")) {
    problems.Add(Join(base, "errorDeclaration"),
                 "error declarations (retractions of earlier events) are not supported");
  }

  std::optional<ParsedTime> event_time;
  if (auto s = Str(o, "eventTime", base, &problems)) {
    auto t = ParseRfc3339(*s);
    if (t.ok()) {
      event_time = *t;
    } else {
      problems.Add(
          Join(base, "eventTime"),
          Quote(*s) + " is not an RFC 3339 date-time with offset (" + t.status().message() + ")");
    }
  } else if (!Present(o, "eventTime")) {
    problems.Add(Join(base, "eventTime"), "required");
  } else if (dom::element e; !o["eventTime"].get(e) && e.is_string()) {
    problems.Add(Join(base, "eventTime"), "must not be empty");
  }

  auto event_id = Id(o, "eventID", base, &problems);

  std::optional<std::string_view> biz_step;
  if (auto s = Str(o, "bizStep", base, &problems)) {
    biz_step = m.BizStepShortName(*s);
    if (std::string problem = IdProblem(*biz_step, kMaxIdLength); !problem.empty()) {
      problems.Add(Join(base, "bizStep"), problem);
      biz_step.reset();
    }
  }

  // Business transactions: the desadv is the shipment, the rest are references.
  const std::string list_path = Join(base, "bizTransactionList");
  std::optional<std::string_view> shipment;
  std::vector<Reference> refs;
  dom::element list_el;
  if (!o["bizTransactionList"].get(list_el) && !list_el.is_null()) {
    dom::array list;
    if (list_el.get(list)) {
      problems.Add(list_path, std::string("expected an array, got ") + TypeName(list_el.type()));
    } else {
      std::size_t i = 0;
      for (dom::element item : list) {
        const std::string ip = Index(list_path, i++);
        dom::object bt;
        if (item.get(bt)) {
          problems.Add(ip, std::string("expected an object, got ") + TypeName(item.type()));
          continue;
        }
        auto bt_type = Str(bt, "type", ip, &problems);
        auto value = Str(bt, "bizTransaction", ip, &problems);
        if (!value) {
          if (!Present(bt, "bizTransaction")) problems.Add(Join(ip, "bizTransaction"), "required");
          continue;
        }
        std::string_view number = DocumentNumber(*value);
        if (number.empty()) {
          problems.Add(Join(ip, "bizTransaction"), Quote(*value) + " has no document number");
          continue;
        }
        if (std::string problem = IdProblem(number, kMaxIdLength); !problem.empty()) {
          problems.Add(Join(ip, "bizTransaction"), "the document number " + problem);
          continue;
        }
        std::string_view short_type = bt_type ? m.BizTransactionTypeShortName(*bt_type) : "BT";
        if (short_type == m.shipment_biz_transaction_type) {
          if (shipment && *shipment != number) {
            problems.Add(ip, "a second " + m.shipment_biz_transaction_type + " " + Quote(number) +
                                 " contradicts " + Quote(*shipment));
          }
          shipment = number;
          continue;
        }
        auto it = m.reference_types.find(std::string(short_type));
        std::string_view ref_type = it != m.reference_types.end() ? it->second : short_type;
        if (std::string problem = IdProblem(ref_type, kMaxIdLength); !problem.empty()) {
          problems.Add(Join(ip, "type"), problem);
          continue;
        }
        AddReference(&refs, ref_type, number);
      }
    }
  }
  if (!shipment && !problems.any()) {
    problems.Add(list_path, "no bizTransaction of type " + m.shipment_biz_transaction_type +
                                " (the despatch advice that identifies the shipment)");
  }
  if (refs.size() > kMaxReferences) {
    problems.Add(list_path, "the event has " + std::to_string(refs.size()) +
                                " references, at most " + std::to_string(kMaxReferences) +
                                " are allowed");
  }

  auto biz_location = LocationId(o, "bizLocation", base, &problems);
  auto read_point = LocationId(o, "readPoint", base, &problems);
  if (problems.any()) return;

  Event ev;
  ev.kind = EventKind::kMilestone;
  ev.source.system = SourceSystem::kCarrier;
  ev.source.format = std::string(kEpcisFormat);
  ev.source.partner = ctx.partner;
  ev.shipment_id = std::string(*shipment);
  ev.references = std::move(refs);
  ev.occurred_at = event_time->utc;
  ev.occurred_offset_minutes = event_time->offset_minutes;
  if (biz_step) {
    ev.source_code = std::string(*biz_step);
    if (auto it = m.bizsteps.find(ev.source_code.value()); it != m.bizsteps.end()) {
      ev.status = it->second;
    }
  } else {
    ev.source_code = std::string(*type);
  }
  if (auto where = biz_location ? biz_location : read_point) {
    ev.location = Location{};
    ev.location->name = std::string(*where);
  }
  ev.event_id = event_id ? std::string(*event_id) : DeriveEventId(ev);
  FillCorrelationId(&ev);
  if (Status st = ValidateEvent(ev); !st.ok()) {
    problems.Add(base, st.message());
    return;
  }
  out->events.push_back(std::move(ev));
}

class EpcisAdapter final : public Adapter {
 public:
  EpcisAdapter() {
    // Fixes the depth limit for every later (re)allocation; on failure the first parse
    // allocates instead.
    [[maybe_unused]] auto err = dom_.allocate(kInitialCapacity, kMaxDepth);
  }

  std::string_view format() const override { return kEpcisFormat; }

  void Map(std::string_view document, const AdapterContext& ctx, const MessageSink& sink) override {
    const Result<EpcisMappings>& mappings = EpcisMappingsEmbedded();
    if (!mappings.ok()) {
      RejectDocument(document, mappings.status().message(), sink);
      return;
    }
    if (buf_.size() < document.size() + simdjson::SIMDJSON_PADDING) {
      buf_.resize(document.size() + simdjson::SIMDJSON_PADDING);
    }
    if (!document.empty()) std::memcpy(buf_.data(), document.data(), document.size());
    std::memset(buf_.data() + document.size(), 0, simdjson::SIMDJSON_PADDING);

    dom::element root_el;
    if (auto err =
            dom_.parse(reinterpret_cast<const std::uint8_t*>(buf_.data()), document.size(), false)
                .get(root_el);
        err) {
      RejectDocument(document, std::string("$: not valid JSON: ") + simdjson::error_message(err),
                     sink);
      return;
    }
    dom::object root;
    if (root_el.get(root)) {
      RejectDocument(document,
                     std::string("$: expected an EPCISDocument or an EPCIS event object, got ") +
                         TypeName(root_el.type()),
                     sink);
      return;
    }
    std::string_view type;
    if (root["type"].get(type) || type.empty()) {
      RejectDocument(document,
                     "$.type: required (EPCISDocument, EPCISQueryDocument or an event type)", sink);
      return;
    }
    if (IsEventType(type)) {
      MappedMessage msg;
      msg.position = "$";
      msg.unit = TrimSpace(document);
      MapSafely(root_el, msg.position, ctx, *mappings, &msg);
      sink(std::move(msg));
      return;
    }

    static constexpr std::array<const char*, 2> kDocumentKeys = {"epcisBody", "eventList"};
    static constexpr std::array<const char*, 4> kQueryKeys = {"epcisBody", "queryResults",
                                                              "resultsBody", "eventList"};
    const char* const* keys = nullptr;
    std::size_t nkeys = 0;
    if (type == "EPCISDocument") {
      keys = kDocumentKeys.data();
      nkeys = kDocumentKeys.size();
    } else if (type == "EPCISQueryDocument") {
      keys = kQueryKeys.data();
      nkeys = kQueryKeys.size();
    } else {
      RejectDocument(document,
                     "$.type: " + Quote(type) +
                         " is neither EPCISDocument, EPCISQueryDocument nor an EPCIS event type",
                     sink);
      return;
    }
    // Walk to the event list, naming the first missing step.
    std::string path = "$";
    dom::element cur = root_el;
    for (std::size_t k = 0; k < nkeys; ++k) {
      dom::object obj;
      if (cur.get(obj)) {
        RejectDocument(document, path + ": expected an object, got " + TypeName(cur.type()), sink);
        return;
      }
      path = Join(path, keys[k]);
      if (obj[keys[k]].get(cur)) {
        RejectDocument(document, path + ": required", sink);
        return;
      }
    }
    dom::array events;
    if (cur.get(events)) {
      RejectDocument(document, path + ": expected an array, got " + TypeName(cur.type()), sink);
      return;
    }
    const bool have_spans = ElementSpans(document, keys, nkeys);
    std::size_t i = 0;
    for (dom::element el : events) {
      MappedMessage msg;
      msg.position = Index(path, i);
      msg.unit = have_spans && i < spans_.size() ? spans_[i] : document;
      MapSafely(el, msg.position, ctx, *mappings, &msg);
      sink(std::move(msg));
      ++i;
    }
  }

 private:
  static void RejectDocument(std::string_view document, std::string reason,
                             const MessageSink& sink) {
    MappedMessage msg;
    msg.position = "$";
    msg.unit = document;
    msg.errors.push_back(std::move(reason));
    sink(std::move(msg));
  }

  static void MapSafely(dom::element el, const std::string& base, const AdapterContext& ctx,
                        const EpcisMappings& m, MappedMessage* msg) {
    try {
      MapEvent(el, base, ctx, m, msg);
    } catch (const std::exception& e) {
      msg->errors.push_back(base + ": internal error while mapping: " + e.what());
    }
    if (!msg->errors.empty()) msg->events.clear();
  }

  // Fills spans_ with the original text of each event in the list reached through `keys`
  // (views into `document`). The document is already known to be valid JSON with that list;
  // like the DOM, On-Demand takes the first of duplicate keys.
  bool ElementSpans(std::string_view document, const char* const* keys, std::size_t nkeys) {
    spans_.clear();
    od::document doc;
    if (od_.iterate(buf_.data(), document.size(), buf_.size()).get(doc)) return false;
    od::value cur;
    if (doc.find_field_unordered(keys[0]).get(cur)) return false;
    for (std::size_t k = 1; k < nkeys; ++k) {
      if (cur.find_field_unordered(keys[k]).get(cur)) return false;
    }
    od::array arr;
    if (cur.get_array().get(arr)) return false;
    for (auto item : arr) {
      od::value v;
      if (item.get(v)) return false;
      od::json_type type;
      if (v.type().get(type)) return false;
      std::string_view raw;
      if (type == od::json_type::object) {
        od::object obj;
        if (v.get_object().get(obj) || obj.raw_json().get(raw)) return false;
      } else if (type == od::json_type::array) {
        od::array inner;
        if (v.get_array().get(inner) || inner.raw_json().get(raw)) return false;
      } else {
        raw = v.raw_json_token();
      }
      raw = TrimSpace(raw);
      spans_.push_back(
          document.substr(static_cast<std::size_t>(raw.data() - buf_.data()), raw.size()));
    }
    return true;
  }

  dom::parser dom_;
  od::parser od_;
  std::vector<char> buf_;
  std::vector<std::string_view> spans_;
};

}  // namespace

std::unique_ptr<Adapter> MakeEpcisAdapter() { return std::make_unique<EpcisAdapter>(); }

}  // namespace waybill::ingest
