// The HTTP API of `waybill serve` (contract: docs/http-api.md, schemas/openapi.yaml): one
// RequestHandler that routes (route_table.h), authenticates the bearer token, checks the
// route's scope and the principal's rate limit, runs the route and records metrics.
//
// Reads (shipments, events, ledger) run on the calling I/O thread: they are point reads and
// short scans. Ingest maps the body on the I/O thread and answers from a completion thread
// once the ledger's group commit made everything durable, so concurrent requests share
// commits. Rebuilds, republishes and verifications run on an operations thread, one at a
// time.
//
// Thread-safety: Handle is called concurrently from the HTTP server's I/O threads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "ingest/intake_config.h"
#include "ledger/ledger.h"
#include "projections/projector.h"
#include "server/auth/authenticator.h"
#include "server/auth/rate_limiter.h"
#include "server/http/http_server.h"
#include "server/metrics/registry.h"

namespace waybill::server::api {

struct ApiOptions {
  std::uint64_t ready_max_lag = 100'000;  // /readyz: projection lag allowed, in events
  int max_json_depth = 64;                // request bodies nested deeper are refused (400)
  std::chrono::hours idempotency_ttl{24};
  // The NATS connection's state for /readyz ("nats": "connected"/"disconnected"); empty when
  // the server runs without NATS (the field is left out). Called on I/O threads: must be quick.
  std::function<bool()> nats_connected;
};

struct ApiDeps {
  ledger::Ledger& ledger;
  projections::Projector& projector;
  const ingest::IntakeConfig& intake_config;
  const auth::Authenticator& authenticator;
  auth::RateLimiter& rate_limiter;
  metrics::Registry& metrics;
};

class ShipmentIndex;

class Api final : public http::RequestHandler {
 public:
  // Loads the shipment index from the stored views. Everything in `deps` must outlive the Api.
  [[nodiscard]] static Result<std::unique_ptr<Api>> Create(ApiDeps deps, ApiOptions options);
  ~Api() override;  // waits for in-flight ingests and operations

  void Handle(http::Request request, const http::ConnectionInfo& connection,
              http::Respond respond) override;

  // Tells the API what the projection worker just committed (its on_commit), so lists stay
  // current. Cheap: queues each shipment's list attributes for the index thread.
  void OnViewsCommitted(std::span<const Event> events,
                        std::span<const projections::CommittedViews> views);

  // Refuses new work with 503 from now on (server stopping).
  void BeginShutdown();
  // Waits until every ingest request accepted so far has been answered (after BeginShutdown
  // and the listener's Stop, so no new ones arrive).
  void WaitForIngests();

  // Answers a NATS `waybill.query.shipment` request: the same body and status as
  // GET /v1/shipments/{id} for `authorization` (a Bearer header value).
  struct QueryReply {
    int status = 200;
    std::string body;
  };
  QueryReply QueryShipment(std::string_view authorization, std::string_view payload);

  class Impl;

 private:
  explicit Api(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace waybill::server::api
