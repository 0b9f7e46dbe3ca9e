// DCSA Track & Trace 2.2 adapter. The whole document is parsed (and so validated) with the
// simdjson DOM parser; a second, On-Demand pass over the same padded bytes finds each array
// element's original text, which becomes the message's unit.
#include "ingest/dcsa/dcsa_adapter.h"

#include <simdjson.h>

#include <charconv>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/dcsa/dcsa_mappings.h"
#include "ingest/json_fields.h"
#include "schemas/event_validate.h"
#include "schemas/time.h"

namespace waybill::ingest {
namespace {

namespace dom = simdjson::dom;
namespace od = simdjson::ondemand;

// Real DCSA events nest 4-5 levels; anything deeper than this is rejected as a whole.
constexpr std::size_t kMaxDepth = 64;
// One event object larger than this is rejected (its unit is still kept as a dead letter).
constexpr std::size_t kMaxEventBytes = 1 << 20;
constexpr std::size_t kInitialCapacity = 1 << 16;

std::string TextProblem(std::string_view v) {
  if (v.size() > kMaxTextLength) {
    return "is " + std::to_string(v.size()) + " bytes long, at most " +
           std::to_string(kMaxTextLength) + " are allowed";
  }
  for (char ch : v) {
    auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
      return "must not contain control characters";
    }
  }
  return {};
}

// Field readers. Absent, null and "" are all "not given" for optional fields; a value of
// another type is an error naming the path.
class Reader {
 public:
  explicit Reader(Problems* problems) : p_(problems) {}

  std::optional<std::string_view> Str(dom::object o, std::string_view key,
                                      std::string_view parent) {
    return ReadString(o, key, parent, p_);
  }

  // A string that becomes an identifier (code, reference, id): also length-checked.
  std::optional<std::string_view> Id(dom::object o, std::string_view key, std::string_view parent) {
    return ReadId(o, key, parent, p_);
  }

  std::optional<std::string_view> Text(dom::object o, std::string_view key,
                                       std::string_view parent) {
    auto s = Str(o, key, parent);
    if (s) {
      std::string problem = TextProblem(*s);
      if (!problem.empty()) {
        p_->Add(JoinPath(parent, key), problem);
        return std::nullopt;
      }
    }
    return s;
  }

  std::optional<std::string_view> RequiredId(dom::object o, std::string_view key,
                                             std::string_view parent) {
    dom::element e;
    if (o[key].get(e) || e.is_null()) {
      p_->Add(JoinPath(parent, key), "required");
      return std::nullopt;
    }
    std::string_view raw;
    if (!e.get(raw) && raw.empty()) {
      p_->Add(JoinPath(parent, key), "must not be empty");
      return std::nullopt;
    }
    return Id(o, key, parent);
  }

  // An optional object (absent and null give nullopt).
  std::optional<dom::object> Obj(dom::object o, std::string_view key, std::string_view parent) {
    dom::element e;
    if (o[key].get(e) || e.is_null()) return std::nullopt;
    dom::object out;
    if (e.get(out)) {
      p_->Add(JoinPath(parent, key),
              std::string("expected an object, got ") + DomTypeName(e.type()));
      return std::nullopt;
    }
    return out;
  }

  std::optional<dom::array> Arr(dom::object o, std::string_view key, std::string_view parent) {
    dom::element e;
    if (o[key].get(e) || e.is_null()) return std::nullopt;
    dom::array out;
    if (e.get(out)) {
      p_->Add(JoinPath(parent, key),
              std::string("expected an array, got ") + DomTypeName(e.type()));
      return std::nullopt;
    }
    return out;
  }

  // An RFC 3339 time with its offset.
  std::optional<ParsedTime> Time(dom::object o, std::string_view key, std::string_view parent,
                                 bool required) {
    dom::element e;
    bool present = !o[key].get(e) && !e.is_null();
    auto s = Str(o, key, parent);
    if (!s) {
      if (required && !present) p_->Add(JoinPath(parent, key), "required");
      if (present && e.is_string()) p_->Add(JoinPath(parent, key), "must not be empty");
      return std::nullopt;
    }
    auto t = ParseRfc3339(*s);
    if (!t.ok()) {
      p_->Add(JoinPath(parent, key), QuoteJsonValue(*s) +
                                         " is not an RFC 3339 date-time with offset (" +
                                         t.status().message() + ")");
      return std::nullopt;
    }
    return *t;
  }

