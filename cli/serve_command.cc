// waybill serve --data-dir DIR [--nats URL] [--inbox DIR] [--config FILE]
#include <signal.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <iostream>
#include <thread>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "server/logging.h"
#include "server/serve.h"

namespace waybill::cli {

int RunServe(int argc, char** argv) {
  const CommandSpec spec{
      "serve", "waybill serve --data-dir DIR [--nats URL] [--inbox DIR] [--config FILE]",
      "Runs the ledger writer, the projection workers, NATS intake (JetStream stream "
      "WAYBILL_INGEST on waybill.ingest.<format>, header Waybill-Partner) and publishing "
      "(waybill.views.<view>.<customer>.<shipment>, waybill.events.<kind>.<shipment>), and the "
      "folder inbox and the HTTP API (docs/http-api.md; without a JWT key the bearer token is "
      "the local admin token in DIR/admin.token). Options may also come from a config file of "
      "`name = value` lines (the "
      "same names as the flags; flags win; example: deploy/waybill.conf). SIGTERM or Ctrl-C "
      "drains and stops cleanly.",
      "waybill serve --data-dir ./waybill-data --nats nats://127.0.0.1:4222 --inbox ./inbox"};
  server::ServeOptions o;
  std::string config_file, log_level = "info", log_format = "text";
  po::options_description options("options");
  AddCommonOptions(options, &o.data_dir);
  options.add_options()("config", po::value<std::string>(&config_file),
                        "config file of `name = value` lines")(
      "nats", po::value<std::string>(&o.nats_url),
      "NATS server URL(s), comma-separated (without it: no NATS intake or publishing)")(
      "inbox", po::value<std::string>(&o.inbox_dir),
      "drop folder: files in INBOX/<format>/ are ingested (docs/inbox.md)")(
      "partners", po::value<std::string>(&o.partners_file),
      "partner profiles file (default: DIR/partners.json if present)")(
      "mappings", po::value<std::vector<std::string>>(&o.mapping_dirs),
      "extra mapping-file directory (default: DIR/mappings if present); repeatable")(
      "ingest-batch", po::value<int>(&o.ingest_batch)->default_value(o.ingest_batch),
      "NATS messages fetched and committed together")(
      "ingest-ack-wait",
      po::value<int>(&o.ingest_ack_wait_seconds)->default_value(o.ingest_ack_wait_seconds),
      "seconds before NATS redelivers an unacked intake message")(
      "views-per-subject",
      po::value<std::int64_t>(&o.views_per_subject)->default_value(o.views_per_subject),
      "view versions WAYBILL_VIEWS keeps per subject")(
      "events-max-age",
      po::value<std::int64_t>(&o.events_max_age_seconds)->default_value(o.events_max_age_seconds),
      "seconds WAYBILL_EVENTS keeps the event feed")(
      "http", po::value<std::string>(&o.http_listen)->default_value(o.http_listen),
      "HTTP API listener ADDR:PORT (port 0: any free port; \"off\": no HTTP); the bound URL "
      "is written to DIR/http.url")("http-threads",
                                    po::value<int>(&o.http_threads)->default_value(o.http_threads),
                                    "HTTP I/O threads")(
      "http-body-limit",
      po::value<std::uint64_t>(&o.http_body_limit)->default_value(o.http_body_limit),
      "largest request body in bytes (larger: 413)")(
      "http-idle-timeout",
      po::value<int>(&o.http_idle_timeout_seconds)->default_value(o.http_idle_timeout_seconds),
      "seconds a keep-alive connection may sit idle")(
      "http-request-timeout",
      po::value<int>(&o.http_request_timeout_seconds)
          ->default_value(o.http_request_timeout_seconds),
      "seconds a client has to send a whole request (and the longest a client may stall while "
      "reading an answer)")("tls-cert", po::value<std::string>(&o.tls_cert_file),
                            "PEM certificate chain: serve HTTPS (with --tls-key)")(
      "tls-key", po::value<std::string>(&o.tls_key_file), "PEM private key for --tls-cert")(
      "jwt-secret-file", po::value<std::string>(&o.jwt_secret_file),
      "HS256 secret for bearer tokens (at least 32 bytes)")(
      "jwt-public-key-file", po::value<std::string>(&o.jwt_public_key_file),
      "RS256 public key (PEM) for bearer tokens")(
      "jwt-issuer", po::value<std::string>(&o.jwt_issuer), "required \"iss\" of tokens")(
      "jwt-audience", po::value<std::string>(&o.jwt_audience), "required \"aud\" of tokens")(
      "rate-limit",
      po::value<double>(&o.rate_limit_per_second)->default_value(o.rate_limit_per_second),
      "requests per second per principal (0: unlimited)")(
      "rate-burst", po::value<double>(&o.rate_limit_burst)->default_value(o.rate_limit_burst),
      "requests a principal may burst above the rate")(
      "ready-max-lag", po::value<std::uint64_t>(&o.ready_max_lag)->default_value(o.ready_max_lag),
      "/readyz fails while projections trail the ledger by more events than this")(
      "projection-cache-mb",
      po::value<std::size_t>(&o.projection_cache_mb)->default_value(o.projection_cache_mb),
      "MiB of views the projection worker keeps in memory, counted encoded (in memory they "
      "take about six times as much); past it, the least recently updated shipments are "
      "dropped and read back from the store when they move again")(
      "outbox-render-mb",
      po::value<std::size_t>(&o.outbox_render_mb)->default_value(o.outbox_render_mb),
      "MiB of view updates the projection worker renders ahead for the NATS publisher; past "
      "it (NATS away), the publisher renders them from the log when NATS is back, about 115 "
      "us each instead of none (0: always from the log)")(
      "startup-check", po::value<std::string>(&o.startup_check)->default_value(o.startup_check),
      "storage check before serving: full (every table file's block checksums and the chain's "
      "last 1000 events), quick (the chain's last 1000 events), off; a damaged or torn WAL is "
      "refused at every level (docs/ledger.md, \"Damaged storage\")")(
      "log-level", po::value<std::string>(&log_level)->default_value(log_level),
      "trace, debug, info, warn, error (debug: one line per event, view update and publish, "
      "each tagged order=... shipment=...)")(
      "log-format", po::value<std::string>(&log_format)->default_value(log_format),
      "text, or json for JSON lines");
  po::variables_map vm;
  if (int rc = ParseCommandLine(argc, argv, spec, options, {}, &vm); rc >= 0) return rc;
  if (!config_file.empty()) {
    std::ifstream in(config_file);
    if (!in) {
      ReportError("serve", "cannot read config file " + config_file);
      return kExitIoError;
    }
    try {
      po::store(po::parse_config_file(in, options), vm);  // flags already stored win
      po::notify(vm);
    } catch (const po::error& e) {
      ReportError("serve", config_file + ": " + e.what());
      return kExitUsage;
    }
  }
  if (Status st = server::ConfigureLogging(log_format, log_level); !st.ok()) {
    ReportError("serve", st.message());
    return kExitUsage;
  }

  // SIGINT/SIGTERM are taken by one thread with sigwait, so no other thread is interrupted.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::stop_source stop;
  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig != 0) spdlog::info("signal {} received", sig);
    stop.request_stop();
  });
  Status st = server::RunServer(o, stop.get_token());
  if (!stop.stop_requested()) {
    stop.request_stop();
    pthread_kill(signal_thread.native_handle(), SIGTERM);  // releases sigwait
  }
  signal_thread.join();
  if (!st.ok()) {
    ReportError("serve", st.ToString());
    return kExitIoError;
  }
  return kExitOk;
}

}  // namespace waybill::cli
