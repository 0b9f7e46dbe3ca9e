// POST /v1/ingest/{format}: map the body on the I/O thread, submit it, and answer from the
// completion thread once the group commit made its events and dead letters durable.
#include <spdlog/spdlog.h>

#include "ingest/append_pipeline.h"
#include "schemas/event_json.h"
#include "server/api/api_impl.h"

namespace waybill::server::api {
namespace {

// Nesting depth of JSON-looking text (brackets outside strings); cheap, runs before parsing
// so a hostile body cannot drive a recursive parser deep.
int JsonDepth(std::string_view text) {
  int depth = 0, max_depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      max_depth = std::max(max_depth, ++depth);
    } else if (c == '}' || c == ']') {
      depth = std::max(0, depth - 1);
    } else if (c == '\n') {
      depth = 0;  // NDJSON: each line stands alone
    }
  }
  return max_depth;
}

// The shape every format name has (built-in names and mapping files' "format", which
// mapping_file.cc enforces): lower-case letters, digits, '-' and '_', at most 64, starting
// with a letter or digit. An unknown name of this shape is dead-lettered for a later retry;
// anything else can never name a format.
bool IsFormatName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lower_or_digit(s[0])) return false;
  for (char c : s) {
    if (!lower_or_digit(c) && c != '-' && c != '_') return false;
  }
  return true;
}

bool LooksLikeJson(std::string_view body) {
  for (char c : body) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    return c == '{' || c == '[';
  }
  return false;
}

std::string IngestAnswerJson(const ingest::ImportSummary& s) {
  std::string out;
  out.reserve(64 + s.events.size() * 64);
  out += "{\"accepted\":" + std::to_string(s.accepted) +
         ",\"duplicates\":" + std::to_string(s.duplicates) +
         ",\"rejected\":" + std::to_string(s.rejected) + ",\"events\":[";
  for (std::size_t i = 0; i < s.events.size(); ++i) {
    const auto& e = s.events[i];
    if (i) out.push_back(',');
    out += "{\"event_id\":";
    AppendJsonString(e.event_id, &out);
    out += ",\"seq\":" + std::to_string(e.seq) +
           ",\"duplicate\":" + (e.duplicate ? "true" : "false") + "}";
  }
  out += "],\"dead_letters\":[";
  for (std::size_t i = 0; i < s.rejects.size(); ++i) {
    const auto& r = s.rejects[i];
    if (i) out.push_back(',');
    out += "{\"id\":" + std::to_string(r.dead_letter_id) + ",\"reason\":";
    AppendJsonString(r.reason, &out);
    if (r.line != 0) out += ",\"line\":" + std::to_string(r.line);
    if (!r.position.empty()) {
      out += ",\"position\":";
      AppendJsonString(r.position, &out);
    }
    out.push_back('}');
  }
  out += "]}";
  return out;
}

}  // namespace

