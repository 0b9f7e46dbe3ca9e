// waybill view --data-dir DIR SHIPMENT [--json]
// waybill asof --data-dir DIR SHIPMENT --at TIME [--event-time] [--json]
#include <simdjson.h>

#include <iostream>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "projections/view_reader.h"
#include "schemas/time.h"

namespace waybill::cli {
namespace {

// The combined view for people: one "field: value" line per top-level field; nested values
// stay compact JSON.
void PrintHuman(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json).get(doc) != simdjson::SUCCESS) {
    std::cout << json << "\n";
    return;
  }
  simdjson::dom::object obj;
  if (doc.get(obj) != simdjson::SUCCESS) {
    std::cout << json << "\n";
    return;
  }
  for (auto field : obj) {
    std::cout << field.key << ": ";
    std::string_view s;
    if (field.value.get(s) == simdjson::SUCCESS) {
      std::cout << s << "\n";
    } else {
      std::cout << simdjson::minify(field.value) << "\n";
    }
  }
}

int PrintViews(const char* command, const Result<projections::ShipmentViews>& views,
               const std::string& shipment, bool json) {
  if (!views.ok()) {
    ReportError(command, views.status().ToString());
    return kExitIoError;
  }
  if (views->empty()) {
    ReportError(command, "no events for shipment \"" + shipment + "\"");
    return kExitNotFound;
  }
  const std::string out = views->ToJson(shipment);
  if (json) {
    std::cout << out << std::endl;
  } else {
    PrintHuman(out);
  }
  return kExitOk;
}

}  // namespace

int RunView(int argc, char** argv) {
  const CommandSpec spec{
      "view", "waybill view --data-dir DIR SHIPMENT [--json]",
      "Prints the status, ETA and freight-cost views of one shipment as one object (status, "
      "status_at, delay_reason, eta, promised, late_by, delivered_at, freight_cost, ...; "
      "docs/views.md). Events the projection worker has not folded yet are folded in, so the "
      "answer reflects the whole log. Works while the server runs. Exit 5: unknown shipment.",
      "waybill view --data-dir ./waybill-data SHP-1001 --json"};
  std::string data_dir, shipment;
  po::options_description options("options");
  AddCommonOptions(options, &data_dir);
  options.add_options()("json", "print one JSON object")(
      "shipment", po::value<std::string>(&shipment)->required(), "shipment id");
  po::positional_options_description positional;
  positional.add("shipment", 1);
  po::variables_map vm;
  if (int rc = ParseCommandLine(argc, argv, spec, options, positional, &vm); rc >= 0) return rc;
  auto ledger = OpenLedgerOrReport(data_dir, ledger::OpenMode::kReadOnly);
  if (!ledger) return kExitIoError;
  return PrintViews("view", projections::ReadCurrentViews(*ledger, shipment), shipment,
                    vm.count("json") > 0);
}

int RunAsOf(int argc, char** argv) {
  const CommandSpec spec{
      "asof", "waybill asof --data-dir DIR SHIPMENT --at TIME [--event-time] [--json]",
      "Prints the views of one shipment as they stood at recorded time TIME (RFC 3339): what "
      "Waybill knew then, folded from the log. With --event-time, folds instead every event "
      "that had occurred by TIME, whenever it was recorded. Exit 5: no events by then.",
      "waybill asof --data-dir ./waybill-data SHP-1001 --at 2025-03-02T00:00:00Z --json"};
  std::string data_dir, shipment, at;
  po::options_description options("options");
  AddCommonOptions(options, &data_dir);
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
  auto ledger = OpenLedgerOrReport(data_dir, ledger::OpenMode::kReadOnly);
  if (!ledger) return kExitIoError;
  const UnixNanos when = t->utc;
  const bool json = vm.count("json") > 0;
  if (vm.count("event-time") > 0) {
    return PrintViews("asof",
                      projections::FoldShipment(
                          *ledger, shipment, [&](const Event& e) { return e.occurred_at <= when; }),
                      shipment, json);
  }
  auto limit = ledger->FirstSeqRecordedAfter(when);
  if (!limit.ok()) {
    ReportError("asof", limit.status().ToString());
    return kExitIoError;
  }
  const std::uint64_t first_after = *limit;
  return PrintViews(
      "asof",
      projections::FoldShipment(*ledger, shipment,
                                [&](const Event& e) { return e.ledger.seq < first_after; }),
      shipment, json);
}

}  // namespace waybill::cli
