#include "server/api/api.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>

#include "projections/projection_stats.h"
#include "projections/view_reader.h"
#include "schemas/event_json.h"
#include "server/api/api_impl.h"

namespace waybill::server::api {

// --- Shared helpers ------------------------------------------------------------------------

http::Response JsonResponse(const http::Request& request, beast_http::status status,
                            std::string body) {
  http::Response res{status, request.version()};
  res.set(beast_http::field::content_type, "application/json");
  res.keep_alive(request.keep_alive());
  res.body() = std::move(body);
  return res;
}

http::Response ErrorResponse(const http::Request& request, beast_http::status status,
                             std::string_view code, std::string_view message,
                             std::string_view details_json) {
  return http::MakeErrorResponse(status, code, message, details_json, request.version(),
                                 request.keep_alive());
}

std::optional<std::uint64_t> ParseUintParam(const QueryParams& q, std::string_view name,
                                            std::uint64_t min, std::uint64_t max,
                                            std::optional<ParamError>* error) {
  auto text = q.Get(name);
  if (!text) return std::nullopt;
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (text->empty() || ec != std::errc() || p != text->data() + text->size() || v < min ||
      v > max) {
    *error = ParamError{std::string(name) + ": \"" + std::string(*text) +
                        "\" is not a whole number from " + std::to_string(min) + " to " +
                        std::to_string(max)};
    return std::nullopt;
  }
  return v;
}

std::optional<ParamError> CheckParams(const QueryParams& q,
                                      std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : q.items) {
    bool known = false;
    for (std::string_view a : allowed) known = known || a == key;
    if (!known) {
      std::string list;
      for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      return ParamError{
          "unknown query parameter \"" + key + "\"" +
          (list.empty() ? std::string(" (this route takes none)") : "; this route takes: " + list)};
    }
  }
  return std::nullopt;
}

// --- Api -----------------------------------------------------------------------------------

Result<std::unique_ptr<Api>> Api::Create(ApiDeps deps, ApiOptions options) {
  const std::uint64_t checkpoint = deps.projector.checkpoint().last_seq;
  auto index = ShipmentIndex::Open(deps.ledger, checkpoint);
  if (!index.ok()) return index.status();
  // What a crash left the stored index behind the worker by; what the worker commits from
  // now until the API is wired to it, the index thread reads from the log (IndexLoop), as it
  // retries this when it fails (on a full disk, say: the server still starts and serves).
  if (Status st = (*index)->CatchUp(checkpoint); !st.ok()) {
    spdlog::warn("shipment list index: {} (catching up in the background)", st.ToString());
  }
  RemoveLeftoverBackups(deps.ledger.data_dir());
  auto impl = std::make_unique<Impl>(deps, options, std::move(index).value());
  return std::unique_ptr<Api>(new Api(std::move(impl)));
}

