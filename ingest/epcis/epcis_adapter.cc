// GS1 EPCIS 2.0 adapter. The whole document is parsed (and so validated) with the simdjson
// DOM parser; a second, On-Demand pass over the same padded bytes finds each event's original
// text, which becomes the message's unit.
#include "ingest/epcis/epcis_adapter.h"

#include <simdjson.h>

#include <array>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/epcis/epcis_mappings.h"
#include "ingest/json_fields.h"
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

// The id of an EPCIS location object ({"id": "urn:epc:id:sgln:..."}).
std::optional<std::string_view> LocationId(dom::object o, std::string_view key,
                                           std::string_view parent, Problems* p) {
  dom::element e;
  if (o[key].get(e) || e.is_null()) return std::nullopt;
  dom::object loc;
  if (e.get(loc)) {
    p->Add(JoinPath(parent, key), std::string("expected an object, got ") + DomTypeName(e.type()));
    return std::nullopt;
  }
  return ReadId(loc, "id", JoinPath(parent, key), p, kMaxTextLength);
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
    problems.Add(base,
                 std::string("expected an EPCIS event object, got ") + DomTypeName(el.type()));
    return;
  }

  auto type = ReadString(o, "type", base, &problems);
  if (!type) {
    if (!problems.any()) problems.Add(JoinPath(base, "type"), "required");
  } else if (!IsEventType(*type)) {
    problems.Add(JoinPath(base, "type"),
                 "unknown EPCIS event type " + QuoteJsonValue(*type) +
                     " (expected ObjectEvent, AggregationEvent, TransactionEvent, "
                     "TransformationEvent or AssociationEvent)");
  }
  if (Present(o, "errorDeclaration")) {
    problems.Add(JoinPath(base, "errorDeclaration"),
                 "error declarations (retractions of earlier events) are not supported");
  }

  std::optional<ParsedTime> event_time;
  if (auto s = ReadString(o, "eventTime", base, &problems)) {
    auto t = ParseRfc3339(*s);
    if (t.ok()) {
      event_time = *t;
    } else {
      problems.Add(JoinPath(base, "eventTime"), QuoteJsonValue(*s) +
                                                    " is not an RFC 3339 date-time with offset (" +
                                                    t.status().message() + ")");
    }
  } else if (!Present(o, "eventTime")) {
    problems.Add(JoinPath(base, "eventTime"), "required");
  } else if (dom::element e; !o["eventTime"].get(e) && e.is_string()) {
    problems.Add(JoinPath(base, "eventTime"), "must not be empty");
  }

  auto event_id = ReadId(o, "eventID", base, &problems);

  std::optional<std::string_view> biz_step;
  if (auto s = ReadString(o, "bizStep", base, &problems)) {
    biz_step = m.BizStepShortName(*s);
    if (std::string problem = IdProblem(*biz_step, kMaxIdLength); !problem.empty()) {
      problems.Add(JoinPath(base, "bizStep"), problem);
      biz_step.reset();
    }
  }

  // Business transactions: the desadv is the shipment, the rest are references.
  const std::string list_path = JoinPath(base, "bizTransactionList");
  std::optional<std::string_view> shipment;
  std::vector<Reference> refs;
  dom::element list_el;
  if (!o["bizTransactionList"].get(list_el) && !list_el.is_null()) {
    dom::array list;
    if (list_el.get(list)) {
      problems.Add(list_path, std::string("expected an array, got ") + DomTypeName(list_el.type()));
    } else {
      std::size_t i = 0;
      for (dom::element item : list) {
        const std::string ip = IndexPath(list_path, i++);
        dom::object bt;
        if (item.get(bt)) {
          problems.Add(ip, std::string("expected an object, got ") + DomTypeName(item.type()));
          continue;
        }
        auto bt_type = ReadString(bt, "type", ip, &problems);
        auto value = ReadString(bt, "bizTransaction", ip, &problems);
        if (!value) {
          if (!Present(bt, "bizTransaction"))
            problems.Add(JoinPath(ip, "bizTransaction"), "required");
          continue;
        }
        std::string_view number = DocumentNumber(*value);
        if (number.empty()) {
          problems.Add(JoinPath(ip, "bizTransaction"),
                       QuoteJsonValue(*value) + " has no document number");
          continue;
        }
        if (std::string problem = IdProblem(number, kMaxIdLength); !problem.empty()) {
          problems.Add(JoinPath(ip, "bizTransaction"), "the document number " + problem);
          continue;
        }
        std::string_view short_type = bt_type ? m.BizTransactionTypeShortName(*bt_type) : "BT";
        if (short_type == m.shipment_biz_transaction_type) {
          if (shipment && *shipment != number) {
            problems.Add(ip, "a second " + m.shipment_biz_transaction_type + " " +
                                 QuoteJsonValue(number) + " contradicts " +
                                 QuoteJsonValue(*shipment));
          }
          shipment = number;
          continue;
        }
        auto it = m.reference_types.find(std::string(short_type));
        std::string_view ref_type = it != m.reference_types.end() ? it->second : short_type;
        if (std::string problem = IdProblem(ref_type, kMaxIdLength); !problem.empty()) {
          problems.Add(JoinPath(ip, "type"), problem);
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
    CopyPadded(document, &buf_);

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
                         DomTypeName(root_el.type()),
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
      msg.unit = TrimJsonSpace(document);
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
                     "$.type: " + QuoteJsonValue(type) +
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
        RejectDocument(document, path + ": expected an object, got " + DomTypeName(cur.type()),
                       sink);
        return;
      }
      path = JoinPath(path, keys[k]);
      if (obj[keys[k]].get(cur)) {
        RejectDocument(document, path + ": required", sink);
        return;
      }
    }
    dom::array events;
    if (cur.get(events)) {
      RejectDocument(document, path + ": expected an array, got " + DomTypeName(cur.type()), sink);
      return;
    }
    const bool have_spans = ElementSpans(document, keys, nkeys);
    std::size_t i = 0;
    for (dom::element el : events) {
      MappedMessage msg;
      msg.position = IndexPath(path, i);
      msg.unit = have_spans && i < spans_.size() ? spans_[i] : document;
      MapSafely(el, msg.position, ctx, *mappings, &msg);
      sink(std::move(msg));
      ++i;
    }
  }

 private:
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
    return AppendElementSpans(arr, document, buf_.data(), &spans_);
  }

  dom::parser dom_;
  od::parser od_;
  std::vector<char> buf_;
  std::vector<std::string_view> spans_;
};

}  // namespace

std::unique_ptr<Adapter> MakeEpcisAdapter() { return std::make_unique<EpcisAdapter>(); }

}  // namespace waybill::ingest
