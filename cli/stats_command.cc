// waybill stats --data-dir DIR
// waybill stats --server URL     (GET /v1/admin/stats)
#include <iostream>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/online.h"
#include "projections/projection_stats.h"

namespace waybill::cli {
namespace {

int StatsOnline(const OnlineOptions& online, const std::string& data_dir) {
  int open_rc = kExitIoError;
  auto session = ServerSession::Open("stats", online, data_dir, &open_rc);
  if (!session) return open_rc;
  auto reply = session->Call("GET", "/v1/admin/stats");
  if (!reply.ok()) return session->Failed(reply.status());
  if (!IsSuccess(reply->status)) return session->Refused(*reply);
  std::cout << MinifyJson(reply->body) << std::endl;  // the same object as offline
  return kExitOk;
}

}  // namespace

int RunStats(int argc, char** argv) {
  const CommandSpec spec{
      "stats", "waybill stats (--data-dir DIR | --server URL)",
      "Prints the ledger's size as one JSON object: events, shipments, dead letters, bytes on "
      "disk, the head (sequence and hash), and \"projections\": the views' checkpoint and lag, "
      "the outbox backlog of view updates not yet acknowledged by NATS, the event feed's "
      "cursor, and whether publishing is failing (since when, why). Works while the server "
      "runs; with --server the server answers (token scope admin).",
      "waybill stats --data-dir ./waybill-data"};
  std::string data_dir;
  OnlineOptions online;
  po::options_description options("options");
  AddCommonOptions(options, &data_dir);
  AddOnlineOptions(options, &online);
  po::variables_map vm;
  if (int rc = ParseCommandLine(argc, argv, spec, options, {}, &vm); rc >= 0) return rc;
  if (online.enabled()) return StatsOnline(online, data_dir);

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