Api::Api(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Api::~Api() = default;

void Api::Handle(http::Request request, const http::ConnectionInfo& connection,
                 http::Respond respond) {
  impl_->Handle(std::move(request), connection, std::move(respond));
}
void Api::OnViewsCommitted(std::span<const Event> events,
                           std::span<const projections::CommittedViews> views) {
  impl_->OnViewsCommitted(events, views);
}
void Api::BeginShutdown() { impl_->BeginShutdown(); }
void Api::WaitForIngests() { impl_->WaitForIngests(); }
Api::QueryReply Api::QueryShipment(std::string_view authorization, std::string_view payload) {
  return impl_->QueryShipment(authorization, payload);
}

Api::Impl::Impl(ApiDeps deps, ApiOptions options, std::unique_ptr<ShipmentIndex> index)
    : deps_(deps),
      options_(options),
      index_(std::move(index)),
      idempotency_(deps.ledger,
                   std::chrono::duration_cast<std::chrono::seconds>(options.idempotency_ttl)),
      request_counters_(
          std::make_unique<std::array<std::atomic<metrics::Counter*>, kStatuses.size()>[]>(
              kRoutes.size() + 1)),
      request_seconds_(
          std::make_unique<std::array<std::atomic<metrics::Histogram*>, kStatuses.size()>[]>(
              kRoutes.size() + 1)) {
  for (std::size_t i = 0; i <= kRoutes.size(); ++i) {
    for (auto& c : request_counters_[i]) c.store(nullptr);
    for (auto& h : request_seconds_[i]) h.store(nullptr);
  }
  ingest_accepted_ = &deps_.metrics.GetCounter("waybill_ingest_events_total",
                                               "Events submitted through HTTP ingest by outcome",
                                               {{"result", "accepted"}});
  ingest_duplicates_ = &deps_.metrics.GetCounter("waybill_ingest_events_total",
                                                 "Events submitted through HTTP ingest by outcome",
                                                 {{"result", "duplicate"}});
  ingest_rejected_ = &deps_.metrics.GetCounter("waybill_ingest_events_total",
                                               "Events submitted through HTTP ingest by outcome",
                                               {{"result", "rejected"}});
  ingest_batch_events_ =
      &deps_.metrics.GetHistogram("waybill_ingest_request_events", "Events per HTTP ingest request",
                                  {1, 10, 100, 1000, 10000, 100000});
  RegisterCollectors();
  index_thread_ = std::jthread([this](std::stop_token stop) { IndexLoop(stop); });
}

Api::Impl::~Impl() {
  shutting_down_.store(true);
  WaitForIngests();
  index_thread_.request_stop();
  dirty_cv_.notify_all();
}

void Api::Impl::RecordRequest(std::size_t route_index, std::string_view method, unsigned status,
                              double seconds) {
  std::size_t slot = kStatuses.size();
  for (std::size_t i = 0; i < kStatuses.size(); ++i) {
    if (kStatuses[i] == status) slot = i;
  }
  auto route = [&] {
    return route_index < kRoutes.size() ? std::string(kRoutes[route_index].path)
                                        : std::string("unmatched");
  };
  auto counter_of = [&] {
    return &deps_.metrics.GetCounter(
        "waybill_http_requests_total", "HTTP requests answered, by route, method and status",
        {{"route", route()}, {"method", std::string(method)}, {"status", std::to_string(status)}});
  };
  auto histogram_of = [&] {
    return &deps_.metrics.GetHistogram(
        "waybill_http_request_duration_seconds",
        "Time from a whole request read to its response handed to the connection, by route "
        "and status",
        metrics::LatencyBuckets(), {{"route", route()}, {"status", std::to_string(status)}});
  };
  if (slot == kStatuses.size()) {  // a rare status: no cached series
    counter_of()->Add();
    histogram_of()->Observe(seconds);
    return;
  }
  // Series are looked up once per (route, status) and cached: the registry takes a lock.
  auto& cached_counter = request_counters_[route_index][slot];
  metrics::Counter* counter = cached_counter.load(std::memory_order_acquire);
  if (counter == nullptr) {
    counter = counter_of();
    cached_counter.store(counter, std::memory_order_release);
  }
  counter->Add();
  auto& cached_histogram = request_seconds_[route_index][slot];
  metrics::Histogram* histogram = cached_histogram.load(std::memory_order_acquire);
  if (histogram == nullptr) {
    histogram = histogram_of();
    cached_histogram.store(histogram, std::memory_order_release);
  }
  histogram->Observe(seconds);
}

void Api::Impl::Handle(http::Request request, const http::ConnectionInfo& /*connection*/,
                       http::Respond respond) {
  const auto started = std::chrono::steady_clock::now();
  auto target = ParseTarget(Sv(request.target()));
  RouteMatch match;
  if (target) match = MatchRoute(Sv(request.method_string()), target->path);
  const std::size_t route_index =
      match.route ? static_cast<std::size_t>(match.route - kRoutes.data()) : kRoutes.size();
  const std::string method = match.route ? std::string(match.route->method) : "other";

  Call call;
  call.respond = [this, route_index, method, started,
                  respond = std::move(respond)](http::Response res) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    RecordRequest(route_index, method, res.result_int(), seconds);
    respond(std::move(res));
  };
  if (!target) {
    call.respond(ErrorResponse(request, beast_http::status::bad_request, "bad_request",
                               "request target is not an absolute path with a valid query"));
    return;
  }
  if (match.route == nullptr) {
    if (!match.allow.empty()) {
      auto res =
          ErrorResponse(request, beast_http::status::method_not_allowed, "method_not_allowed",
                        std::string(Sv(request.method_string())) + " is not allowed on " +
                            target->path + "; allowed: " + match.allow);
      res.set(beast_http::field::allow, match.allow);
      call.respond(std::move(res));
    } else {
      call.respond(ErrorResponse(request, beast_http::status::not_found, "not_found",
                                 "no route " + target->path + " (see schemas/openapi.yaml)"));
    }
    return;
  }
  call.route = match.route;
  call.params = std::move(match.params);
  call.query = std::move(target->query);

  if (!match.route->scope.empty()) {
    auto principal =
        deps_.authenticator.Authenticate(Sv(request[beast_http::field::authorization]));
    if (!principal.ok()) {
      auto res = ErrorResponse(request, beast_http::status::unauthorized, "unauthenticated",
                               principal.status().message());
      res.set(beast_http::field::www_authenticate,
              request[beast_http::field::authorization].empty()
                  ? "Bearer realm=\"waybill\""
                  : "Bearer realm=\"waybill\", error=\"invalid_token\"");
      call.respond(std::move(res));
      return;
    }
    call.principal = std::move(principal).value();
    if (auto wait = deps_.rate_limiter.Acquire(call.principal.subject)) {
      const auto seconds = std::max<std::int64_t>(1, (wait->count() + 999) / 1000);
      auto res = ErrorResponse(request, beast_http::status::too_many_requests, "rate_limited",
                               "rate limit for " + call.principal.subject +
                                   " exceeded; retry after " + std::to_string(seconds) + " s",
                               "{\"retry_after_seconds\":" + std::to_string(seconds) + "}");
      res.set(beast_http::field::retry_after, std::to_string(seconds));
      call.respond(std::move(res));
      return;
    }
    const bool ingest = match.route->id == RouteId::kIngest;
    const bool allowed = ingest ? call.principal.CanIngest(call.params[0])
                                : call.principal.HasScope(match.route->scope);
    if (!allowed) {
      const std::string needed =
          ingest ? "ingest or ingest:" + call.params[0] : std::string(match.route->scope);
      std::string details = "{\"required_scope\":";
      AppendJsonString(needed, &details);
      details += '}';
      call.respond(ErrorResponse(request, beast_http::status::forbidden, "forbidden",
                                 "this route needs scope " + needed, details));
      return;
    }
    // Ledger-wide routes would show every customer's data: not for confined tokens.
    const bool ledger_wide = match.route->id != RouteId::kGetShipment &&
                             match.route->id != RouteId::kListShipments &&
                             match.route->id != RouteId::kShipmentEvents && !ingest;
    if (ledger_wide && call.principal.customer) {
      call.respond(ErrorResponse(request, beast_http::status::forbidden, "forbidden",
                                 "tokens confined to a customer cannot use ledger-wide routes"));
      return;
    }
  }
  if (shutting_down_.load() && match.route->id != RouteId::kHealthz &&
      match.route->id != RouteId::kReadyz && match.route->id != RouteId::kMetrics) {
    call.respond(ErrorResponse(request, beast_http::status::service_unavailable, "unavailable",
                               "the server is stopping"));
    return;
  }
  call.request = std::move(request);
  try {
    Dispatch(call);
  } catch (const std::exception& e) {
    spdlog::error("HTTP {} {}: {}", Sv(call.request.method_string()), Sv(call.request.target()),
                  e.what());
    call.respond(ErrorResponse(call.request, beast_http::status::internal_server_error, "internal",
                               "internal error; the server log has the details"));
  }
}

