// waybill view (--data-dir DIR | --server URL) SHIPMENT [--json]
// waybill asof (--data-dir DIR | --server URL) SHIPMENT --at TIME [--event-time] [--json]
// Online: GET /v1/shipments/{id} and GET /v1/shipments/{id}?as_of=TIME.
#include <iostream>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/online.h"
#include "cli/printers.h"
#include "projections/view_reader.h"
#include "schemas/time.h"

namespace waybill::cli {
namespace {

int NoSuchShipment(const char* command, const std::string& shipment) {
  ReportError(command, "no events for shipment \"" + shipment + "\"");
  return kExitNotFound;
}

int PrintFolded(const char* command, const Result<projections::ShipmentViews>& views,
                const std::string& shipment, bool json) {
  if (!views.ok()) {
    ReportError(command, views.status().ToString());
    return kExitIoError;
  }
  if (views->empty()) return NoSuchShipment(command, shipment);
  PrintViews(views->ToJson(shipment), json);
  return kExitOk;
}

// GET /v1/shipments/{id}[?as_of=TIME]; 404 is exit 5 with the offline message.
int ViewsOnline(const char* command, const OnlineOptions& online, const std::string& data_dir,
                const std::string& shipment, const std::string* as_of, bool json) {
  int open_rc = kExitIoError;
  auto session = ServerSession::Open(command, online, data_dir, &open_rc);
  if (!session) return open_rc;
  std::string target = "/v1/shipments/" + client::UrlEncode(shipment);
  if (as_of != nullptr) target += "?as_of=" + client::UrlEncode(*as_of);
  auto reply = session->Call("GET", target);
  if (!reply.ok()) return session->Failed(reply.status());
  if (reply->status == 404 && ParseApiError(*reply).code == "not_found") {
    return NoSuchShipment(command, shipment);
  }
  if (!IsSuccess(reply->status)) return session->Refused(*reply);
  PrintViews(MinifyJson(reply->body), json);
  return kExitOk;
}

}  // namespace

int RunView(int argc, char** argv) {
  const CommandSpec spec{
      "view", "waybill view (--data-dir DIR | --server URL) SHIPMENT [--json]",
      "Prints the status, ETA and freight-cost views of one shipment as one object (status, "
      "status_at, delay_reason, eta, promised, late_by, delivered_at, freight_cost, ...; "
      "docs/views.md). Events the projection worker has not folded yet are folded in, so the "
      "answer reflects the whole log. Works while the server runs; with --server the server "
      "answers (token scope shipments:read; freight_cost needs costs:read). "
      "Exit 5: unknown shipment.",
      "waybill view --data-dir ./waybill-data SHP-1001 --json"};
  std::string data_dir, shipment;
  OnlineOptions online;
  po::options_description options("options");
  AddCommonOptions(options, &data_dir);
  AddOnlineOptions(options, &online);
  options.add_options()("json", "print one JSON object")(
      "shipment", po::value<std::string>(&shipment)->required(), "shipment id");
  po::positional_options_description positional;
  positional.add("shipment", 1);
  po::variables_map vm;
  if (int rc = ParseCommandLine(argc, argv, spec, options, positional, &vm); rc >= 0) return rc;
  const bool json = vm.count("json") > 0;
  if (online.enabled()) return ViewsOnline("view", online, data_dir, shipment, nullptr, json);
  auto ledger = OpenLedgerOrReport(data_dir, ledger::OpenMode::kReadOnly);
  if (!ledger) return kExitIoError;
  return PrintFolded("view", projections::ReadCurrentViews(*ledger, shipment), shipment, json);
}

int RunAsOf(int argc, char** argv) {
  const CommandSpec spec{
      "asof",
      "waybill asof (--data-dir DIR | --server URL) SHIPMENT --at TIME [--event-time] [--json]",
      "Prints the views of one shipment as they stood at recorded time TIME (RFC 3339): what "
      "Waybill knew then, folded from the log. With --event-time, folds instead every event "
      "that had occurred by TIME, whenever it was recorded (offline only: not with --server). "
      "Exit 5: no events by then.",
      "waybill asof --data-dir ./waybill-data SHP-1001 --at 2025-03-02T00:00:00Z --json"};
  std::string data_dir, shipment, at;
  OnlineOptions online;
  po::options_description options("options");
  AddCommonOptions(options, &data_dir);
  AddOnlineOptions(options, &online);
  options.add_options()("at", po::value<std::string>(&at)->required(),
                        "the instant, RFC 3339 (2025-03-02T00:00:00Z)")(
      "event-time", "TIME is an event time, not a recorded time")("json", "print one JSON object")(
      "shipment", po::value<std::string>(&shipment)->required(), "shipment id");
  po::positional_options_description positional;
  positional.add("shipment", 1);
  po::variables_map vm;
  if (int rc = ParseCommandLine(argc, argv, spec, options, positional, &vm); rc >= 0) return rc;
  auto t = ParseRfc3339(at);
  if (!t.ok()) {
    ReportError("asof", "--at: " + t.status().message());
    return kExitUsage;
  }
  const bool json = vm.count("json") > 0;
  const bool event_time = vm.count("event-time") > 0;
  if (online.enabled()) {
    if (event_time) {
      ReportError("asof",
                  "--event-time is offline only: the server answers as of a recorded time; "
                  "use --data-dir without --server");
      return kExitUsage;
    }
    return ViewsOnline("asof", online, data_dir, shipment, &at, json);
  }
  auto ledger = OpenLedgerOrReport(data_dir, ledger::OpenMode::kReadOnly);
  if (!ledger) return kExitIoError;
  const UnixNanos when = t->utc;
  if (event_time) {
    return PrintFolded(
        "asof",
        projections::FoldShipment(*ledger, shipment,
                                  [&](const Event& e) { return e.occurred_at <= when; }),
        shipment, json);
  }
  auto limit = ledger->FirstSeqRecordedAfter(when);
  if (!limit.ok()) {
    ReportError("asof", limit.status().ToString());
    return kExitIoError;
  }
  const std::uint64_t first_after = *limit;
  return PrintFolded(
      "asof",
      projections::FoldShipment(*ledger, shipment,
                                [&](const Event& e) { return e.ledger.seq < first_after; }),
      shipment, json);
}

}  // namespace waybill::cli
