#include "server/serve.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <fstream>
#include <thread>

#include "ingest/intake_config.h"
#include "ledger/ledger.h"
#include "projections/projector.h"
#include "projections/publisher.h"
#include "projections/rendered_outbox.h"
#include "schemas/correlation.h"
#include "schemas/event_json.h"
#include "server/api/api.h"
#include "server/auth/authenticator.h"
#include "server/auth/rate_limiter.h"
#include "server/control_socket.h"
#include "server/http/http_server.h"
#include "server/inbox/inbox_watcher.h"
#include "server/memory_trimmer.h"
#include "server/metrics/kpi_tracker.h"
#include "server/metrics/ledger_collector.h"
#include "server/metrics/registry.h"
#include "server/nats/nats_client.h"
#include "server/nats_intake.h"
#include "server/nats_sink.h"

namespace waybill::server {
namespace {

std::string ErrorResponse(const std::string& message) {
  std::string out = "{\"ok\":false,\"error\":";
  AppendJsonString(message, &out);
  out.push_back('}');
  return out;
}

// Control requests: {"op":"rebuild","views":["status",...],"shipment":"ID"} and
// {"op":"republish","from":N,"to":N,"shipment":"ID"}.
std::string HandleControl(projections::Projector& projector, std::string_view request) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(request.data(), request.size()).get(doc) != simdjson::SUCCESS) {
    return ErrorResponse("control request is not JSON");
  }
  std::string_view op;
  if (doc["op"].get(op) != simdjson::SUCCESS) return ErrorResponse("control request has no op");
  std::optional<std::string> shipment;
  std::string_view s;
  if (doc["shipment"].get(s) == simdjson::SUCCESS) shipment = std::string(s);
  if (op == "rebuild") {
    std::vector<projections::ViewKind> views;
    simdjson::dom::array names;
    if (doc["views"].get(names) == simdjson::SUCCESS) {
      for (auto n : names) {
        std::string_view name;
        auto kind =
            n.get(name) == simdjson::SUCCESS ? projections::ParseViewKind(name) : std::nullopt;
        if (!kind) return ErrorResponse("unknown view in rebuild request");
        views.push_back(*kind);
      }
    }
    if (views.empty())
      views.assign(std::begin(projections::kAllViews), std::end(projections::kAllViews));
    const auto started = std::chrono::steady_clock::now();
    Status st = shipment ? projector.RebuildShipment(*shipment, views) : projector.Rebuild(views);
    if (!st.ok()) return ErrorResponse(st.ToString());
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
    spdlog::info("rebuild of {} view(s){} done in {} ms", views.size(),
                 shipment ? " of shipment " + *shipment : std::string(), ms);
    return "{\"ok\":true,\"checkpoint\":" + std::to_string(projector.checkpoint().last_seq) +
           ",\"elapsed_ms\":" + std::to_string(ms) + "}";
  }
  if (op == "republish") {
    std::uint64_t from = 1, to = UINT64_MAX;
    if (doc["from"].get(from) != simdjson::SUCCESS) {
      return ErrorResponse("republish request needs from");
    }
    if (doc["to"].get(to) != simdjson::SUCCESS) to = UINT64_MAX;
    auto r = projector.Republish(from, to, shipment);
    if (!r.ok()) return ErrorResponse(r.status().ToString());
    return "{\"ok\":true,\"events\":" + std::to_string(r->events) +
           ",\"views\":" + std::to_string(r->views) + "}";
  }
  return ErrorResponse("unknown control op");
}

// The view JSON's "order_id" and "shipment_id" values, for the correlation tag.
std::string_view JsonStringField(std::string_view json, std::string_view key) {
  const std::string needle = "\"" + std::string(key) + "\":\"";
  const std::size_t at = json.find(needle);
  if (at == std::string_view::npos) return {};
  const std::size_t begin = at + needle.size();
  const std::size_t end = json.find('"', begin);
  return end == std::string_view::npos ? std::string_view() : json.substr(begin, end - begin);
}

void LogPublished(const projections::OutMessage& m) {
  spdlog::debug("published {} {}", m.subject,
                CorrelationTag(JsonStringField(m.payload, "order_id"),
                               JsonStringField(m.payload, "shipment_id")));
}

