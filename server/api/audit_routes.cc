// Auditor routes: the canonical event feed, the ledger head and chain verification.
#include "schemas/event_json.h"
#include "schemas/time.h"
#include "server/api/api_impl.h"

namespace waybill::server::api {
namespace {

std::string HeadJson(const ledger::LedgerHead& head) {
  std::string out = "{\"seq\":" + std::to_string(head.seq) + ",\"hash\":\"" + ToHex(head.hash) +
                    "\",\"recorded_at\":";
  if (head.seq == 0) {
    out += "null";
  } else {
    out += "\"" + FormatUtc(head.recorded_at) + "\"";
  }
  out += '}';
  return out;
}

}  // namespace

void Api::Impl::EventFeed(Call& call) {
  if (auto bad = CheckParams(call.query, {"after_seq", "limit"})) {
    return call.respond(
        ErrorResponse(call.request, beast_http::status::bad_request, "bad_request", bad->message));
  }
  std::optional<ParamError> error;
  const std::uint64_t after =
      ParseUintParam(call.query, "after_seq", 0, UINT64_MAX - 10'001, &error).value_or(0);
  const std::uint64_t limit = ParseUintParam(call.query, "limit", 1, 10'000, &error).value_or(1000);
  if (error) {
    return call.respond(ErrorResponse(call.request, beast_http::status::bad_request, "bad_request",
                                      error->message));
  }
  const std::uint64_t head = deps_.ledger.Head().seq;
  const bool with_costs = call.principal.HasScope(auth::kScopeCostsRead);
  std::string body = "{\"events\":[";
  std::uint64_t next = after;
  bool first = true;
  Status st = deps_.ledger.ReadRange(after + 1, after + limit, [&](const Event& e) {
    if (!first) body.push_back(',');
    first = false;
    if (with_costs || !e.charges) {
      AppendEventJson(e, &body);
    } else {
      Event copy = e;
      copy.charges.reset();
      AppendEventJson(copy, &body);
    }
    next = e.ledger.seq;
    return true;
  });
  if (!st.ok()) {
    return call.respond(ErrorResponse(call.request, beast_http::status::internal_server_error,
                                      "internal", st.ToString()));
  }
  body += "],\"next_after_seq\":" + std::to_string(next) +
          ",\"head_seq\":" + std::to_string(std::max(head, next)) + "}";
  call.respond(JsonResponse(call.request, beast_http::status::ok, std::move(body)));
}

void Api::Impl::LedgerHead(Call& call) {
  if (auto bad = CheckParams(call.query, {})) {
    return call.respond(
        ErrorResponse(call.request, beast_http::status::bad_request, "bad_request", bad->message));
  }
  call.respond(JsonResponse(call.request, beast_http::status::ok, HeadJson(deps_.ledger.Head())));
}

void Api::Impl::LedgerVerify(Call& call) {
  if (auto bad = CheckParams(call.query, {"from", "to"})) {
    return call.respond(
        ErrorResponse(call.request, beast_http::status::bad_request, "bad_request", bad->message));
  }
  std::optional<ParamError> error;
  const std::uint64_t from = ParseUintParam(call.query, "from", 1, UINT64_MAX, &error).value_or(1);
  const std::uint64_t to =
      ParseUintParam(call.query, "to", 1, UINT64_MAX, &error).value_or(UINT64_MAX);
  if (!error && from > to) error = ParamError{"from: must not be greater than to"};
  if (error) {
    return call.respond(ErrorResponse(call.request, beast_http::status::bad_request, "bad_request",
                                      error->message));
  }
  // A whole-ledger verification reads every event: off the I/O threads.
  auto job = std::make_shared<Call>(std::move(call));
  operations_.Post([this, job, from, to] {
    Call& c = *job;
    auto report = deps_.ledger.Verify(from, to);
    if (!report.ok()) {
      return c.respond(ErrorResponse(c.request, beast_http::status::internal_server_error,
                                     "internal", report.status().ToString()));
    }
    const std::uint64_t head = deps_.ledger.Head().seq;
    std::string body = "{\"intact\":" + std::string(report->intact ? "true" : "false") +
                       ",\"from\":" + std::to_string(from) +
                       ",\"to\":" + std::to_string(std::min(to, std::max(head, from))) +
                       ",\"events\":" + std::to_string(report->events) +
                       ",\"head\":" + HeadJson(report->head);
    if (!report->intact) {
      body += ",\"first_broken_seq\":" + std::to_string(report->first_broken_seq) + ",\"reason\":";
      AppendJsonString(report->reason, &body);
    }
    body += '}';
    c.respond(JsonResponse(c.request, beast_http::status::ok, std::move(body)));
  });
}

}  // namespace waybill::server::api