  // A coordinate given as a string (as DCSA specifies) or a number, within [-limit, limit].
  std::optional<double> Coordinate(dom::object o, std::string_view key, std::string_view parent,
                                   double limit) {
    dom::element e;
    if (o[key].get(e) || e.is_null()) return std::nullopt;
    double v = 0;
    std::string_view s;
    if (!e.get(s)) {
      s = TrimJsonSpace(s);
      if (s.empty()) return std::nullopt;
      if (s.front() == '+') s.remove_prefix(1);
      auto r = std::from_chars(s.data(), s.data() + s.size(), v);
      if (r.ec != std::errc() || r.ptr != s.data() + s.size()) {
        p_->Add(JoinPath(parent, key), QuoteJsonValue(s) + " is not a decimal number");
        return std::nullopt;
      }
    } else if (e.get(v)) {
      p_->Add(JoinPath(parent, key),
              std::string("expected a string or number, got ") + DomTypeName(e.type()));
      return std::nullopt;
    }
    if (!(v >= -limit && v <= limit)) {
      p_->Add(JoinPath(parent, key), "must be within [-" + std::to_string(static_cast<int>(limit)) +
                                         ", " + std::to_string(static_cast<int>(limit)) + "]");
      return std::nullopt;
    }
    return v;
  }

  Problems* problems() { return p_; }

