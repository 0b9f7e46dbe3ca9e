// waybill dlq list|show|retry|drop --data-dir DIR ...
#include <iostream>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "ingest/dead_letter_ops.h"
#include "ingest/intake_config.h"
#include "schemas/event_json.h"
#include "schemas/time.h"

namespace waybill::cli {
namespace {

void AppendOptional(const char* key, const std::optional<std::string>& v, std::string* out) {
  if (!v) return;
  *out += ",\"";
  *out += key;
  *out += "\":";
  AppendJsonString(*v, out);
}

// The dead letter as one JSON object; `with_raw` adds the message bytes.
std::string DeadLetterJson(const ledger::DeadLetter& dl, bool with_raw) {
  std::string out = "{\"id\":" + std::to_string(dl.id) + ",\"state\":\"" +
                    std::string(ledger::ToString(dl.state)) + "\",\"received_at\":\"" +
                    FormatUtc(dl.received_at) + "\",\"format\":";
  AppendJsonString(dl.format, &out);
  AppendOptional("partner", dl.partner, &out);
  AppendOptional("principal", dl.principal, &out);
  AppendOptional("origin", dl.origin, &out);
  AppendOptional("position", dl.position, &out);
  out += ",\"reasons\":[";
  for (std::size_t i = 0; i < dl.reasons.size(); ++i) {
    if (i) out += ',';
    AppendJsonString(dl.reasons[i], &out);
  }
  out += "],\"attempts\":" + std::to_string(dl.attempts);
  if (dl.updated_at != 0) out += ",\"updated_at\":\"" + FormatUtc(dl.updated_at) + "\"";
  AppendOptional("updated_by", dl.updated_by, &out);
  AppendOptional("resolution", dl.resolution, &out);
  out += ",\"raw_bytes\":" + std::to_string(dl.raw.size());
  if (with_raw) {
    out += ",\"raw\":";
    AppendJsonString(dl.raw, &out);
  }
  out += '}';
  return out;
}

std::optional<std::uint64_t> ParseId(const std::string& s) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  try {
    return std::stoull(s);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

int RunDlq(int argc, char** argv) {
  const CommandSpec spec{
      "dlq",
      "waybill dlq list|show|retry|drop --data-dir DIR [ID] [--all] [--json] [--reason TEXT]",
      "Dead letters: messages that failed parsing or validation, kept whole with every reason.\n"
      "  list [--all] [--json]   pending ones (--all: resolved and dropped too)\n"
      "  show ID                 one, with its raw bytes, as JSON\n"
      "  retry ID | --all        re-map with the current adapters and mapping files; what now\n"
      "                          passes is appended and the dead letter marked resolved\n"
      "  drop ID [--reason TEXT] close it without appending; who and why are kept\n"
      "Exit 0 on success; 3 when a retry still fails; 1 for an unknown id or I/O error.",
      "waybill dlq retry --data-dir ./waybill-data 12"};
  std::string data_dir, action, id_text, reason, partners_file;
  std::vector<std::string> mapping_dirs;
  po::options_description options("options");
  AddCommonOptions(options, &data_dir);
  options.add_options()("action", po::value<std::string>(&action)->required(),
                        "list, show, retry or drop")("id", po::value<std::string>(&id_text),
                                                     "dead letter id")(
      "all", "list: every state; retry: every pending dead letter")(
      "json", "list: print a JSON array")("reason", po::value<std::string>(&reason),
                                          "drop: why, kept with the dead letter")(
      "partners", po::value<std::string>(&partners_file),
      "retry: partner profiles file (default: DIR/partners.json if present)")(
      "mappings", po::value<std::vector<std::string>>(&mapping_dirs),
      "retry: mapping-file directory (default: DIR/mappings if present); repeatable");
  po::positional_options_description positional;
  positional.add("action", 1).add("id", 1);
  po::variables_map vm;
  if (int rc = ParseCommandLine(argc, argv, spec, options, positional, &vm); rc >= 0) return rc;
  const bool all = vm.count("all") > 0;
  std::optional<std::uint64_t> id;
  if (!id_text.empty()) {
    id = ParseId(id_text);
    if (!id) {
      ReportError("dlq", "\"" + id_text + "\" is not a dead-letter id (a positive number)");
      return kExitUsage;
    }
  }
  if (action != "list" && action != "show" && action != "retry" && action != "drop") {
    ReportError("dlq", "unknown action \"" + action + "\"; use list, show, retry or drop");
    return kExitUsage;
  }
  if ((action == "show" || action == "drop" || (action == "retry" && !all)) && !id) {
    ReportError("dlq", action + " needs a dead-letter id" +
                           (action == "retry" ? std::string(" (or --all)") : ""));
    return kExitUsage;
  }

  const bool writes = action == "retry" || action == "drop";
  auto ledger = OpenLedgerOrReport(
      data_dir, writes ? ledger::OpenMode::kReadWrite : ledger::OpenMode::kReadOnly);
  if (!ledger) return kExitIoError;

  if (action == "show") {
    auto dl = ledger->GetDeadLetter(*id);
    if (!dl.ok()) {
      ReportError("dlq", dl.status().message());
      return kExitIoError;
    }
    std::cout << DeadLetterJson(*dl, true) << std::endl;
    return kExitOk;
  }
  if (action == "drop") {
    Status st = ingest::DropDeadLetter(*ledger, *id, LocalPrincipal(), reason);
    if (!st.ok()) {
      ReportError("dlq", st.message());
      return kExitIoError;
    }
    std::cout << "{\"dropped\":" << *id << "}" << std::endl;
    return kExitOk;
  }

  // list and retry --all walk the dead letters in id order.
  std::vector<ledger::DeadLetter> selected;
  if (action == "list" || all) {
    std::uint64_t after = 0;
    for (;;) {
      auto page = ledger->ListDeadLetters(after, 1000);
      if (!page.ok()) {
        ReportError("dlq", page.status().ToString());
        return kExitIoError;
      }
      if (page->empty()) break;
      after = page->back().id;
      for (auto& dl : *page) {
        if (dl.state == ledger::DeadLetterState::kPending || (action == "list" && all)) {
          selected.push_back(std::move(dl));
        }
      }
    }
  }
  if (action == "list") {
    if (vm.count("json")) {
      std::string out = "[";
      for (std::size_t i = 0; i < selected.size(); ++i) {
        if (i) out += ",\n";
        out += DeadLetterJson(selected[i], false);
      }
      std::cout << out << "]" << std::endl;
    } else {
      for (const auto& dl : selected) {
        std::cout << dl.id << "  " << ledger::ToString(dl.state) << "  "
                  << FormatUtc(dl.received_at) << "  " << dl.format
                  << (dl.partner ? "/" + *dl.partner : "") << "  " << dl.origin.value_or("")
                  << (dl.position ? " [" + *dl.position + "]" : "") << "  "
                  << (dl.reasons.empty() ? "" : dl.reasons.front()) << "\n";
      }
      if (selected.empty()) std::cerr << "no dead letters\n";
    }
    return kExitOk;
  }

  // retry
  auto config = ingest::LoadIntakeConfig(data_dir, partners_file, mapping_dirs);
  if (!config.ok()) {
    ReportError("dlq", config.status().ToString());
    return kExitIoError;
  }
  std::vector<std::uint64_t> ids;
  if (id) ids.push_back(*id);
  for (const auto& dl : selected) ids.push_back(dl.id);
  std::uint64_t resolved = 0, failing = 0, accepted = 0, duplicates = 0;
  for (std::uint64_t one : ids) {
    auto outcome =
        ingest::RetryDeadLetter(*ledger, one, config->adapters, config->profiles, LocalPrincipal());
    if (!outcome.ok()) {
      ReportError("dlq", outcome.status().message());
      return kExitIoError;
    }
    accepted += outcome->accepted;
    duplicates += outcome->duplicates;
    if (outcome->resolved) {
      ++resolved;
    } else {
      ++failing;
      for (const auto& r : outcome->reasons) {
        std::cerr << "dead letter " << one << " still fails: " << r << "\n";
      }
    }
  }
  std::cout << "{\"retried\":" << ids.size() << ",\"resolved\":" << resolved
            << ",\"still_failing\":" << failing << ",\"accepted\":" << accepted
            << ",\"duplicates\":" << duplicates << "}" << std::endl;
  return failing > 0 ? kExitRejected : kExitOk;
}

}  // namespace waybill::cli
