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
};

// Runs the daemon until `stop` is requested. `on_ready` (optional) runs once everything
// has started. Returns a startup error (data dir busy, bad config) or the first fatal error.
[[nodiscard]] Status RunServer(const ServeOptions& options, std::stop_token stop,
                               const std::function<void()>& on_ready = {});

}  // namespace waybill::server