 private:
  Problems* p_;
};

bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsUnLocode(std::string_view u) {
  if (u.size() != 5 || !IsUpper(u[0]) || !IsUpper(u[1])) return false;
  for (std::size_t i = 2; i < 5; ++i) {
    if (!IsUpper(u[i]) && !IsDigit(u[i])) return false;
  }
  return true;
}

bool IsCountry(std::string_view c) { return c.size() == 2 && IsUpper(c[0]) && IsUpper(c[1]); }

// A DCSA Location object (eventLocation, transportCall.location) into `loc`; fields already
// set are kept.
void ReadLocation(Reader& r, dom::object o, std::string_view path, Location* loc) {
  if (auto name = r.Text(o, "locationName", path); name && !loc->name) {
    loc->name = std::string(*name);
  }
  if (auto u = r.Str(o, "UNLocationCode", path)) {
    if (!IsUnLocode(*u)) {
      r.problems()->Add(JoinPath(path, "UNLocationCode"),
                        QuoteJsonValue(*u) +
                            " is not a UN/LOCODE (2 upper-case letters, then 3 "
                            "letters or digits)");
    } else if (!loc->unlocode) {
      loc->unlocode = std::string(*u);
    }
  }
  if (auto lat = r.Coordinate(o, "latitude", path, 90)) loc->lat = *lat;
  if (auto lon = r.Coordinate(o, "longitude", path, 180)) loc->lon = *lon;
  if (auto addr = r.Obj(o, "address", path)) {
    const std::string ap = JoinPath(path, "address");
    if (auto city = r.Text(*addr, "city", ap)) loc->city = std::string(*city);
    if (auto region = r.Text(*addr, "stateRegion", ap)) loc->region = std::string(*region);
    // DCSA's address.country is free text ("Denmark"); only an ISO code is kept.
    if (auto country = r.Text(*addr, "country", ap); country && IsCountry(*country)) {
      loc->country = std::string(*country);
    }
  }
}

// Maps one event object. Errors go to out->errors; events only when there are none.
void MapEvent(dom::element el, const std::string& base, const AdapterContext& ctx,
              const DcsaMappings& m, MappedMessage* out) {
  Problems problems(&out->errors);
  Reader r(&problems);
  if (out->unit.size() > kMaxEventBytes) {
    problems.Add(base, "the event is " + std::to_string(out->unit.size()) +
                           " bytes long, at most " + std::to_string(kMaxEventBytes) +
                           " are allowed");
    return;
  }
  dom::object o;
  if (el.get(o)) {
    problems.Add(base, std::string("expected an event object, got ") + DomTypeName(el.type()));
    return;
  }
  dom::element probe;
  if (o["eventType"].error() == simdjson::NO_SUCH_FIELD && !o["events"].get(probe)) {
    problems.Add(base,
                 "an {\"events\": [...]} envelope is DCSA T&T 3.0; dcsa-tnt reads T&T 2.2 "
                 "(an event object or an array of events)");
    return;
  }

  // What the event is.
  auto event_type = r.RequiredId(o, "eventType", base);
  const char* code_key = nullptr;
  if (event_type) {
    if (*event_type == "EQUIPMENT") {
      code_key = "equipmentEventTypeCode";
    } else if (*event_type == "TRANSPORT") {
      code_key = "transportEventTypeCode";
    } else if (*event_type == "SHIPMENT") {
      code_key = "shipmentEventTypeCode";
    } else {
      problems.Add(JoinPath(base, "eventType"), "unknown event type " +
                                                    QuoteJsonValue(*event_type) +
                                                    " (expected EQUIPMENT, TRANSPORT or SHIPMENT)");
    }
  }
  std::optional<std::string_view> code;
  if (code_key) {
    code = r.Id(o, code_key, base);
    // The deprecated generic field, still sent by some carriers.
    if (!code && !problems.any()) code = r.Id(o, "eventTypeCode", base);
    if (!code && !problems.any()) problems.Add(JoinPath(base, code_key), "required");
  }
  const bool shipment_event = event_type && *event_type == "SHIPMENT";

  auto classifier_code = r.RequiredId(o, "eventClassifierCode", base);
  std::optional<DcsaClassifier> classifier;
  if (classifier_code) {
    auto it = m.classifiers.find(std::string(*classifier_code));
    if (it == m.classifiers.end()) {
      problems.Add(JoinPath(base, "eventClassifierCode"),
                   "classifier " + QuoteJsonValue(*classifier_code) + " is not mapped in " +
                       std::string(kDcsaMappingsFile) + " (expected ACT, EST or PLN)");
    } else {
      classifier = it->second;
    }
  }

  auto event_time = r.Time(o, "eventDateTime", base, /*required=*/true);
  const bool estimate = !shipment_event && classifier == DcsaClassifier::kEstimate;
  auto created = r.Time(o, "eventCreatedDateTime", base, /*required=*/estimate);
  auto event_id = r.Id(o, "eventID", base);
  auto empty_indicator = r.Id(o, "emptyIndicatorCode", base);
  auto delay_reason = r.Id(o, "delayReasonCode", base);

  // Where it happened, and the carrier.
  std::optional<std::string_view> facility_type;
  std::optional<std::string_view> carrier;
  Location loc;
  if (auto event_loc = r.Obj(o, "eventLocation", base)) {
    ReadLocation(r, *event_loc, JoinPath(base, "eventLocation"), &loc);
  }
  if (auto tc = r.Obj(o, "transportCall", base)) {
    const std::string tp = JoinPath(base, "transportCall");
    facility_type = r.Id(*tc, "facilityTypeCode", tp);
    if (loc == Location{}) {
      if (auto tl = r.Obj(*tc, "location", tp))
        ReadLocation(r, *tl, JoinPath(tp, "location"), &loc);
      if (auto u = r.Str(*tc, "UNLocationCode", tp)) {
        if (!IsUnLocode(*u)) {
          problems.Add(JoinPath(tp, "UNLocationCode"), QuoteJsonValue(*u) + " is not a UN/LOCODE");
        } else if (!loc.unlocode) {
          loc.unlocode = std::string(*u);
        }
      }
    }
    dom::element vessel_el;
    dom::object vessel;
    if (!(*tc)["vessel"].get(vessel_el) && !vessel_el.get(vessel)) {
      const std::string vp = JoinPath(tp, "vessel");
      auto provider = r.Id(vessel, "vesselOperatorCarrierCodeListProvider", vp);
      auto code_value = r.Id(vessel, "vesselOperatorCarrierCode", vp);
      if (code_value && (!provider || *provider == "NMFTA")) carrier = code_value;
    }
  }
  if (!loc.country && loc.unlocode) loc.country = loc.unlocode->substr(0, 2);

  // References, and the shipment they identify.
  std::vector<Reference> refs;
  std::optional<std::string_view> si, trd, bkg;
  if (auto arr = r.Arr(o, "references", base)) {
    std::size_t i = 0;
    for (dom::element item : *arr) {
      const std::string ip = IndexPath(JoinPath(base, "references"), i++);
      dom::object ref;
      if (item.get(ref)) {
        problems.Add(ip, std::string("expected an object, got ") + DomTypeName(item.type()));
        continue;
      }
      auto type = r.RequiredId(ref, "referenceType", ip);
      auto value = r.RequiredId(ref, "referenceValue", ip);
      if (!type || !value) continue;
      if (*type == "SI" && !si) si = value;
      AddReference(&refs, *type, *value);
    }
  }
  if (auto arr = r.Arr(o, "documentReferences", base)) {
    std::size_t i = 0;
    for (dom::element item : *arr) {
      const std::string ip = IndexPath(JoinPath(base, "documentReferences"), i++);
      dom::object ref;
      if (item.get(ref)) {
        problems.Add(ip, std::string("expected an object, got ") + DomTypeName(item.type()));
        continue;
      }
      auto type = r.RequiredId(ref, "documentReferenceType", ip);
      auto value = r.RequiredId(ref, "documentReferenceValue", ip);
      if (!type || !value) continue;
      std::string_view norm = *type;
      if (auto it = m.document_reference_types.find(std::string(*type));
          it != m.document_reference_types.end()) {
        norm = it->second;
      }
      if (norm == "TRD" && !trd) trd = value;
      if (norm == "BKG" && !bkg) bkg = value;
      AddReference(&refs, norm, *value);
    }
  }
  std::optional<std::string_view> doc_type_code, doc_id;
  if (shipment_event) {
    doc_type_code = r.RequiredId(o, "documentTypeCode", base);
    doc_id = r.Id(o, "documentID", base);
    if (doc_type_code && doc_id) {
      if (*doc_type_code == "TRD" && !trd) trd = doc_id;
      if (*doc_type_code == "BKG" && !bkg) bkg = doc_id;
      AddReference(&refs, *doc_type_code, *doc_id);
    }
  }
  if (auto v = r.Id(o, "transportDocumentReference", base)) {
    if (!trd) trd = v;
    AddReference(&refs, "TRD", *v);
  }
  if (auto v = r.Id(o, "carrierBookingReference", base)) {
    if (!bkg) bkg = v;
    AddReference(&refs, "BKG", *v);
  }
  if (auto v = r.Id(o, "equipmentReference", base)) AddReference(&refs, "EQ", *v);
  if (refs.size() > kMaxReferences) {
    problems.Add(JoinPath(base, "references"), "the event has " + std::to_string(refs.size()) +
                                                   " references, at most " +
                                                   std::to_string(kMaxReferences) + " are allowed");
  }
  std::optional<std::string_view> shipment = si ? si : trd ? trd : bkg;
  if (!shipment && !problems.any()) {
    problems.Add(JoinPath(base, "references"),
                 "no shipment reference: expected references[referenceType=SI] or a TRD or BKG "
                 "document reference");
  }
  if (problems.any()) return;

  Event ev;
  ev.source.system = SourceSystem::kCarrier;
  ev.source.format = std::string(kDcsaTntFormat);
  ev.source.partner = ctx.partner;
  ev.shipment_id = std::string(*shipment);
  if (carrier) ev.carrier = std::string(*carrier);
  ev.references = std::move(refs);
  ev.source_code = std::string(*code);
  if (delay_reason) ev.reason_code = std::string(*delay_reason);
  if (!(loc == Location{})) ev.location = std::move(loc);
  ev.occurred_at = event_time->utc;
  ev.occurred_offset_minutes = event_time->offset_minutes;

  if (shipment_event) {
    ev.kind = EventKind::kDocument;
    DocumentBody doc;
    auto it = m.document_types.find(std::string(*doc_type_code));
    doc.type = it != m.document_types.end() ? it->second : std::string(*doc_type_code);
    if (doc_id) {
      doc.number = std::string(*doc_id);
    } else if (*doc_type_code == "TRD" && trd) {
      doc.number = std::string(*trd);
    } else if (*doc_type_code == "BKG" && bkg) {
      doc.number = std::string(*bkg);
    }
    ev.document = std::move(doc);
  } else if (estimate) {
    const DcsaEstimateRule* rule =
        m.FindEstimate(*event_type, *code, empty_indicator, facility_type);
    if (!rule) {
      problems.Add(JoinPath(base, code_key), "no estimate rule for " + std::string(*event_type) +
                                                 " " + QuoteJsonValue(*code) + " in " +
                                                 std::string(kDcsaMappingsFile));
      return;
    }
    ev.kind = EventKind::kEstimate;
    ev.occurred_at = created->utc;
    ev.occurred_offset_minutes = created->offset_minutes;
    ev.estimate = Estimate{event_time->utc, rule->of, created->utc};
  } else {
    ev.kind = EventKind::kMilestone;
    if (const DcsaStatusRule* rule =
            m.FindActual(*event_type, *code, empty_indicator, facility_type)) {
      ev.status = rule->status;
    }
  }
  ev.event_id = event_id ? std::string(*event_id) : DeriveEventId(ev);
  FillCorrelationId(&ev);
  if (Status st = ValidateEvent(ev); !st.ok()) {
    problems.Add(base, st.message());
    return;
  }
  out->events.push_back(std::move(ev));
}

class DcsaTntAdapter final : public Adapter {
 public:
  DcsaTntAdapter() {
    // Fixes the depth limit for every later (re)allocation; failure here only means the
    // first parse allocates instead.
    [[maybe_unused]] auto err = dom_.allocate(kInitialCapacity, kMaxDepth);
  }

