// waybill history --data-dir DIR SHIPMENT [--json]
#include <iostream>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "schemas/event_json.h"
#include "schemas/money.h"
#include "schemas/time.h"

namespace waybill::cli {
namespace {

// One line per event for people: seq, event time, kind, what happened, where, id.
std::string HumanLine(const Event& e) {
  std::string what;
  if (e.status) what = std::string(ToString(*e.status));
  if (e.source_code) what += (what.empty() ? "" : " ") + ("(" + *e.source_code + ")");
  if (e.reason_code) what += " reason " + *e.reason_code;
  if (e.estimate) {
    what =
        std::string(ToString(e.estimate->of)) + " expected " + FormatUtc(e.estimate->estimated_at);
  }
  if (e.charges) {
    what = std::string(ToString(e.charges->basis)) + " " +
           FormatMoney(e.charges->total, e.charges->currency) + " " + e.charges->currency;
  }
  if (e.document) what = e.document->type + (e.document->number ? " " + *e.document->number : "");
  std::string where;
  if (e.location) {
    const Location& l = *e.location;
    if (l.unlocode)
      where = *l.unlocode;
    else if (l.city)
      where = *l.city + (l.country ? ", " + *l.country : "");
    else if (l.name)
      where = *l.name;
  }
  std::string line = std::to_string(e.ledger.seq) + "  " + FormatUtc(e.occurred_at) + "  " +
                     std::string(ToString(e.kind)) + "  " + what;
  if (!where.empty()) line += "  @ " + where;
  line += "  [" + e.source.format + (e.source.partner ? "/" + *e.source.partner : "") + " " +
          e.event_id + "]";
  return line;
}

}  // namespace

int RunHistory(int argc, char** argv) {
  const CommandSpec spec{
      "history", "waybill history --data-dir DIR SHIPMENT [--json]",
      "Prints a shipment's events in ledger sequence order; --json prints a JSON array of "
      "canonical events (schemas/event.schema.json). Works while the server runs.",
      "waybill history --data-dir ./waybill-data SHP-1001 --json"};
  std::string data_dir, shipment;
  po::options_description options("options");
  AddCommonOptions(options, &data_dir);
  options.add_options()("json", "print a JSON array of canonical events")(
      "shipment", po::value<std::string>(&shipment)->required(), "shipment id");
  po::positional_options_description positional;
  positional.add("shipment", 1);
  po::variables_map vm;
  if (int rc = ParseCommandLine(argc, argv, spec, options, positional, &vm); rc >= 0) return rc;
  auto ledger = OpenLedgerOrReport(data_dir, ledger::OpenMode::kReadOnly);
  if (!ledger) return kExitIoError;
  auto events = ledger->ReadShipment(shipment);
  if (!events.ok()) {
    ReportError("history", events.status().ToString());
    return kExitIoError;
  }
  if (vm.count("json")) {
    std::string out = "[";
    for (std::size_t i = 0; i < events->size(); ++i) {
      if (i) out += ",\n";
      AppendEventJson((*events)[i], &out);
    }
    out += "]\n";
    std::cout << out;
  } else if (events->empty()) {
    std::cerr << "no events for shipment \"" << shipment << "\"\n";
  } else {
    for (const auto& e : *events) std::cout << HumanLine(e) << "\n";
  }
  return kExitOk;
}

}  // namespace waybill::cli
