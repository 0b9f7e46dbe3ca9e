#include "server/serve.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <thread>

#include "ingest/intake_config.h"
#include "ledger/ledger.h"
#include "projections/projector.h"
#include "projections/publisher.h"
#include "schemas/event_json.h"
#include "server/control_socket.h"
#include "server/inbox/inbox_watcher.h"
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
        auto kind = n.get(name) == simdjson::SUCCESS ? projections::ParseViewKind(name)
                                                     : std::nullopt;
        if (!kind) return ErrorResponse("unknown view in rebuild request");
        views.push_back(*kind);
      }
    }
    if (views.empty()) views.assign(std::begin(projections::kAllViews),
                                    std::end(projections::kAllViews));
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

}  // namespace

Status RunServer(const ServeOptions& options, std::stop_token stop,
                 const std::function<void()>& on_ready) {
  auto intake_config =
      ingest::LoadIntakeConfig(options.data_dir, options.partners_file, options.mapping_dirs);
  if (!intake_config.ok()) return intake_config.status();

  ledger::LedgerOptions ledger_options;
  ledger_options.holder = "waybill serve";
  auto ledger = ledger::Ledger::Open(options.data_dir, ledger_options);
  if (!ledger.ok()) return ledger.status();

  // The outbox publisher is created later; the worker wakes it through this pointer.
  std::atomic<projections::Publisher*> outbox_publisher{nullptr};
  projections::ProjectorOptions projector_options;
  projector_options.batch_events = options.projection_batch;
  projector_options.on_commit = [&](std::span<const Event>) {
    if (auto* p = outbox_publisher.load()) p->Notify();
  };
  auto projector = projections::Projector::Open(**ledger, projector_options);
  if (!projector.ok()) return projector.status();

  auto control = ControlServer::Start(ControlSocketPath(options.data_dir),
                                      [&](std::string_view request) {
                                        return HandleControl(**projector, request);
                                      });
  if (!control.ok()) return control.status();

  std::jthread worker([&](std::stop_token s) {
    (*projector)->Run(s, [](const Status& st) {
      spdlog::error("projection worker: {} (retrying)", st.ToString());
    });
  });

  std::unique_ptr<nats::NatsClient> client;
  auto closing = std::make_shared<std::atomic<bool>>(false);
  std::unique_ptr<NatsSink> sink;
  std::unique_ptr<projections::Publisher> views_publisher, feed_publisher;
  std::unique_ptr<NatsIntake> nats_intake;
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
        spdlog::warn("NATS {} disconnected; ingest through the inbox continues and view updates "
                     "queue in the outbox",
                     url);
      }
    };
    auto connected = nats::NatsClient::Connect(nopts);
    if (!connected.ok()) return connected.status();
    client = std::move(connected).value();
    sink = std::make_unique<NatsSink>(*client);
    views_publisher = std::make_unique<projections::Publisher>(
        projections::Publisher::Source::kOutbox, **ledger, *sink);
    feed_publisher = std::make_unique<projections::Publisher>(
        projections::Publisher::Source::kEventFeed, **ledger, *sink);
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
  if (on_ready) on_ready();

  {
    std::mutex mu;
    std::condition_variable_any cv;
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, stop, [] { return false; });
  }

  spdlog::info("waybill serve: stopping");
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