void Api::Impl::Dispatch(Call& call) {
  switch (call.route->id) {
    case RouteId::kIngest:
      return Ingest(call);
    case RouteId::kGetShipment:
      return GetShipment(call);
    case RouteId::kListShipments:
      return ListShipments(call);
    case RouteId::kShipmentEvents:
      return ShipmentEvents(call);
    case RouteId::kEventFeed:
      return EventFeed(call);
    case RouteId::kLedgerHead:
      return LedgerHead(call);
    case RouteId::kLedgerVerify:
      return LedgerVerify(call);
    case RouteId::kAdminRebuild:
      return AdminRebuild(call);
    case RouteId::kAdminRepublish:
      return AdminRepublish(call);
    case RouteId::kAdminDlqList:
      return AdminDlqList(call);
    case RouteId::kAdminDlqShow:
      return AdminDlqShow(call);
    case RouteId::kAdminDlqRetry:
      return AdminDlqRetry(call);
    case RouteId::kAdminDlqDrop:
      return AdminDlqDrop(call);
    case RouteId::kAdminStats:
      return AdminStats(call);
    case RouteId::kAdminBackupCreate:
      return AdminBackupCreate(call);
    case RouteId::kAdminBackupFile:
      return AdminBackupFile(call);
    case RouteId::kAdminBackupDelete:
      return AdminBackupDelete(call);
    case RouteId::kMetrics:
      return Metrics(call);
    case RouteId::kHealthz:
      return Healthz(call);
    case RouteId::kReadyz:
      return Readyz(call);
  }
}

