// waybill verify --data-dir DIR [--from SEQ] [--to SEQ]
#include <iostream>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "schemas/event_json.h"

namespace waybill::cli {

int RunVerify(int argc, char** argv) {
  const CommandSpec spec{
      "verify", "waybill verify --data-dir DIR [--from SEQ] [--to SEQ]",
      "Walks the hash chain, recomputing every event's hash. Intact: exit 0 and "
      "{\"events\":N,\"head_seq\":N,\"head_hash\":\"...\"}. Broken: exit 4 and "
      "{\"events\":N,\"first_broken_seq\":N,\"reason\":\"...\"} naming the first bad sequence. "
      "Works while the server runs.",
      "waybill verify --data-dir ./waybill-data"};
  std::string data_dir;
  std::uint64_t from = 1, to = UINT64_MAX;
  po::options_description options("options");
  AddCommonOptions(options, &data_dir);
  options.add_options()("from", po::value<std::uint64_t>(&from), "first sequence to check")(
      "to", po::value<std::uint64_t>(&to), "last sequence to check (default: the head)");
  po::variables_map vm;
  if (int rc = ParseCommandLine(argc, argv, spec, options, {}, &vm); rc >= 0) return rc;
  auto ledger = OpenLedgerOrReport(data_dir, ledger::OpenMode::kReadOnly);
  if (!ledger) return kExitIoError;
  auto report = ledger->Verify(from, to);
  if (!report.ok()) {
    ReportError("verify", report.status().ToString());
    return kExitIoError;
  }
  std::string out = "{\"events\":" + std::to_string(report->events);
  if (report->intact) {
    out += ",\"head_seq\":" + std::to_string(report->head.seq) + ",\"head_hash\":\"" +
           ToHex(report->head.hash) + "\"}";
    std::cout << out << std::endl;
    return kExitOk;
  }
  out += ",\"first_broken_seq\":" + std::to_string(report->first_broken_seq) + ",\"reason\":";
  AppendJsonString(report->reason, &out);
  out += "}";
  std::cout << out << std::endl;
  ReportError("verify", "chain broken at sequence " + std::to_string(report->first_broken_seq) +
                            ": " + report->reason);
  return kExitVerifyFailed;
}

}  // namespace waybill::cli
