// waybill verify --data-dir DIR [--from SEQ] [--to SEQ]
// waybill verify --server URL [--from SEQ] [--to SEQ]     (GET /v1/ledger/verify)
#include <simdjson.h>

#include <iostream>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/online.h"
#include "cli/printers.h"
#include "cli/progress.h"
#include "schemas/event_json.h"

namespace waybill::cli {
namespace {

int VerifyOnline(const OnlineOptions& online, const std::string& data_dir, std::uint64_t from,
                 std::uint64_t to) {
  int open_rc = kExitIoError;
  auto session = ServerSession::Open("verify", online, data_dir, &open_rc);
  if (!session) return open_rc;
  std::string target = "/v1/ledger/verify?from=" + std::to_string(from);
  if (to != UINT64_MAX) target += "&to=" + std::to_string(to);
  Result<client::HttpReply> reply = Status::Internal("not sent");
  {
    Spinner spinner("verify");  // the server answers once the whole range is checked
    reply = session->Call("GET", target);
  }
  if (!reply.ok()) return session->Failed(reply.status());
  if (!IsSuccess(reply->status)) return session->Refused(*reply);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  VerifyOutcome v;
  std::string_view hash, reason;
  if (parser.parse(reply->body).get(doc) != simdjson::SUCCESS ||
      doc["intact"].get(v.intact) != simdjson::SUCCESS ||
      doc["events"].get(v.events) != simdjson::SUCCESS) {
    ReportError("verify", "unexpected answer from the server: " + MinifyJson(reply->body));
    return kExitIoError;
  }
  if (v.intact) {
    if (doc["head"]["seq"].get(v.head_seq) != simdjson::SUCCESS ||
        doc["head"]["hash"].get(hash) != simdjson::SUCCESS) {
      ReportError("verify", "the server's answer has no head: " + MinifyJson(reply->body));
      return kExitIoError;
    }
    v.head_hash = std::string(hash);
  } else {
    if (doc["first_broken_seq"].get(v.first_broken_seq) != simdjson::SUCCESS) {
      ReportError("verify",
                  "the server's answer has no first_broken_seq: " + MinifyJson(reply->body));
      return kExitIoError;
    }
    if (doc["reason"].get(reason) == simdjson::SUCCESS) v.reason = std::string(reason);
  }
  return PrintVerify(v);
}

}  // namespace

int RunVerify(int argc, char** argv) {
  const CommandSpec spec{
      "verify", "waybill verify (--data-dir DIR | --server URL) [--from SEQ] [--to SEQ]",
      "Walks the hash chain, recomputing every event's hash; over the whole ledger it also "
      "checks every table file's block checksums and (when no process holds the data dir) "
      "the write-ahead log. Intact: exit 0 and "
      "{\"events\":N,\"head_seq\":N,\"head_hash\":\"...\"}. Broken: exit 4 and "
      "{\"events\":N,\"first_broken_seq\":N,\"reason\":\"...\"} naming the first bad sequence "
      "(the first one it cannot read, or the one after the intact prefix of a damaged WAL; 0 "
      "when the damage is outside the chain) and the damaged file. "
      "Works while the server runs; with --server the server does the walk (token scope "
      "audit:read).",
      "waybill verify --data-dir ./waybill-data"};
  std::string data_dir;
  std::uint64_t from = 1, to = UINT64_MAX;
  OnlineOptions online;
  po::options_description options("options");
  AddCommonOptions(options, &data_dir);
  AddOnlineOptions(options, &online, 3600);
  options.add_options()("from", po::value<std::uint64_t>(&from), "first sequence to check")(
      "to", po::value<std::uint64_t>(&to), "last sequence to check (default: the head)");
  po::variables_map vm;
  if (int rc = ParseCommandLine(argc, argv, spec, options, {}, &vm); rc >= 0) return rc;
  if (online.enabled()) return VerifyOnline(online, data_dir, from, to);

  // An inspecting open: on a data dir no process holds, a damaged WAL is reported (after the
  // intact prefix it still replays) instead of failing the open.
  ledger::LedgerOptions ledger_options;
  ledger_options.mode = ledger::OpenMode::kReadOnly;
  ledger_options.inspect = true;
  ledger_options.on_warning = [](const std::string& message) {
    std::cerr << "waybill verify: warning: " << message << std::endl;
  };
  auto opened = ledger::Ledger::Open(data_dir, ledger_options);
  if (!opened.ok()) {
    // Damage that keeps even the inspecting open from reading the ledger is still a verify
    // failure, not an I/O error: the data dir is there and it is broken.
    if (opened.status().code() == ErrorCode::kCorruption) {
      VerifyOutcome v;
      v.intact = false;
      v.reason = opened.status().message();
      return PrintVerify(v);
    }
    ReportError("verify", opened.status().ToString());
    return kExitIoError;
  }
  auto ledger = std::move(opened).value();
  auto report = ledger->Verify(from, to);
  if (!report.ok()) {
    if (report.status().code() == ErrorCode::kCorruption) {
      VerifyOutcome v;
      v.intact = false;
      v.first_broken_seq = from;
      v.reason = report.status().message();
      return PrintVerify(v);
    }
    ReportError("verify", report.status().ToString());
    return kExitIoError;
  }
  VerifyOutcome v;
  v.events = report->events;
  v.intact = report->intact;
  v.head_seq = report->head.seq;
  v.head_hash = ToHex(report->head.hash);
  v.first_broken_seq = report->first_broken_seq;
  v.reason = report->reason;
  return PrintVerify(v);
}

}  // namespace waybill::cli