void Api::Impl::Ingest(Call& call) {
  if (auto bad = CheckParams(call.query, {})) {
    return call.respond(
        ErrorResponse(call.request, beast_http::status::bad_request, "bad_request", bad->message));
  }
  const std::string format = call.params[0];
  if (!IsFormatName(format)) {
    std::string details = "{\"format\":";
    AppendJsonString(format.substr(0, 100), &details);
    details += '}';
    return call.respond(ErrorResponse(
        call.request, beast_http::status::bad_request, "bad_request",
        "format: not a format name (lower-case letters, digits, '-' and '_', at most 64, "
        "starting with a letter or digit)",
        details));
  }
  std::string_view body = call.request.body();
  if (body.empty()) {
    return call.respond(
        ErrorResponse(call.request, beast_http::status::bad_request, "bad_request",
                      "the request body is empty; send one " + format + " message"));
  }
  if (LooksLikeJson(body)) {
    const int depth = JsonDepth(body);
    if (depth > options_.max_json_depth) {
      return call.respond(
          ErrorResponse(call.request, beast_http::status::bad_request, "bad_request",
                        "JSON nested " + std::to_string(depth) + " levels deep; the limit is " +
                            std::to_string(options_.max_json_depth),
                        "{\"max_json_depth\":" + std::to_string(options_.max_json_depth) + "}"));
    }
  }

  // Idempotency-Key: a retry of a finished request gets its first answer again.
  std::string key(Sv(call.request["Idempotency-Key"]));
  const bool keyed = !key.empty();
  Sha256 body_hash{};
  if (keyed) {
    if (!IdempotencyStore::ValidKey(key)) {
      return call.respond(ErrorResponse(call.request, beast_http::status::bad_request,
                                        "bad_request",
                                        "Idempotency-Key: must be 1 to 255 printable ASCII "
                                        "characters"));
    }
    // The format is part of what was asked; the same bytes as another format differ.
    body_hash = Sha256Of(format + '\n' + std::string(body));
    IdempotencyStore::Answer replay;
    switch (idempotency_.Start(call.principal.subject, key, body_hash, &replay)) {
      case IdempotencyStore::Outcome::kNew:
        break;
      case IdempotencyStore::Outcome::kReplay: {
        auto res = JsonResponse(call.request, static_cast<beast_http::status>(replay.status),
                                std::move(replay.body));
        res.set("Idempotency-Replayed", "true");
        return call.respond(std::move(res));
      }
      case IdempotencyStore::Outcome::kInFlight:
        return call.respond(ErrorResponse(call.request, beast_http::status::conflict, "conflict",
                                          "a request with this Idempotency-Key is still being "
                                          "processed; retry when it has been answered"));
      case IdempotencyStore::Outcome::kMismatch:
        return call.respond(ErrorResponse(call.request, beast_http::status::unprocessable_entity,
                                          "unprocessable",
                                          "this Idempotency-Key was used with a different "
                                          "request body; use a new key for a new request"));
    }
  }

  ingest::MessageOrigin origin;
  origin.origin = "http";
  origin.principal = call.principal.subject;
  if (auto partner = Sv(call.request["Waybill-Partner"]); !partner.empty()) {
    origin.partner = std::string(partner);
  }
  BeginIngest();
  auto pipeline = std::make_shared<ingest::AppendPipeline>(deps_.ledger);
  pipeline->RecordEvents();
  {
    auto intake = TakeIntake();
    intake->Submit(format, body, origin, *pipeline);
    ReturnIntake(std::move(intake));
  }
  // The completion runs on the writer thread; hand the answer to the completion thread,
  // which also drops the pipeline (it must not be destroyed inside its own callback).
  auto job = std::make_shared<Call>(std::move(call));
  ingest::AppendPipeline* raw_pipeline = pipeline.get();
  raw_pipeline->FinishAsync([this, job, pipeline = std::move(pipeline), keyed, key,
                             body_hash](Result<ingest::ImportSummary> result) mutable {
    completions_.Post([this, job = std::move(job), pipeline = std::move(pipeline), keyed,
                       key = std::move(key), body_hash, result = std::move(result)]() mutable {
      Call& c = *job;
      if (!result.ok()) {
        if (keyed) idempotency_.Abandon(c.principal.subject, key);
        // A storage error (full disk, RocksDB write error) is logged once by the ledger's
        // write-state callback, not once per refused request; it clears by itself.
        const bool storage = result.status().code() == ErrorCode::kIoError;
        if (storage) {
          spdlog::debug("HTTP ingest by {}: {}", c.principal.subject, result.status().ToString());
        } else {
          spdlog::error("HTTP ingest by {}: {}", c.principal.subject, result.status().ToString());
        }
        auto res =
            ErrorResponse(c.request, beast_http::status::service_unavailable,
                          storage ? "storage_unavailable" : "unavailable",
                          "the ledger could not store the message: " + result.status().message() +
                              "; nothing from the failed batches was stored, retry");
        if (storage) res.set(beast_http::field::retry_after, "5");
        c.respond(std::move(res));
      } else {
        const ingest::ImportSummary& s = *result;
        ingest_accepted_->Add(static_cast<double>(s.accepted));
        ingest_duplicates_->Add(static_cast<double>(s.duplicates));
        ingest_rejected_->Add(static_cast<double>(s.rejected));
        ingest_batch_events_->Observe(static_cast<double>(s.events.size()));
        const int status = s.rejected == 0 ? 200 : 422;
        std::string answer = IngestAnswerJson(s);
        if (keyed) {
          if (Status st =
                  idempotency_.Complete(c.principal.subject, key, body_hash, {status, answer});
              !st.ok()) {
            spdlog::warn("Idempotency-Key answer not stored: {}", st.ToString());
          }
        }
        c.respond(
            JsonResponse(c.request, static_cast<beast_http::status>(status), std::move(answer)));
      }
      pipeline.reset();
      EndIngest();
    });
  });
}

void Api::Impl::BeginIngest() {
  std::lock_guard<std::mutex> lock(ingest_mu_);
  ++ingests_in_flight_;
}

void Api::Impl::EndIngest() {
  std::lock_guard<std::mutex> lock(ingest_mu_);
  if (--ingests_in_flight_ == 0) ingest_cv_.notify_all();
}

void Api::Impl::WaitForIngests() {
  std::unique_lock<std::mutex> lock(ingest_mu_);
  ingest_cv_.wait(lock, [&] { return ingests_in_flight_ == 0; });
}

}  // namespace waybill::server::api
