// Portal routes: one shipment's views (also over NATS request/reply), the shipment list and
// a shipment's events. Tenant rule: a shipment the principal may not see answers exactly as
// an unknown one would (404, same message), and never appears in a list.
#include <simdjson.h>

#include "projections/view_reader.h"
#include "schemas/event_json.h"
#include "schemas/time.h"
#include "server/api/api_impl.h"

namespace waybill::server::api {
namespace {

std::string ErrorJson(std::string_view code, std::string_view message) {
  std::string out = "{\"error\":{\"code\":";
  AppendJsonString(code, &out);
  out += ",\"message\":";
  AppendJsonString(message, &out);
  out += ",\"details\":{}}}";
  return out;
}

std::string NotFoundMessage(std::string_view shipment_id) {
  return "no shipment \"" + std::string(shipment_id) + "\"";
}

// The customer the shipment's ERP event named, from whichever view has it.
std::optional<std::string> CustomerOf(const projections::ShipmentViews& views) {
  for (projections::ViewKind kind : projections::kAllViews) {
    if (const auto* v = views.get(kind); v != nullptr && v->customer_id()) return v->customer_id();
  }
  return std::nullopt;
}

std::string ETagOf(const projections::ShipmentViews& views, bool with_costs) {
  auto version = [&](projections::ViewKind kind) {
    const auto* v = views.get(kind);
    return std::to_string(v ? v->version() : 0);
  };
  return "\"" + version(projections::ViewKind::kStatus) + "." +
         version(projections::ViewKind::kEta) + "." +
         (with_costs ? version(projections::ViewKind::kFreightCost) : std::string("-")) + "\"";
}

// RFC 9110 If-None-Match: "*" or a list of entity tags, weak comparison.
bool MatchesIfNoneMatch(std::string_view header, std::string_view etag) {
  std::size_t i = 0;
  while (i < header.size()) {
    while (i < header.size() && (header[i] == ' ' || header[i] == ',')) ++i;
    if (i >= header.size()) break;
    if (header[i] == '*') return true;
    if (header.substr(i, 2) == "W/") i += 2;
    const std::size_t end = header.find('"', i + 1);
    if (header[i] != '"' || end == std::string_view::npos) return false;
    if (header.substr(i, end - i + 1) == etag) return true;
    i = end + 1;
  }
  return false;
}

beast_http::status ToStatus(int status) { return static_cast<beast_http::status>(status); }

}  // namespace

ShipmentRead Api::Impl::ReadShipment(const auth::Principal& principal, std::string_view shipment_id,
                                     std::optional<std::string_view> as_of,
                                     std::optional<std::string_view> if_none_match) {
  ShipmentRead out;
  Result<projections::ShipmentViews> views = projections::ShipmentViews{};
  if (as_of) {
    auto at = ParseRfc3339(*as_of);
    if (!at.ok()) {
      out.status = 400;
      out.body = ErrorJson("bad_request", "as_of: " + at.status().message());
      return out;
    }
    auto bound = deps_.ledger.FirstSeqRecordedAfter(at->utc);
    if (!bound.ok()) {
      views = bound.status();
    } else {
      const std::uint64_t first_after = *bound;
      views = projections::FoldShipment(deps_.ledger, shipment_id,
                                        [&](const Event& e) { return e.ledger.seq < first_after; });
    }
  } else {
    views = deps_.projector.ReadCurrentViews(shipment_id);
  }
  if (!views.ok()) {
    out.status = 500;
    out.body = ErrorJson("internal", "reading views failed: " + views.status().ToString());
    return out;
  }
  if (views->empty() || !principal.CanSee(CustomerOf(*views))) {
    out.status = 404;
    out.body = ErrorJson("not_found", NotFoundMessage(shipment_id));
    return out;
  }
  const bool with_costs = principal.HasScope(auth::kScopeCostsRead);
  if (!as_of) {
    out.etag = ETagOf(*views, with_costs);
    if (if_none_match && MatchesIfNoneMatch(*if_none_match, out.etag)) {
      out.status = 304;
      return out;
    }
  }
  out.body = views->ToJson(shipment_id, with_costs);
  return out;
}

void Api::Impl::GetShipment(Call& call) {
  if (auto bad = CheckParams(call.query, {"as_of"})) {
    return call.respond(
        ErrorResponse(call.request, beast_http::status::bad_request, "bad_request", bad->message));
  }
  const std::string_view inm = Sv(call.request[beast_http::field::if_none_match]);
  ShipmentRead read =
      ReadShipment(call.principal, call.params[0], call.query.Get("as_of"),
                   inm.empty() ? std::nullopt : std::optional<std::string_view>(inm));
  http::Response res{ToStatus(read.status), call.request.version()};
  res.keep_alive(call.request.keep_alive());
  if (!read.etag.empty()) {
    res.set(beast_http::field::etag, read.etag);
    res.set(beast_http::field::cache_control, "no-cache");
  }
  if (read.status != 304) {
    res.set(beast_http::field::content_type, "application/json");
    res.body() = std::move(read.body);
  }
  call.respond(std::move(res));
}

void Api::Impl::ListShipments(Call& call) {
  if (auto bad = CheckParams(
          call.query, {"customer", "status", "carrier", "updated_since", "limit", "cursor"})) {
    return call.respond(
        ErrorResponse(call.request, beast_http::status::bad_request, "bad_request", bad->message));
  }
  std::optional<ParamError> error;
  const std::uint64_t limit = ParseUintParam(call.query, "limit", 1, 500, &error).value_or(50);
  if (error) {
    return call.respond(ErrorResponse(call.request, beast_http::status::bad_request, "bad_request",
                                      error->message));
  }
  ListFilter filter;
  if (auto v = call.query.Get("customer")) filter.customer = std::string(*v);
  if (auto v = call.query.Get("status")) filter.status = std::string(*v);
  if (auto v = call.query.Get("carrier")) filter.carrier = std::string(*v);
  if (auto v = call.query.Get("updated_since")) {
    auto at = ParseRfc3339(*v);
    if (!at.ok()) {
      return call.respond(ErrorResponse(call.request, beast_http::status::bad_request,
                                        "bad_request", "updated_since: " + at.status().message()));
    }
    filter.updated_since = at->utc;
  }
  std::optional<ListCursor> cursor;
  if (auto v = call.query.Get("cursor")) {
    cursor = DecodeCursor(*v);
    if (!cursor) {
      return call.respond(ErrorResponse(call.request, beast_http::status::bad_request,
                                        "bad_request",
                                        "cursor: not a cursor from a previous page's next_cursor"));
    }
  }
  // A confined token lists its own customer only; asking for another finds nothing.
  bool empty = false;
  if (call.principal.customer) {
    if (filter.customer && filter.customer != call.principal.customer) empty = true;
    filter.customer = call.principal.customer;
  }
  const bool with_costs = call.principal.HasScope(auth::kScopeCostsRead);
  std::string body = "{\"shipments\":[";
  std::optional<ListCursor> next;
  if (!empty) {
    auto listed = index_->List(filter, cursor, limit);
    if (!listed.ok()) {
      return call.respond(
          ErrorResponse(call.request, beast_http::status::internal_server_error, "internal",
                        "reading the shipment list failed: " + listed.status().ToString()));
    }
    ShipmentIndex::Page page = std::move(listed).value();
    next = page.next;
    bool first = true;
    for (const std::string& id : page.shipment_ids) {
      auto views = deps_.projector.ReadCurrentViews(id);
      if (!views.ok()) {
        return call.respond(ErrorResponse(call.request, beast_http::status::internal_server_error,
                                          "internal",
                                          "reading views failed: " + views.status().ToString()));
      }
      // The index trails the worker by a moment; the views are the authority on visibility.
      if (views->empty() || !call.principal.CanSee(CustomerOf(*views))) continue;
      if (!first) body.push_back(',');
      first = false;
      body += views->ToJson(id, with_costs);
    }
  }
  body += "],\"next_cursor\":";
  if (next) {
    AppendJsonString(EncodeCursor(*next), &body);
  } else {
    body += "null";
  }
  body += '}';
  call.respond(JsonResponse(call.request, beast_http::status::ok, std::move(body)));
}

void Api::Impl::ShipmentEvents(Call& call) {
  if (auto bad = CheckParams(call.query, {})) {
    return call.respond(
        ErrorResponse(call.request, beast_http::status::bad_request, "bad_request", bad->message));
  }
  const std::string& id = call.params[0];
  if (call.principal.customer) {
    auto views = deps_.projector.ReadCurrentViews(id);
    if (!views.ok() || views->empty() || !call.principal.CanSee(CustomerOf(*views))) {
      return call.respond(ErrorResponse(call.request, beast_http::status::not_found, "not_found",
                                        NotFoundMessage(id)));
    }
  }
  auto events = deps_.ledger.ReadShipment(id);
  if (!events.ok()) {
    return call.respond(ErrorResponse(call.request, beast_http::status::internal_server_error,
                                      "internal", events.status().ToString()));
  }
  if (events->empty()) {
    return call.respond(ErrorResponse(call.request, beast_http::status::not_found, "not_found",
                                      NotFoundMessage(id)));
  }
  const bool with_costs = call.principal.HasScope(auth::kScopeCostsRead);
  std::string body = "{\"shipment_id\":";
  AppendJsonString(id, &body);
  body += ",\"events\":[";
  for (std::size_t i = 0; i < events->size(); ++i) {
    Event& e = (*events)[i];
    if (!with_costs) e.charges.reset();
    if (i) body.push_back(',');
    AppendEventJson(e, &body);
  }
  body += "]}";
  call.respond(JsonResponse(call.request, beast_http::status::ok, std::move(body)));
}

Api::QueryReply Api::Impl::QueryShipment(std::string_view authorization, std::string_view payload) {
  auto principal = deps_.authenticator.Authenticate(authorization);
  if (!principal.ok()) return {401, ErrorJson("unauthenticated", principal.status().message())};
  if (auto wait = deps_.rate_limiter.Acquire(principal->subject)) {
    return {429, ErrorJson("rate_limited", "rate limit for " + principal->subject + " exceeded")};
  }
  if (!principal->HasScope(auth::kScopeShipmentsRead)) {
    return {403, ErrorJson("forbidden", "this request needs scope shipments:read")};
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view id;
  if (parser.parse(payload.data(), payload.size()).get(doc) != simdjson::SUCCESS ||
      doc["shipment_id"].get(id) != simdjson::SUCCESS || id.empty()) {
    return {400, ErrorJson("bad_request",
                           "payload must be a JSON object with a non-empty \"shipment_id\"")};
  }
  ShipmentRead read = ReadShipment(*principal, id, std::nullopt, std::nullopt);
  return {read.status, std::move(read.body)};
}

}  // namespace waybill::server::api
