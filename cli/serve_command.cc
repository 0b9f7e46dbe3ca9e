// waybill serve --data-dir DIR [--nats URL] [--inbox DIR] [--config FILE]
#include <signal.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <iostream>
#include <thread>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "server/serve.h"

namespace waybill::cli {

int RunServe(int argc, char** argv) {
  const CommandSpec spec{
      "serve", "waybill serve --data-dir DIR [--nats URL] [--inbox DIR] [--config FILE]",
      "Runs the ledger writer, the projection workers, NATS intake (JetStream stream "
      "WAYBILL_INGEST on waybill.ingest.<format>, header Waybill-Partner) and publishing "
      "(waybill.views.<view>.<customer>.<shipment>, waybill.events.<kind>.<shipment>), and the "
      "folder inbox. Options may also come from a config file of `name = value` lines (the "
      "same names as the flags; flags win; example: deploy/waybill.conf). SIGTERM or Ctrl-C "
      "drains and stops cleanly.",
      "waybill serve --data-dir ./waybill-data --nats nats://127.0.0.1:4222 --inbox ./inbox"};
  server::ServeOptions o;
  std::string config_file, log_level = "info";
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
      "log-level", po::value<std::string>(&log_level)->default_value(log_level),
      "trace, debug, info, warn, error");
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
  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");

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
