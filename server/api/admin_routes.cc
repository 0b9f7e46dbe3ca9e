// Operator routes: rebuild, republish, dead letters and stats. Long or writing operations
// run on the operations thread, one at a time, so two rebuilds never race.
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <charconv>

#include "ingest/dead_letter_ops.h"
#include "ledger/dead_letter_json.h"
#include "projections/projection_stats.h"
#include "schemas/event_json.h"
#include "server/api/api_impl.h"

namespace waybill::server::api {
namespace {

std::optional<std::uint64_t> ParseId(std::string_view s) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v == 0) return std::nullopt;
  return v;
}

// Parses an optional JSON object body; an empty body is "{}".
bool ParseBody(std::string_view body, simdjson::dom::parser& parser, simdjson::dom::object* out,
               std::string* error) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) body = "{}";
  simdjson::dom::element doc;
  if (auto e = parser.parse(body.data(), body.size()).get(doc); e != simdjson::SUCCESS) {
    *error = std::string("body is not JSON: ") + simdjson::error_message(e);
    return false;
  }
  if (doc.get(*out) != simdjson::SUCCESS) {
    *error = "body must be a JSON object";
    return false;
  }
  return true;
}

http::Response StatusError(const http::Request& req, const Status& st) {
  switch (st.code()) {
    case ErrorCode::kNotFound:
      return ErrorResponse(req, beast_http::status::not_found, "not_found", st.message());
    case ErrorCode::kInvalidArgument:
      return ErrorResponse(req, beast_http::status::conflict, "conflict", st.message());
    case ErrorCode::kShutdown:
      return ErrorResponse(req, beast_http::status::service_unavailable, "unavailable",
                           st.message());
    default:
      return ErrorResponse(req, beast_http::status::internal_server_error, "internal",
                           st.ToString());
  }
}

}  // namespace

void Api::Impl::AdminRebuild(Call& call) {
  simdjson::dom::parser parser;
  simdjson::dom::object body;
  std::string error;
  if (!ParseBody(call.request.body(), parser, &body, &error)) {
    return call.respond(
        ErrorResponse(call.request, beast_http::status::bad_request, "bad_request", error));
  }
  std::vector<projections::ViewKind> views;
  std::optional<std::string> shipment;
  for (auto field : body) {
    if (field.key == "views") {
      simdjson::dom::array names;
      if (field.value.get(names) != simdjson::SUCCESS) {
        return call.respond(ErrorResponse(call.request, beast_http::status::bad_request,
                                          "bad_request", "views: must be an array of names"));
      }
      for (auto n : names) {
        std::string_view name;
        auto kind =
            n.get(name) == simdjson::SUCCESS ? projections::ParseViewKind(name) : std::nullopt;
        if (!kind) {
          return call.respond(
              ErrorResponse(call.request, beast_http::status::bad_request, "bad_request",
                            "views: unknown view; known views: status, eta, freight_cost"));
        }
        views.push_back(*kind);
      }
    } else if (field.key == "shipment") {
      std::string_view s;
      if (field.value.get(s) != simdjson::SUCCESS || s.empty()) {
        return call.respond(ErrorResponse(call.request, beast_http::status::bad_request,
                                          "bad_request", "shipment: must be a non-empty string"));
      }
      shipment = std::string(s);
    } else {
      return call.respond(ErrorResponse(
          call.request, beast_http::status::bad_request, "bad_request",
          "unknown field \"" + std::string(field.key) + "\"; rebuild takes views and shipment"));
    }
  }
  if (views.empty())
    views.assign(std::begin(projections::kAllViews), std::end(projections::kAllViews));
  auto job = std::make_shared<Call>(std::move(call));
  operations_.Post([this, job, views, shipment] {
    Call& c = *job;
    const auto started = std::chrono::steady_clock::now();
    Status st = shipment ? deps_.projector.RebuildShipment(*shipment, views)
                         : deps_.projector.Rebuild(views);
    if (st.ok())
      st = shipment ? index_->Refresh({*shipment}, index_->through_seq())
                    : index_->Reload(deps_.projector.checkpoint().last_seq);
    if (!st.ok()) return c.respond(StatusError(c.request, st));
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
    spdlog::info("rebuild of {} view(s){} by {} done in {} ms", views.size(),
                 shipment ? " of shipment " + *shipment : std::string(), c.principal.subject, ms);
    c.respond(JsonResponse(
        c.request, beast_http::status::ok,
        "{\"ok\":true,\"checkpoint\":" + std::to_string(deps_.projector.checkpoint().last_seq) +
            ",\"elapsed_ms\":" + std::to_string(ms) + "}"));
  });
}