  std::string_view format() const override { return kDcsaTntFormat; }

  void Map(std::string_view document, const AdapterContext& ctx, const MessageSink& sink) override {
    const Result<DcsaMappings>& mappings = DcsaMappingsEmbedded();
    if (!mappings.ok()) {
      RejectDocument(document, mappings.status().message(), sink);
      return;
    }
    CopyPadded(document, &buf_);

    dom::element root;
    if (auto err =
            dom_.parse(reinterpret_cast<const std::uint8_t*>(buf_.data()), document.size(), false)
                .get(root);
        err) {
      RejectDocument(document, std::string("$: not valid JSON: ") + simdjson::error_message(err),
                     sink);
      return;
    }
    if (root.is_object()) {
      MappedMessage msg;
      msg.position = "$";
      msg.unit = TrimJsonSpace(document);
      MapSafely(root, msg.position, ctx, *mappings, &msg);
      sink(std::move(msg));
      return;
    }
    dom::array arr;
    if (root.get(arr)) {
      RejectDocument(document,
                     std::string("$: expected an event object or an array of event objects, "
                                 "got ") +
                         DomTypeName(root.type()),
                     sink);
      return;
    }
    const bool have_spans = ElementSpans(document);
    std::size_t i = 0;
    for (dom::element el : arr) {
      MappedMessage msg;
      msg.position = IndexPath("$", i);
      msg.unit = have_spans && i < spans_.size() ? spans_[i] : document;
      MapSafely(el, msg.position, ctx, *mappings, &msg);
      sink(std::move(msg));
      ++i;
    }
  }

 private:
  static void MapSafely(dom::element el, const std::string& base, const AdapterContext& ctx,
                        const DcsaMappings& m, MappedMessage* msg) {
    try {
      MapEvent(el, base, ctx, m, msg);
    } catch (const std::exception& e) {
      msg->events.clear();
      msg->errors.push_back(base + ": internal error while mapping: " + e.what());
    }
    if (!msg->errors.empty()) msg->events.clear();
  }

  // Fills spans_ with the original text of each element of the top-level array (views into
  // `document`). The document is already known to be valid JSON.
  bool ElementSpans(std::string_view document) {
    spans_.clear();
    od::document doc;
    if (od_.iterate(buf_.data(), document.size(), buf_.size()).get(doc)) return false;
    od::array arr;
    if (doc.get_array().get(arr)) return false;
    return AppendElementSpans(arr, document, buf_.data(), &spans_);
  }

  dom::parser dom_;
  od::parser od_;
  std::vector<char> buf_;
  std::vector<std::string_view> spans_;
};

}  // namespace

std::unique_ptr<Adapter> MakeDcsaTntAdapter() { return std::make_unique<DcsaTntAdapter>(); }

}  // namespace waybill::ingest
