// waybill dlq list|show|retry|drop (--data-dir DIR | --server URL) ...
// Online: GET /v1/admin/dlq (pages followed through next_after), GET /v1/admin/dlq/{id},
// POST /v1/admin/dlq/{id}/retry, DELETE /v1/admin/dlq/{id}?reason=TEXT.
#include <simdjson.h>

#include <iostream>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/online.h"
#include "cli/printers.h"
#include "cli/progress.h"
#include "ingest/dead_letter_ops.h"
#include "ingest/intake_config.h"
#include "ledger/dead_letter_json.h"

namespace waybill::cli {
namespace {

std::optional<std::uint64_t> ParseId(const std::string& s) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  try {
    return std::stoull(s);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

struct DlqArgs {
  std::string action;
  std::optional<std::uint64_t> id;
  bool all = false;
  bool json = false;
  std::string reason;
};

// A non-2xx answer: an unknown dead letter is exit 1 (as offline), not 5.
int RefusedDlq(const ServerSession& session, const client::HttpReply& reply) {
  const int code = session.Refused(reply);
  return code == kExitNotFound ? kExitIoError : code;
}

// Every dead letter the server lists (pending, or all states), as JSON objects in id order.
int ListOnline(ServerSession& session, bool all, std::vector<std::string>* out) {
  std::string after = "0";
  for (;;) {
    auto reply = session.Call("GET", "/v1/admin/dlq?state=" + std::string(all ? "all" : "pending") +
                                         "&after=" + after + "&limit=1000");
    if (!reply.ok()) return session.Failed(reply.status());
    if (!IsSuccess(reply->status)) return RefusedDlq(session, *reply);
    simdjson::ondemand::parser parser;
    simdjson::padded_string body(reply->body);
    simdjson::ondemand::document doc;
    simdjson::ondemand::array page;
    bool ok = parser.iterate(body).get(doc) == simdjson::SUCCESS &&
              doc["dead_letters"].get_array().get(page) == simdjson::SUCCESS;
    if (ok) {
      for (auto item : page) {
        simdjson::ondemand::object dl;
        std::string_view raw;
        if (item.get_object().get(dl) != simdjson::SUCCESS ||
            dl.raw_json().get(raw) != simdjson::SUCCESS) {
          ok = false;
          break;
        }
        out->push_back(MinifyJson(raw));
      }
    }
    std::uint64_t next = 0;
    simdjson::ondemand::value next_value;
    if (ok && doc["next_after"].get(next_value) == simdjson::SUCCESS) {
      bool is_null = false;
      if (next_value.is_null().get(is_null) != simdjson::SUCCESS) ok = false;
      if (ok && !is_null && next_value.get_uint64().get(next) != simdjson::SUCCESS) ok = false;
    }
    if (!ok) {
      ReportError("dlq", "unexpected answer from the server: " + MinifyJson(reply->body));
      return kExitIoError;
    }
    if (next == 0) return kExitOk;
    after = std::to_string(next);
  }
}

// POST /v1/admin/dlq/{id}/retry, counted into `totals`.
int RetryOneOnline(ServerSession& session, std::uint64_t id, RetryTotals* totals,
                   ProgressMeter* meter) {
  auto reply = session.Call("POST", "/v1/admin/dlq/" + std::to_string(id) + "/retry");
  if (!reply.ok() || !IsSuccess(reply->status)) meter->Clear();  // before the error line
  if (!reply.ok()) return session.Failed(reply.status());
  if (!IsSuccess(reply->status)) return RefusedDlq(session, *reply);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  bool resolved = false;
  std::uint64_t accepted = 0, duplicates = 0;
  simdjson::dom::array reasons_json;
  if (parser.parse(reply->body).get(doc) != simdjson::SUCCESS ||
      doc["resolved"].get(resolved) != simdjson::SUCCESS ||
      doc["accepted"].get(accepted) != simdjson::SUCCESS ||
      doc["duplicates"].get(duplicates) != simdjson::SUCCESS) {
    ReportError("dlq", "unexpected answer from the server: " + MinifyJson(reply->body));
    return kExitIoError;
  }
  std::vector<std::string> reasons;
  if (doc["reasons"].get(reasons_json) == simdjson::SUCCESS) {
    for (auto r : reasons_json) {
      std::string_view s;
      if (r.get(s) == simdjson::SUCCESS) reasons.emplace_back(s);
    }
  }
  if (!resolved) meter->Clear();  // its reasons go to stderr
  totals->Add(id, resolved, accepted, duplicates, reasons);
  return kExitOk;
}

int DlqOnline(const OnlineOptions& online, const std::string& data_dir, const DlqArgs& a) {
  int open_rc = kExitIoError;
  auto session = ServerSession::Open("dlq", online, data_dir, &open_rc);
  if (!session) return open_rc;
  if (a.action == "show") {
    auto reply = session->Call("GET", "/v1/admin/dlq/" + std::to_string(*a.id));
    if (!reply.ok()) return session->Failed(reply.status());
    if (!IsSuccess(reply->status)) return RefusedDlq(*session, *reply);
    std::cout << MinifyJson(reply->body) << std::endl;
    return kExitOk;
  }
  if (a.action == "drop") {
    std::string target = "/v1/admin/dlq/" + std::to_string(*a.id);
    if (!a.reason.empty()) target += "?reason=" + client::UrlEncode(a.reason);
    auto reply = session->Call("DELETE", target);
    if (!reply.ok()) return session->Failed(reply.status());
    if (!IsSuccess(reply->status)) return RefusedDlq(*session, *reply);
    std::cout << "{\"dropped\":" << *a.id << "}" << std::endl;
    return kExitOk;
  }
  std::vector<std::string> listed;
  if (a.action == "list" || a.all) {
    if (int rc = ListOnline(*session, a.action == "list" && a.all, &listed); rc != kExitOk) {
      return rc;
    }
  }
  if (a.action == "list") {
    PrintDeadLetters(listed, a.json);
    return kExitOk;
  }
  // retry
  std::vector<std::uint64_t> ids;
  if (a.id) ids.push_back(*a.id);
  for (const auto& dl : listed) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    std::uint64_t id = 0;
    if (parser.parse(dl).get(doc) == simdjson::SUCCESS && doc["id"].get(id) == simdjson::SUCCESS) {
      ids.push_back(id);
    }
  }
  RetryTotals totals;
  ProgressMeter meter("dlq retry", ids.size(), ProgressUnit::kItems, a.all && StderrIsTerminal());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    meter.Update(i);
    if (int rc = RetryOneOnline(*session, ids[i], &totals, &meter); rc != kExitOk) {
      meter.Clear();
      return rc;
    }
  }
  meter.Clear();
  return totals.Print();
}

}  // namespace