// "ADDR:PORT" (IPv6 as "[::1]:8080") into the listener options.
Status ParseListen(const std::string& listen, http::HttpServerOptions* out) {
  const std::size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) {
    return Status::Invalid("--http: \"" + listen + "\" is not ADDR:PORT (e.g. 127.0.0.1:8080)");
  }
  std::string address = listen.substr(0, colon);
  if (address.size() > 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  }
  unsigned port = 0;
  auto [p, ec] = std::from_chars(listen.data() + colon + 1, listen.data() + listen.size(), port);
  if (ec != std::errc() || p != listen.data() + listen.size() || port > 65535) {
    return Status::Invalid("--http: \"" + listen.substr(colon + 1) + "\" is not a port number");
  }
  out->address = address;
  out->port = static_cast<std::uint16_t>(port);
  return Status::Ok();
}

// Writes `content` to `path` atomically (temp file + rename).
Status WriteFileAtomically(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << content;
    if (!out.flush()) return Status::IoError("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::IoError("cannot rename " + tmp + " to " + path);
  }
  return Status::Ok();
}

}  // namespace

std::string HttpUrlPath(const std::string& data_dir) { return data_dir + "/http.url"; }

Status RunServer(const ServeOptions& options, std::stop_token stop,
                 const std::function<void()>& on_ready) {
  auto intake_config =
      ingest::LoadIntakeConfig(options.data_dir, options.partners_file, options.mapping_dirs);
  if (!intake_config.ok()) return intake_config.status();

  ledger::LedgerOptions ledger_options;
  ledger_options.holder = "waybill serve";
  // Logged once per change; requests refused meanwhile answer 503 without a log line each.
  ledger_options.on_write_state_change = [](const Status& st) {
    if (st.ok()) {
      spdlog::info("ledger: writing again; appends and projections resume");
    } else {
      spdlog::error(
          "ledger: writes stopped, appends are refused (HTTP 503, NATS unacked, inbox "
          "files left in place) until this clears: {}",
          st.ToString());
    }
  };
  if (options.startup_check == "full") {
    ledger_options.startup_check = ledger::StartupCheck::kFull;
  } else if (options.startup_check == "quick") {
    ledger_options.startup_check = ledger::StartupCheck::kQuick;
  } else if (options.startup_check == "off") {
    ledger_options.startup_check = ledger::StartupCheck::kOff;
  } else {
    return Status::Invalid("--startup-check: \"" + options.startup_check +
                           "\" is not full, quick or off");
  }
  ledger_options.on_warning = [](const std::string& message) { spdlog::warn("{}", message); };
  auto ledger = ledger::Ledger::Open(options.data_dir, ledger_options);
  if (!ledger.ok()) return ledger.status();

  metrics::Registry registry;
  metrics::RegisterLedgerCollector(registry, **ledger);
  metrics::KpiTrackerOptions kpi_options;
  // After a restart, a shipment's earlier events are read once when a KPI needs them.
  kpi_options.load_history = [l = ledger->get()](std::string_view id) {
    return l->ReadShipment(id);
  };
  metrics::KpiTracker kpis(registry, kpi_options);

  // Memory that stayed free above a reserve for a whole second goes back to the system, so a
  // burst of large requests does not leave the server at its peak RSS (memory_trimmer.h).
  MemoryTrimmer trimmer;
  registry.AddCollector([&trimmer](metrics::Exposition& out) {
    out.Sample("waybill_allocator_free_bytes", "Memory the allocator holds free for reuse", "gauge",
               {}, static_cast<double>(MemoryTrimmer::FreeBytes()));
    out.Sample("waybill_allocator_in_use_bytes",
               "Memory allocated by the program and not freed, as the allocator counts it", "gauge",
               {}, static_cast<double>(MemoryTrimmer::InUseBytes()));
    out.Sample("waybill_allocator_released_bytes_total",
               "Free memory handed back to the operating system", "counter", {},
               static_cast<double>(trimmer.released_total()));
  });
  std::jthread trimmer_thread([&trimmer](std::stop_token s) { trimmer.Run(s); });

  // The worker's renderings of the view updates it queues, handed to the outbox publisher
  // in memory (the outbox stores references). While NATS is away the worker stops rendering
  // at this bound and the publisher renders the rest from the log when it is back.
  projections::RenderedOutbox rendered_outbox(options.outbox_render_mb << 20);
  registry.AddCollector([&rendered_outbox](metrics::Exposition& out) {
    out.Sample("waybill_outbox_rendered_bytes",
               "View updates rendered by the worker and held in memory for the publisher", "gauge",
               {}, static_cast<double>(rendered_outbox.bytes()));
  });

  // The outbox publisher and the API are created later; the worker reaches them through
  // these pointers.
  std::atomic<projections::Publisher*> outbox_publisher{nullptr};
  std::atomic<api::Api*> http_api{nullptr};
  projections::ProjectorOptions projector_options;
  projector_options.batch_events = options.projection_batch;
  projector_options.cache_bytes = options.projection_cache_mb << 20;
  // Without NATS nothing would ever drain the outbox.
  projector_options.emit_outbox = !options.nats_url.empty();
  if (projector_options.emit_outbox) projector_options.rendered_outbox = &rendered_outbox;
  projector_options.on_commit = [&](std::span<const Event> events,
                                    std::span<const projections::CommittedViews> views) {
    if (auto* p = outbox_publisher.load()) p->Notify();
    if (auto* a = http_api.load()) a->OnViewsCommitted(events, views);
    kpis.Observe(events);
    if (spdlog::should_log(spdlog::level::debug)) {
      for (const Event& e : events) {
        spdlog::debug("folded seq {} ({}{}) into the views {}", e.ledger.seq, ToString(e.kind),
                      e.status ? " " + std::string(ToString(*e.status)) : std::string(),
                      CorrelationTag(e.order_id, e.shipment_id));
      }
    }
  };
  auto projector = projections::Projector::Open(**ledger, projector_options);
  if (!projector.ok()) return projector.status();

  auto control = ControlServer::Start(
      ControlSocketPath(options.data_dir),
      [&](std::string_view request) { return HandleControl(**projector, request); });
  if (!control.ok()) return control.status();

  // HTTP API: auth from the configured key (or the local admin token), then the listener.
  auth::AuthConfig auth_config;
  auth_config.jwt_secret_file = options.jwt_secret_file;
  auth_config.jwt_public_key_file = options.jwt_public_key_file;
  auth_config.issuer = options.jwt_issuer;
  auth_config.audience = options.jwt_audience;
  auth_config.data_dir = options.data_dir;
  // For /readyz, set once the client exists; shared so a request never sees it destroyed,
  // and declared before the API so it outlives every request.
  std::atomic<std::shared_ptr<const nats::NatsClient>> nats_for_api;
  std::unique_ptr<auth::Authenticator> authenticator;
  std::unique_ptr<auth::RateLimiter> rate_limiter;
  std::unique_ptr<api::Api> api;
  std::unique_ptr<http::HttpServer> http_server;
  if (options.http_listen != "off") {
    http::HttpServerOptions hopts;
    if (Status st = ParseListen(options.http_listen, &hopts); !st.ok()) return st;
    hopts.threads = std::max(1, options.http_threads);
    hopts.body_limit = options.http_body_limit;
    hopts.header_limit = options.http_header_limit;
    hopts.idle_timeout = std::chrono::seconds(options.http_idle_timeout_seconds);
    hopts.request_timeout = std::chrono::seconds(options.http_request_timeout_seconds);
    hopts.tls_cert_file = options.tls_cert_file;
    hopts.tls_key_file = options.tls_key_file;
    if (hopts.tls_cert_file.empty() != hopts.tls_key_file.empty()) {
      return Status::Invalid("--tls-cert and --tls-key go together; give both or neither");
    }
    auto created = auth::Authenticator::Create(auth_config);
    if (!created.ok()) return created.status();
    authenticator = std::move(created).value();
    rate_limiter = std::make_unique<auth::RateLimiter>(
        auth::RateLimit{options.rate_limit_per_second, options.rate_limit_burst});
    api::ApiOptions aopts;
    aopts.ready_max_lag = options.ready_max_lag;
    if (!options.nats_url.empty()) {
      aopts.nats_connected = [&nats_for_api] {
        const std::shared_ptr<const nats::NatsClient> c = nats_for_api.load();
        return c != nullptr && c->connected();
      };
    }
    auto made = api::Api::Create(api::ApiDeps{**ledger, **projector, *intake_config, *authenticator,
                                              *rate_limiter, registry},
                                 aopts);
    if (!made.ok()) return made.status();
    api = std::move(made).value();
    http_api.store(api.get());
    auto started = http::HttpServer::Start(hopts, *api);
    if (!started.ok()) return started.status();
    http_server = std::move(started).value();
    if (Status st = WriteFileAtomically(HttpUrlPath(options.data_dir), http_server->url() + "\n");
        !st.ok()) {
      return st;
    }
    spdlog::info("http listening on {} ({})", http_server->url(),
                 authenticator->jwt_enabled()
                     ? "JWT bearer tokens"
                     : "local admin token in " + auth::AdminTokenPath(options.data_dir));
  }

  auto worker_failed = [](const Status& st) {
    spdlog::error("projection worker: {} (retrying with backoff)", st.ToString());
  };
  auto worker_recovered = [] { spdlog::info("projection worker: folding again"); };
  std::jthread worker(
      [&](std::stop_token s) { (*projector)->Run(s, worker_failed, worker_recovered); });

  std::shared_ptr<nats::NatsClient> client;
  auto closing = std::make_shared<std::atomic<bool>>(false);
  std::unique_ptr<NatsSink> views_sink, feed_sink;
  std::unique_ptr<projections::Publisher> views_publisher, feed_publisher;
  std::unique_ptr<NatsIntake> nats_intake;
  std::unique_ptr<nats::Subscription> query_sub;
  std::jthread views_thread, feed_thread, intake_thread, streams_thread;
  if (!options.nats_url.empty()) {
    nats::NatsOptions nopts;
    nopts.url = options.nats_url;
    nopts.name = "waybill serve " + options.data_dir;
    nopts.on_state_change = [url = options.nats_url, closing](bool up) {
      if (closing->load()) return;  // our own close at shutdown is no outage
      if (up) {
        spdlog::info("NATS {} connected", url);
      } else {
        spdlog::warn(
            "NATS {} disconnected; ingest through the inbox continues and view updates "
            "queue in the outbox",
            url);
      }
    };
    auto connected = nats::NatsClient::Connect(nopts);
    if (!connected.ok()) return connected.status();
    client = std::move(connected).value();
    nats_for_api.store(client);
    views_sink = std::make_unique<NatsSink>(*client, options.views_stream);
    feed_sink = std::make_unique<NatsSink>(*client, options.events_stream);
    projections::PublisherOptions views_publisher_options;
    views_publisher_options.rendered = &rendered_outbox;
    views_publisher_options.on_published =
        [&kpis](std::span<const projections::PublishedMessage> messages, UnixNanos acked_at) {
          kpis.ObservePublished(messages, acked_at);
          if (!spdlog::should_log(spdlog::level::debug)) return;
          for (const auto& m : messages) LogPublished(*m.message);
        };
    views_publisher = std::make_unique<projections::Publisher>(
        projections::Publisher::Source::kOutbox, **ledger, *views_sink, views_publisher_options);
    feed_publisher = std::make_unique<projections::Publisher>(
        projections::Publisher::Source::kEventFeed, **ledger, *feed_sink);
    NatsIntakeOptions iopts;
    iopts.stream = options.ingest_stream;
    iopts.durable = options.ingest_durable;
    iopts.batch = options.ingest_batch;
    iopts.ack_wait_seconds = options.ingest_ack_wait_seconds;
    nats_intake = std::make_unique<NatsIntake>(*client, **ledger, *intake_config, iopts);

    // The publishers need their streams; create them (retrying while NATS is down) first.
    streams_thread = std::jthread([&](std::stop_token s) {
      const nats::NatsClient::StreamSpec views{options.views_stream,
                                               {"waybill.views.>"},
                                               options.views_per_subject,
                                               0,
                                               options.duplicate_window_seconds};
      const nats::NatsClient::StreamSpec events{options.events_stream,
                                                {"waybill.events.>"},
                                                -1,
                                                options.events_max_age_seconds,
                                                options.duplicate_window_seconds};
      bool reported = false;
      while (!s.stop_requested()) {
        Status st = client->EnsureStream(views);
        if (st.ok()) st = client->EnsureStream(events);
        if (st.ok()) break;
        if (!reported) spdlog::warn("NATS streams not ready yet: {}", st.ToString());
        reported = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
      }
      if (s.stop_requested()) return;
      views_thread = std::jthread([&](std::stop_token t) { views_publisher->Run(t); });
      feed_thread = std::jthread([&](std::stop_token t) { feed_publisher->Run(t); });
      outbox_publisher.store(views_publisher.get());
    });
    intake_thread = std::jthread([&](std::stop_token s) { nats_intake->Run(s); });
    registry.AddCollector([c = client.get()](metrics::Exposition& out) {
      out.Sample("waybill_nats_connected", "1 while the NATS connection is up", "gauge", {},
                 c->connected() ? 1 : 0);
    });
    if (api) {
      // Portals without HTTP ask over NATS; same answers and rules as GET /v1/shipments/{id}.
      auto sub = client->Subscribe(
          "waybill.query.shipment", [c = client.get(), a = api.get()](nats::InMessage msg) {
            if (msg.reply.empty()) return;
            auto it = msg.headers.find("Authorization");
            auto reply = a->QueryShipment(it == msg.headers.end() ? "" : it->second, msg.payload);
            Status st = c->Publish(msg.reply, reply.body,
                                   {{"Waybill-Status", std::to_string(reply.status)}});
            if (!st.ok()) spdlog::warn("answering a shipment query: {}", st.ToString());
          });
      if (!sub.ok()) return sub.status();
      query_sub = std::move(sub).value();
    }
  }

  std::unique_ptr<inbox::InboxWatcher> inbox;
  std::jthread inbox_thread;
  if (!options.inbox_dir.empty()) {
    inbox::InboxOptions iopts;
    iopts.dir = options.inbox_dir;
    inbox = std::make_unique<inbox::InboxWatcher>(**ledger, *intake_config, iopts);
    inbox_thread = std::jthread([&](std::stop_token s) { inbox->Run(s); });
  }

  spdlog::info("waybill serve: data dir {}, NATS {}, inbox {}", options.data_dir,
               options.nats_url.empty() ? "off" : options.nats_url,
               options.inbox_dir.empty() ? "off" : options.inbox_dir);
  if (options.nats_url.empty()) {
    spdlog::info(
        "no --nats: views are stored but not queued for publishing (`waybill republish` "
        "sends them once NATS is configured)");
  }
  if (on_ready) on_ready();

  {
    std::mutex mu;
    std::condition_variable_any cv;
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, stop, [] { return false; });
  }

  spdlog::info("waybill serve: stopping");
  // HTTP first: no new requests; those in hand are answered before the ledger closes.
  if (api) api->BeginShutdown();
  query_sub.reset();
  if (http_server) {
    http_server->Stop();
    std::remove(HttpUrlPath(options.data_dir).c_str());  // nothing listens there any more
  }
  if (api) api->WaitForIngests();
  // Intake first: what is in hand is finished and acked, nothing new is taken.
  if (intake_thread.joinable()) {
    intake_thread.request_stop();
    intake_thread.join();
  }
  if (inbox_thread.joinable()) {
    inbox_thread.request_stop();
    inbox_thread.join();
  }
  // Then the views catch up with everything appended.
  worker.request_stop();
  worker.join();
  Status final_status = Status::Ok();
  if (auto caught_up = (*projector)->CatchUp(); !caught_up.ok()) {
    spdlog::error("projection worker could not catch up before stopping: {}",
                  caught_up.status().ToString());
  }
  // The worker is stopped and caught up: nothing calls on_commit any more.
  http_api.store(nullptr);
  api.reset();  // waits for ingest answers still in flight
  if (streams_thread.joinable()) {
    streams_thread.request_stop();
    streams_thread.join();
  }
  outbox_publisher.store(nullptr);
  for (auto* t : {&views_thread, &feed_thread}) {
    if (t->joinable()) {
      t->request_stop();
      t->join();
    }
  }
  // A last drain, so a clean stop leaves nothing queued while NATS is up.
  if (client && client->connected()) {
    for (auto* p : {views_publisher.get(), feed_publisher.get()}) {
      if (auto n = p->PublishPending(); !n.ok()) {
        spdlog::warn("publishing before stop: {}", n.status().ToString());
      }
    }
  }
  control->reset();
  closing->store(true);
  spdlog::info("waybill serve: stopped; projection checkpoint {}",
               (*projector)->checkpoint().last_seq);
  return final_status;
}

}  // namespace waybill::server
