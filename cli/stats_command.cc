// waybill stats --data-dir DIR
#include <iostream>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "projections/projection_stats.h"

namespace waybill::cli {

int RunStats(int argc, char** argv) {
  const CommandSpec spec{
      "stats", "waybill stats --data-dir DIR",
      "Prints the ledger's size as one JSON object: events, shipments, dead letters, bytes on "
      "disk, the head (sequence and hash), and \"projections\": the views' checkpoint and lag, "
      "the outbox backlog of view updates not yet acknowledged by NATS, the event feed's "
      "cursor, and whether publishing is failing (since when, why). Works while the server "
      "runs.",
      "waybill stats --data-dir ./waybill-data"};
  std::string data_dir;
  po::options_description options("options");
  AddCommonOptions(options, &data_dir);
  po::variables_map vm;
  if (int rc = ParseCommandLine(argc, argv, spec, options, {}, &vm); rc >= 0) return rc;
  auto ledger = OpenLedgerOrReport(data_dir, ledger::OpenMode::kReadOnly);
  if (!ledger) return kExitIoError;
  auto stats = ledger->Stats();
  if (!stats.ok()) {
    ReportError("stats", stats.status().ToString());
    return kExitIoError;
  }
  auto projection_stats = projections::ReadProjectionStats(*ledger);
  if (!projection_stats.ok()) {
    ReportError("stats", projection_stats.status().ToString());
    return kExitIoError;
  }
  std::cout << "{\"events\":" << stats->events << ",\"shipments\":" << stats->shipments
            << ",\"dead_letters\":" << stats->dead_letters
            << ",\"dead_letters_pending\":" << stats->dead_letters_pending
            << ",\"raw_messages_estimate\":" << stats->raw_messages
            << ",\"size_bytes\":" << stats->size_bytes << ",\"head_seq\":" << stats->head.seq
            << ",\"head_hash\":\"" << ToHex(stats->head.hash)
            << "\",\"projections\":" << projection_stats->ToJson() << "}" << std::endl;
  return kExitOk;
}

}  // namespace waybill::cli