int RunDlq(int argc, char** argv) {
  const CommandSpec spec{
      "dlq",
      "waybill dlq list|show|retry|drop (--data-dir DIR | --server URL) [ID] [--all] [--json] "
      "[--reason TEXT]",
      "Dead letters: messages that failed parsing or validation, kept whole with every reason.\n"
      "  list [--all] [--json]   pending ones (--all: resolved and dropped too)\n"
      "  show ID                 one, with its raw bytes, as JSON\n"
      "  retry ID | --all        re-map with the current adapters and mapping files; what now\n"
      "                          passes is appended and the dead letter marked resolved\n"
      "  drop ID [--reason TEXT] close it without appending; who and why are kept\n"
      "With --server URL the server does it, with its own mapping files and partner profiles "
      "(token scope admin).\n"
      "Exit 0 on success; 3 when a retry still fails; 1 for an unknown id or I/O error.",
      "waybill dlq retry --data-dir ./waybill-data 12"};
  std::string data_dir, id_text, partners_file;
  DlqArgs a;
  std::vector<std::string> mapping_dirs;
  OnlineOptions online;
  po::options_description options("options");
  AddCommonOptions(options, &data_dir);
  AddOnlineOptions(options, &online, 3600);
  options.add_options()("action", po::value<std::string>(&a.action)->required(),
                        "list, show, retry or drop")("id", po::value<std::string>(&id_text),
                                                     "dead letter id")(
      "all", "list: every state; retry: every pending dead letter")(
      "json", "list: print a JSON array")("reason", po::value<std::string>(&a.reason),
                                          "drop: why, kept with the dead letter")(
      "partners", po::value<std::string>(&partners_file),
      "retry: partner profiles file (default: DIR/partners.json if present)")(
      "mappings", po::value<std::vector<std::string>>(&mapping_dirs),
      "retry: mapping-file directory (default: DIR/mappings if present); repeatable");
  po::positional_options_description positional;
  positional.add("action", 1).add("id", 1);
  po::variables_map vm;
  if (int rc = ParseCommandLine(argc, argv, spec, options, positional, &vm); rc >= 0) return rc;
  a.all = vm.count("all") > 0;
  a.json = vm.count("json") > 0;
  const std::string& action = a.action;
  if (!id_text.empty()) {
    a.id = ParseId(id_text);
    if (!a.id) {
      ReportError("dlq", "\"" + id_text + "\" is not a dead-letter id (a positive number)");
      return kExitUsage;
    }
  }
  if (action != "list" && action != "show" && action != "retry" && action != "drop") {
    ReportError("dlq", "unknown action \"" + action + "\"; use list, show, retry or drop");
    return kExitUsage;
  }
  if ((action == "show" || action == "drop" || (action == "retry" && !a.all)) && !a.id) {
    ReportError("dlq", action + " needs a dead-letter id" +
                           (action == "retry" ? std::string(" (or --all)") : ""));
    return kExitUsage;
  }
  if (online.enabled()) {
    if (!partners_file.empty() || !mapping_dirs.empty()) {
      ReportError("dlq",
                  "--partners and --mappings are offline only: with --server the server "
                  "retries with its own partner profiles and mapping files");
      return kExitUsage;
    }
    return DlqOnline(online, data_dir, a);
  }

  const bool writes = action == "retry" || action == "drop";
  auto ledger = OpenLedgerOrReport(
      data_dir, writes ? ledger::OpenMode::kReadWrite : ledger::OpenMode::kReadOnly);
  if (!ledger) return kExitIoError;

  if (action == "show") {
    auto dl = ledger->GetDeadLetter(*a.id);
    if (!dl.ok()) {
      ReportError("dlq", dl.status().message());
      return kExitIoError;
    }
    std::cout << ledger::DeadLetterJson(*dl) << std::endl;
    return kExitOk;
  }
  if (action == "drop") {
    Status st = ingest::DropDeadLetter(*ledger, *a.id, LocalPrincipal(), a.reason);
    if (!st.ok()) {
      ReportError("dlq", st.message());
      return kExitIoError;
    }
    std::cout << "{\"dropped\":" << *a.id << "}" << std::endl;
    return kExitOk;
  }

  // list and retry --all walk the dead letters in id order.
  std::vector<ledger::DeadLetterSummary> selected;
  if (action == "list" || a.all) {
    std::uint64_t after = 0;
    for (;;) {
      auto page = ledger->ListDeadLetters(after, 1000);
      if (!page.ok()) {
        ReportError("dlq", page.status().ToString());
        return kExitIoError;
      }
      if (page->empty()) break;
      after = page->back().letter.id;
      for (auto& summary : *page) {
        if (summary.letter.state == ledger::DeadLetterState::kPending ||
            (action == "list" && a.all)) {
          selected.push_back(std::move(summary));
        }
      }
    }
  }
  if (action == "list") {
    std::vector<std::string> listed;
    listed.reserve(selected.size());
    for (const auto& summary : selected) listed.push_back(ledger::DeadLetterSummaryJson(summary));
    PrintDeadLetters(listed, a.json);
    return kExitOk;
  }

  // retry
  auto config = ingest::LoadIntakeConfig(data_dir, partners_file, mapping_dirs);
  if (!config.ok()) {
    ReportError("dlq", config.status().ToString());
    return kExitIoError;
  }
  std::vector<std::uint64_t> ids;
  if (a.id) ids.push_back(*a.id);
  for (const auto& summary : selected) ids.push_back(summary.letter.id);
  RetryTotals totals;
  ProgressMeter meter("dlq retry", ids.size(), ProgressUnit::kItems, a.all && StderrIsTerminal());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    meter.Update(i);
    auto outcome = ingest::RetryDeadLetter(*ledger, ids[i], config->adapters, config->profiles,
                                           LocalPrincipal());
    if (!outcome.ok()) {
      meter.Clear();
      ReportError("dlq", outcome.status().message());
      return kExitIoError;
    }
    if (!outcome->resolved) meter.Clear();  // its reasons go to stderr
    totals.Add(ids[i], outcome->resolved, outcome->accepted, outcome->duplicates, outcome->reasons);
  }
  meter.Clear();
  return totals.Print();
}

}  // namespace waybill::cli