void Api::Impl::AdminRepublish(Call& call) {
  simdjson::dom::parser parser;
  simdjson::dom::object body;
  std::string error;
  if (!ParseBody(call.request.body(), parser, &body, &error)) {
    return call.respond(
        ErrorResponse(call.request, beast_http::status::bad_request, "bad_request", error));
  }
  std::optional<std::uint64_t> from;
  std::uint64_t to = UINT64_MAX;
  std::optional<std::string> shipment;
  for (auto field : body) {
    std::uint64_t n = 0;
    std::string_view s;
    if (field.key == "from" && field.value.get(n) == simdjson::SUCCESS && n >= 1) {
      from = n;
    } else if (field.key == "to" && field.value.get(n) == simdjson::SUCCESS && n >= 1) {
      to = n;
    } else if (field.key == "shipment" && field.value.get(s) == simdjson::SUCCESS && !s.empty()) {
      shipment = std::string(s);
    } else {
      return call.respond(ErrorResponse(
          call.request, beast_http::status::bad_request, "bad_request",
          "field \"" + std::string(field.key) +
              "\": republish takes from and to (sequences, at least 1) and shipment (an id)"));
    }
  }
  if (!from) {
    return call.respond(ErrorResponse(call.request, beast_http::status::bad_request, "bad_request",
                                      "from: required (the first sequence)"));
  }
  if (*from > to) {
    return call.respond(ErrorResponse(call.request, beast_http::status::bad_request, "bad_request",
                                      "from: must not be greater than to"));
  }
  auto job = std::make_shared<Call>(std::move(call));
  operations_.Post([this, job, from = *from, to, shipment] {
    Call& c = *job;
    auto r = deps_.projector.Republish(from, to, shipment);
    if (!r.ok()) return c.respond(StatusError(c.request, r.status()));
    c.respond(JsonResponse(c.request, beast_http::status::ok,
                           "{\"ok\":true,\"events\":" + std::to_string(r->events) +
                               ",\"views\":" + std::to_string(r->views) + "}"));
  });
}

void Api::Impl::AdminDlqList(Call& call) {
  if (auto bad = CheckParams(call.query, {"state", "after", "limit"})) {
    return call.respond(
        ErrorResponse(call.request, beast_http::status::bad_request, "bad_request", bad->message));
  }
  std::optional<ParamError> error;
  const std::uint64_t after =
      ParseUintParam(call.query, "after", 0, UINT64_MAX, &error).value_or(0);
  const std::uint64_t limit = ParseUintParam(call.query, "limit", 1, 1000, &error).value_or(100);
  const std::string_view state = call.query.Get("state").value_or("pending");
  if (!error && state != "pending" && state != "all") {
    error = ParamError{"state: must be pending or all"};
  }
  if (error) {
    return call.respond(ErrorResponse(call.request, beast_http::status::bad_request, "bad_request",
                                      error->message));
  }
  std::string body = "{\"dead_letters\":[";
  std::uint64_t cursor = after, returned = 0;
  bool more = false;
  // Walk pages until `limit` matches or the end: pending ones may be sparse among resolved.
  while (returned < limit) {
    auto page = deps_.ledger.ListDeadLetters(cursor, 1000);
    if (!page.ok()) return call.respond(StatusError(call.request, page.status()));
    if (page->empty()) break;
    for (const auto& summary : *page) {
      const ledger::DeadLetter& dl = summary.letter;
      if (state == "pending" && dl.state != ledger::DeadLetterState::kPending) {
        cursor = dl.id;
        continue;
      }
      if (returned == limit) {
        more = true;
        break;
      }
      if (returned) body.push_back(',');
      body += ledger::DeadLetterSummaryJson(summary);
      ++returned;
      cursor = dl.id;
    }
    if (more) break;
  }
  body += "],\"next_after\":" + (more ? std::to_string(cursor) : std::string("null")) + "}";
  call.respond(JsonResponse(call.request, beast_http::status::ok, std::move(body)));
}

