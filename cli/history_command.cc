// waybill history --data-dir DIR SHIPMENT [--json]
// waybill history --server URL SHIPMENT [--json]     (GET /v1/shipments/{id}/events)
#include <simdjson.h>

#include <iostream>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/online.h"
#include "cli/printers.h"
#include "schemas/event_json.h"

namespace waybill::cli {
namespace {

int HistoryOnline(const OnlineOptions& online, const std::string& data_dir,
                  const std::string& shipment, bool json) {
  int open_rc = kExitIoError;
  auto session = ServerSession::Open("history", online, data_dir, &open_rc);
  if (!session) return open_rc;
  auto reply = session->Call("GET", "/v1/shipments/" + client::UrlEncode(shipment) + "/events");
  if (!reply.ok()) return session->Failed(reply.status());
  std::vector<std::string> events;
  if (reply->status == 404 && ParseApiError(*reply).code == "not_found") {
    // No events, or a shipment this token may not see: offline says "no events" and exits 0.
    PrintHistory(events, shipment, json);
    return kExitOk;
  }
  if (!IsSuccess(reply->status)) return session->Refused(*reply);
  // Each event exactly as the server wrote it (the ledger's canonical form).
  simdjson::ondemand::parser parser;
  simdjson::padded_string body(reply->body);
  simdjson::ondemand::document doc;
  simdjson::ondemand::array array;
  if (parser.iterate(body).get(doc) != simdjson::SUCCESS ||
      doc["events"].get_array().get(array) != simdjson::SUCCESS) {
    ReportError("history",
                "the server's answer has no \"events\" array: " + MinifyJson(reply->body));
    return kExitIoError;
  }
  for (auto item : array) {
    simdjson::ondemand::object event;
    std::string_view raw;
    if (item.get_object().get(event) != simdjson::SUCCESS ||
        event.raw_json().get(raw) != simdjson::SUCCESS) {
      ReportError("history", "the server's answer is not valid JSON");
      return kExitIoError;
    }
    events.push_back(MinifyJson(raw));
  }
  PrintHistory(events, shipment, json);
  return kExitOk;
}

}  // namespace

int RunHistory(int argc, char** argv) {
  const CommandSpec spec{
      "history", "waybill history (--data-dir DIR | --server URL) SHIPMENT [--json]",
      "Prints a shipment's events in ledger sequence order; --json prints a JSON array of "
      "canonical events (schemas/event.schema.json). Works while the server runs; with "
      "--server it asks the server instead (token scope audit:read).",
      "waybill history --data-dir ./waybill-data SHP-1001 --json"};
  std::string data_dir, shipment;
  OnlineOptions online;
  po::options_description options("options");
  AddCommonOptions(options, &data_dir);
  AddOnlineOptions(options, &online);
  options.add_options()("json", "print a JSON array of canonical events")(
      "shipment", po::value<std::string>(&shipment)->required(), "shipment id");
  po::positional_options_description positional;
  positional.add("shipment", 1);
  po::variables_map vm;
  if (int rc = ParseCommandLine(argc, argv, spec, options, positional, &vm); rc >= 0) return rc;
  const bool json = vm.count("json") > 0;
  if (online.enabled()) return HistoryOnline(online, data_dir, shipment, json);

  auto ledger = OpenLedgerOrReport(data_dir, ledger::OpenMode::kReadOnly);
  if (!ledger) return kExitIoError;
  auto read = ledger->ReadShipment(shipment);
  if (!read.ok()) {
    ReportError("history", read.status().ToString());
    return kExitIoError;
  }
  std::vector<std::string> events;
  events.reserve(read->size());
  for (const auto& e : *read) events.push_back(EventToJson(e));
  PrintHistory(events, shipment, json);
  return kExitOk;
}

}  // namespace waybill::cli