// --- Index maintenance ---------------------------------------------------------------------

void Api::Impl::OnViewsCommitted(std::span<const Event> events,
                                 std::span<const projections::CommittedViews> views) {
  if (events.empty()) return;
  // Summarised here, from the views the worker has in hand: the index thread then writes
  // rows without reading and decoding every view back.
  std::vector<ShipmentSummary> summaries;
  summaries.reserve(views.size());
  for (const projections::CommittedViews& v : views) {
    summaries.push_back(SummarizeViews(v.shipment_id, v.status, v.eta, v.freight_cost));
  }
  {
    std::lock_guard<std::mutex> lock(dirty_mu_);
    for (ShipmentSummary& s : summaries) {
      std::string id = s.shipment_id;
      dirty_.insert_or_assign(std::move(id), std::move(s));  // the latest commit's wins
    }
    dirty_from_seq_ = std::min(dirty_from_seq_, events.front().ledger.seq);
    dirty_through_seq_ = std::max(dirty_through_seq_, events.back().ledger.seq);
  }
  dirty_cv_.notify_one();
}

void Api::Impl::IndexLoop(std::stop_token stop) {
  bool failing = false;  // log a failure once, and the recovery, not every retry
  for (;;) {
    std::vector<ShipmentSummary> batch;
    std::uint64_t from = 0, through = 0;
    {
      std::unique_lock<std::mutex> lock(dirty_mu_);
      dirty_cv_.wait_for(lock, stop, std::chrono::seconds(1), [&] { return !dirty_.empty(); });
      if (stop.stop_requested()) return;
      batch.reserve(dirty_.size());
      for (auto& [id, summary] : dirty_) batch.push_back(std::move(summary));
      dirty_.clear();
      from = std::exchange(dirty_from_seq_, UINT64_MAX);
      through = dirty_through_seq_;
    }
    Status st;
    if (batch.empty()) {
      // Idle for a second: make sure nothing the worker committed was missed (a failed
      // refresh, or a commit before the API was wired to the worker).
      const std::uint64_t checkpoint = deps_.projector.checkpoint().last_seq;
      if (checkpoint > index_->through_seq()) st = index_->CatchUp(checkpoint);
    } else {
      // Commits the index was not told about are read back from the log first.
      if (from > index_->through_seq() + 1) st = index_->CatchUp(from - 1);
      if (st.ok()) st = index_->Put(batch, through);
    }
    if (!st.ok() && !failing) {
      spdlog::error("shipment list index: {} (retried from the log until it works)", st.ToString());
    } else if (st.ok() && failing) {
      spdlog::info("shipment list index: caught up again");
    }
    failing = !st.ok();
  }
}

// --- Message intake pool -------------------------------------------------------------------

std::unique_ptr<ingest::MessageIntake> Api::Impl::TakeIntake() {
  {
    std::lock_guard<std::mutex> lock(intake_mu_);
    if (!intakes_.empty()) {
      auto intake = std::move(intakes_.back());
      intakes_.pop_back();
      return intake;
    }
  }
  return std::make_unique<ingest::MessageIntake>(deps_.intake_config);
}

void Api::Impl::ReturnIntake(std::unique_ptr<ingest::MessageIntake> intake) {
  std::lock_guard<std::mutex> lock(intake_mu_);
  intakes_.push_back(std::move(intake));
}

// --- Operations routes ---------------------------------------------------------------------