void Api::Impl::AdminDlqShow(Call& call) {
  auto id = ParseId(call.params[0]);
  if (!id) {
    return call.respond(ErrorResponse(call.request, beast_http::status::bad_request, "bad_request",
                                      "id: not a dead-letter id (a positive number)"));
  }
  auto dl = deps_.ledger.GetDeadLetter(*id);
  if (!dl.ok()) return call.respond(StatusError(call.request, dl.status()));
  call.respond(JsonResponse(call.request, beast_http::status::ok, ledger::DeadLetterJson(*dl)));
}

void Api::Impl::AdminDlqRetry(Call& call) {
  auto id = ParseId(call.params[0]);
  if (!id) {
    return call.respond(ErrorResponse(call.request, beast_http::status::bad_request, "bad_request",
                                      "id: not a dead-letter id (a positive number)"));
  }
  auto job = std::make_shared<Call>(std::move(call));
  operations_.Post([this, job, id = *id] {
    Call& c = *job;
    auto outcome = ingest::RetryDeadLetter(deps_.ledger, id, deps_.intake_config.adapters,
                                           deps_.intake_config.profiles, c.principal.subject);
    if (!outcome.ok()) return c.respond(StatusError(c.request, outcome.status()));
    std::string body = "{\"id\":" + std::to_string(outcome->id) +
                       ",\"resolved\":" + (outcome->resolved ? "true" : "false") +
                       ",\"accepted\":" + std::to_string(outcome->accepted) +
                       ",\"duplicates\":" + std::to_string(outcome->duplicates) + ",\"reasons\":[";
    for (std::size_t i = 0; i < outcome->reasons.size(); ++i) {
      if (i) body.push_back(',');
      AppendJsonString(outcome->reasons[i], &body);
    }
    body += "]}";
    c.respond(JsonResponse(c.request, beast_http::status::ok, std::move(body)));
  });
}

void Api::Impl::AdminDlqDrop(Call& call) {
  if (auto bad = CheckParams(call.query, {"reason"})) {
    return call.respond(
        ErrorResponse(call.request, beast_http::status::bad_request, "bad_request", bad->message));
  }
  auto id = ParseId(call.params[0]);
  if (!id) {
    return call.respond(ErrorResponse(call.request, beast_http::status::bad_request, "bad_request",
                                      "id: not a dead-letter id (a positive number)"));
  }
  const std::string reason(call.query.Get("reason").value_or(""));
  auto job = std::make_shared<Call>(std::move(call));
  operations_.Post([this, job, id = *id, reason] {
    Call& c = *job;
    Status st = ingest::DropDeadLetter(deps_.ledger, id, c.principal.subject, reason);
    if (!st.ok()) return c.respond(StatusError(c.request, st));
    c.respond(JsonResponse(c.request, beast_http::status::ok,
                           "{\"dropped\":" + std::to_string(id) + "}"));
  });
}

void Api::Impl::AdminStats(Call& call) {
  auto stats = deps_.ledger.Stats();
  if (!stats.ok()) return call.respond(StatusError(call.request, stats.status()));
  auto projection_stats = projections::ReadProjectionStats(deps_.ledger);
  if (!projection_stats.ok()) {
    return call.respond(StatusError(call.request, projection_stats.status()));
  }
  // The same object as `waybill stats --json`.
  std::string body = "{\"events\":" + std::to_string(stats->events) +
                     ",\"shipments\":" + std::to_string(stats->shipments) +
                     ",\"dead_letters\":" + std::to_string(stats->dead_letters) +
                     ",\"dead_letters_pending\":" + std::to_string(stats->dead_letters_pending) +
                     ",\"raw_messages_estimate\":" + std::to_string(stats->raw_messages) +
                     ",\"size_bytes\":" + std::to_string(stats->size_bytes) +
                     ",\"head_seq\":" + std::to_string(stats->head.seq) + ",\"head_hash\":\"" +
                     ToHex(stats->head.hash) + "\",\"projections\":" + projection_stats->ToJson() +
                     "}";
  call.respond(JsonResponse(call.request, beast_http::status::ok, std::move(body)));
}

}  // namespace waybill::server::api
