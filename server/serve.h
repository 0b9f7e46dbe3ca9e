// `waybill serve`: the daemon. Wires the ledger writer, the projection worker, NATS intake
// and publishing, the folder inbox and the control socket together, and stops them in order.
//
// Startup: open the data dir read-write (holder "waybill serve"), start the projection
// worker, the control socket, then (with a NATS URL) the publishers and the NATS intake,
// and (with an inbox dir) the folder watcher. NATS need not be up: intake waits and the
// outbox grows until it is.
// Stop (RunServer's stop token, e.g. SIGTERM): intake and inbox stop taking new messages
// and finish the batch in hand (acked only once durable); the worker folds everything that
// was appended; the publishers get a last chance to drain; the ledger closes.
// Thread-safety: RunServer blocks its calling thread until stopped.
#pragma once

#include <functional>
#include <stop_token>
#include <string>
#include <vector>

#include "schemas/result.h"

namespace waybill::server {

struct ServeOptions {
  std::string data_dir;
  std::string nats_url;   // empty: no NATS intake or publishing
  std::string inbox_dir;  // empty: no folder intake
  std::string partners_file;
  std::vector<std::string> mapping_dirs;
  // JetStream.
  std::string ingest_stream = "WAYBILL_INGEST";
  std::string ingest_durable = "waybill";
  int ingest_batch = 256;
  int ingest_ack_wait_seconds = 60;
  std::string views_stream = "WAYBILL_VIEWS";
  std::int64_t views_per_subject = 10;  // latest versions kept per view subject
  std::string events_stream = "WAYBILL_EVENTS";
  std::int64_t events_max_age_seconds = 7 * 24 * 3600;
  std::int64_t duplicate_window_seconds = 120;
  // Projection worker.
  std::size_t projection_batch = 2048;
  // The worker's view cache, in MiB of views counted as encoded (ProjectorOptions::cache_bytes).
  std::size_t projection_cache_mb = 128;
  // View updates the worker renders ahead for the NATS publisher, in MiB (RenderedOutbox);
  // past it (NATS away) the publisher renders them from the log. 0: always from the log.
  std::size_t outbox_render_mb = 64;

  // HTTP API (docs/http-api.md). "ADDR:PORT"; "off" disables it; port 0 picks a free one.
  // The bound URL is written to DATA_DIR/http.url for the CLI and tests.
  std::string http_listen = "127.0.0.1:8080";
  int http_threads = 2;
  std::uint64_t http_body_limit = 16 * 1024 * 1024;
  std::uint32_t http_header_limit = 16 * 1024;
  int http_idle_timeout_seconds = 60;
  int http_request_timeout_seconds = 30;
  std::string tls_cert_file, tls_key_file;
  // Bearer tokens: HS256 secret or RS256 public key; neither: DATA_DIR/admin.token.
  std::string jwt_secret_file, jwt_public_key_file, jwt_issuer, jwt_audience;
  double rate_limit_per_second = 1000;  // per principal; <= 0: unlimited
  double rate_limit_burst = 2000;
  std::uint64_t ready_max_lag = 100'000;  // /readyz: projection lag allowed, in events
  // Storage check before serving: "full", "quick" or "off" (ledger::StartupCheck).
  std::string startup_check = "full";
};

// The file `waybill serve` writes its HTTP base URL to ("http://127.0.0.1:8080").
std::string HttpUrlPath(const std::string& data_dir);

// Runs the daemon until `stop` is requested. `on_ready` (optional) runs once everything
// has started. Returns a startup error (data dir busy, bad config) or the first fatal error.
[[nodiscard]] Status RunServer(const ServeOptions& options, std::stop_token stop,
                               const std::function<void()>& on_ready = {});

}  // namespace waybill::server