void Api::Impl::Metrics(Call& call) {
  auto res = JsonResponse(call.request, beast_http::status::ok, deps_.metrics.Render());
  res.set(beast_http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  call.respond(std::move(res));
}

void Api::Impl::Healthz(Call& call) {
  call.respond(JsonResponse(call.request, beast_http::status::ok, "{\"status\":\"ok\"}"));
}

void Api::Impl::Readyz(Call& call) {
  const std::uint64_t head = deps_.ledger.Head().seq;
  const std::uint64_t folded = deps_.projector.checkpoint().last_seq;
  const std::uint64_t lag = head > folded ? head - folded : 0;
  std::string reason;
  const Status write_state = deps_.ledger.WriteState();
  if (shutting_down_.load()) {
    reason = "stopping";
  } else if (!write_state.ok()) {
    reason = "the ledger cannot write: " + write_state.message();
  } else if (lag > options_.ready_max_lag) {
    reason = "projections are " + std::to_string(lag) + " events behind (allowed " +
             std::to_string(options_.ready_max_lag) + ")";
  }
  std::string body = "{\"ready\":" + std::string(reason.empty() ? "true" : "false") +
                     ",\"ledger\":\"" + (write_state.ok() ? "open" : "not_writable") +
                     "\",\"head_seq\":" + std::to_string(head) +
                     ",\"projection_checkpoint\":" + std::to_string(folded) +
                     ",\"projection_lag\":" + std::to_string(lag) +
                     ",\"list_index_seq\":" + std::to_string(index_->through_seq());
  // Reported, not a readiness condition: HTTP ingest and queries work without NATS (view
  // updates queue in the outbox), so a balancer must not take the server out over an outage.
  if (options_.nats_connected) {
    body += options_.nats_connected() ? ",\"nats\":\"connected\"" : ",\"nats\":\"disconnected\"";
  }
  if (!reason.empty()) {
    body += ",\"reason\":";
    AppendJsonString(reason, &body);
  }
  body += '}';
  call.respond(JsonResponse(
      call.request,
      reason.empty() ? beast_http::status::ok : beast_http::status::service_unavailable,
      std::move(body)));
}

void Api::Impl::RegisterCollectors() {
  deps_.metrics.AddCollector([this](metrics::Exposition& out) {
    const ledger::LedgerHead head = deps_.ledger.Head();
    const projections::Checkpoint cp = deps_.projector.checkpoint();
    out.Sample("waybill_projection_lag_events", "Ledger events not yet folded into the views",
               "gauge", {},
               static_cast<double>(head.seq > cp.last_seq ? head.seq - cp.last_seq : 0));
    double lag_seconds = 0;
    if (head.seq > cp.last_seq) {
      // Recorded time of the head minus that of the last folded event (of the first event
      // when nothing is folded yet).
      auto folded = deps_.ledger.Get(std::max<std::uint64_t>(cp.last_seq, 1));
      if (folded.ok()) {
        lag_seconds = std::max<double>(0, (head.recorded_at - folded->ledger.recorded_at) / 1e9);
      }
    }
    out.Sample("waybill_projection_lag_seconds",
               "Recorded time between the ledger head and the last event folded into the views",
               "gauge", {}, lag_seconds);
    const projections::Projector::CacheFigures cache = deps_.projector.cache();
    out.Sample("waybill_projection_cache_shipments",
               "Shipments whose views the projection worker holds in memory", "gauge", {},
               static_cast<double>(cache.shipments));
    out.Sample("waybill_projection_cache_bytes",
               "Encoded size of the views the projection worker holds in memory", "gauge", {},
               static_cast<double>(cache.bytes));
    if (auto ps = projections::ReadProjectionStats(deps_.ledger); ps.ok()) {
      out.Sample("waybill_outbox_backlog",
                 "View updates in the outbox not yet acknowledged by NATS", "gauge", {},
                 static_cast<double>(ps->outbox_backlog));
      out.Sample("waybill_event_feed_backlog", "Ledger events not yet published on waybill.events",
                 "gauge", {}, static_cast<double>(ps->event_feed_backlog));
    }
    out.Sample("waybill_shipment_index_size", "Shipments in the list index", "gauge", {},
               static_cast<double>(index_->size()));
    // Dead letters by format and partner, from every channel, read incrementally.
    std::lock_guard<std::mutex> lock(dead_letter_mu_);
    for (;;) {
      auto page = deps_.ledger.ListDeadLetters(dead_letters_seen_through_, 1000);
      if (!page.ok() || page->empty()) break;
      for (const auto& summary : *page) {
        const ledger::DeadLetter& dl = summary.letter;
        ++dead_letters_by_source_[{dl.format, dl.partner.value_or("")}];
        dead_letters_seen_through_ = dl.id;
      }
    }
    for (const auto& [source, count] : dead_letters_by_source_) {
      out.Sample("waybill_dead_letters_total", "Dead letters stored, by format and partner",
                 "counter", {{"format", source.first}, {"partner", source.second}},
                 static_cast<double>(count));
    }
  });
}

}  // namespace waybill::server::api
