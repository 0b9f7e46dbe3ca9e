#include "cli/printers.h"

#include <simdjson.h>

#include <iostream>
#include <optional>

#include "cli/cli_common.h"
#include "schemas/event_json.h"

namespace waybill::cli {
namespace {

using simdjson::dom::element;

// The string at `key` of `obj`; nullopt when absent or not a string.
std::optional<std::string> Str(element obj, std::string_view key) {
  std::string_view s;
  if (obj[key].get(s) != simdjson::SUCCESS) return std::nullopt;
  return std::string(s);
}

std::optional<element> Obj(element obj, std::string_view key) {
  element e;
  if (obj[key].get(e) != simdjson::SUCCESS || !e.is_object()) return std::nullopt;
  return e;
}

std::uint64_t Uint(element obj, std::string_view key) {
  std::uint64_t v = 0;
  if (obj[key].get(v) != simdjson::SUCCESS) return 0;
  return v;
}

// Compact JSON of a nested value, its tokens unchanged.
std::string Compact(element e) { return simdjson::minify(e); }

}  // namespace

std::string HistoryLine(std::string_view event_json) {
  simdjson::dom::parser parser;
  element e;
  if (parser.parse(event_json.data(), event_json.size()).get(e) != simdjson::SUCCESS ||
      !e.is_object()) {
    return std::string(event_json);
  }
  std::string what;
  if (auto status = Str(e, "status")) what = *status;
  if (auto code = Str(e, "source_code")) what += (what.empty() ? "" : " ") + ("(" + *code + ")");
  if (auto reason = Str(e, "reason_code")) what += " reason " + *reason;
  if (auto estimate = Obj(e, "estimate")) {
    what = Str(*estimate, "of").value_or("") + " expected " +
           Str(*estimate, "estimated_at").value_or("");
  }
  if (auto charges = Obj(e, "charges")) {
    what = Str(*charges, "basis").value_or("") + " " + Str(*charges, "total").value_or("") + " " +
           Str(*charges, "currency").value_or("");
  }
  if (auto document = Obj(e, "document")) {
    auto number = Str(*document, "number");
    what = Str(*document, "type").value_or("") + (number ? " " + *number : "");
  }
  std::string where;
  if (auto l = Obj(e, "location")) {
    auto unlocode = Str(*l, "unlocode"), city = Str(*l, "city"), name = Str(*l, "name");
    auto country = Str(*l, "country");
    if (unlocode) {
      where = *unlocode;
    } else if (city) {
      where = *city + (country ? ", " + *country : "");
    } else if (name) {
      where = *name;
    }
  }
  // The ledger's sequence: top level in the canonical form, or under "ledger".
  std::uint64_t seq = Uint(e, "seq");
  if (seq == 0) {
    if (auto ledger = Obj(e, "ledger")) seq = Uint(*ledger, "seq");
  }
  std::string line = std::to_string(seq) + "  " + Str(e, "occurred_at").value_or("") + "  " +
                     Str(e, "kind").value_or("") + "  " + what;
  if (!where.empty()) line += "  @ " + where;
  std::string format, partner_suffix;
  if (auto source = Obj(e, "source")) {
    format = Str(*source, "format").value_or("");
    if (auto partner = Str(*source, "partner")) partner_suffix = "/" + *partner;
  }
  line += "  [" + format + partner_suffix + " " + Str(e, "event_id").value_or("") + "]";
  return line;
}

void PrintHistory(const std::vector<std::string>& events, const std::string& shipment, bool json) {
  if (json) {
    std::string out = "[";
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (i) out += ",\n";
      out += events[i];
    }
    out += "]\n";
    std::cout << out;
  } else if (events.empty()) {
    std::cerr << "no events for shipment \"" << shipment << "\"\n";
  } else {
    for (const auto& e : events) std::cout << HistoryLine(e) << "\n";
  }
}

void PrintViews(std::string_view views_json, bool json) {
  if (json) {
    std::cout << views_json << std::endl;
    return;
  }
  simdjson::dom::parser parser;
  element doc;
  simdjson::dom::object obj;
  if (parser.parse(views_json.data(), views_json.size()).get(doc) != simdjson::SUCCESS ||
      doc.get(obj) != simdjson::SUCCESS) {
    std::cout << views_json << "\n";
    return;
  }
  for (auto field : obj) {
    std::cout << field.key << ": ";
    std::string_view s;
    if (field.value.get(s) == simdjson::SUCCESS) {
      std::cout << s << "\n";
    } else {
      std::cout << Compact(field.value) << "\n";
    }
  }
}

std::string DeadLetterLine(std::string_view dead_letter_json) {
  simdjson::dom::parser parser;
  element dl;
  if (parser.parse(dead_letter_json.data(), dead_letter_json.size()).get(dl) != simdjson::SUCCESS ||
      !dl.is_object()) {
    return std::string(dead_letter_json);
  }
  auto partner = Str(dl, "partner"), position = Str(dl, "position");
  std::string first_reason;
  simdjson::dom::array reasons;
  if (dl["reasons"].get(reasons) == simdjson::SUCCESS && reasons.size() > 0) {
    std::string_view r;
    if (reasons.at(0).get(r) == simdjson::SUCCESS) first_reason = std::string(r);
  }
  return std::to_string(Uint(dl, "id")) + "  " + Str(dl, "state").value_or("") + "  " +
         Str(dl, "received_at").value_or("") + "  " + Str(dl, "format").value_or("") +
         (partner ? "/" + *partner : "") + "  " + Str(dl, "origin").value_or("") +
         (position ? " [" + *position + "]" : "") + "  " + first_reason;
}

void PrintDeadLetters(const std::vector<std::string>& dead_letters, bool json) {
  if (json) {
    std::string out = "[";
    for (std::size_t i = 0; i < dead_letters.size(); ++i) {
      if (i) out += ",\n";
      out += dead_letters[i];
    }
    std::cout << out << "]" << std::endl;
    return;
  }
  for (const auto& dl : dead_letters) std::cout << DeadLetterLine(dl) << "\n";
  if (dead_letters.empty()) std::cerr << "no dead letters\n";
}

void RetryTotals::Add(std::uint64_t id, bool ok, std::uint64_t added, std::uint64_t dups,
                      const std::vector<std::string>& reasons) {
  ++retried;
  accepted += added;
  duplicates += dups;
  if (ok) {
    ++resolved;
    return;
  }
  ++still_failing;
  for (const auto& r : reasons) std::cerr << "dead letter " << id << " still fails: " << r << "\n";
}

int RetryTotals::Print() const {
  std::cout << "{\"retried\":" << retried << ",\"resolved\":" << resolved
            << ",\"still_failing\":" << still_failing << ",\"accepted\":" << accepted
            << ",\"duplicates\":" << duplicates << "}" << std::endl;
  return still_failing > 0 ? kExitRejected : kExitOk;
}

int PrintVerify(const VerifyOutcome& v) {
  std::string out = "{\"events\":" + std::to_string(v.events);
  if (v.intact) {
    out +=
        ",\"head_seq\":" + std::to_string(v.head_seq) + ",\"head_hash\":\"" + v.head_hash + "\"}";
    std::cout << out << std::endl;
    return kExitOk;
  }
  out += ",\"first_broken_seq\":" + std::to_string(v.first_broken_seq) + ",\"reason\":";
  AppendJsonString(v.reason, &out);
  out += "}";
  std::cout << out << std::endl;
  ReportError("verify",
              "chain broken at sequence " + std::to_string(v.first_broken_seq) + ": " + v.reason);
  return kExitVerifyFailed;
}

int PrintImportSummary(const ingest::ImportSummary& summary, const Status& failure) {
  if (!failure.ok()) {
    ReportError("import", failure.ToString());
    std::cout << summary.ToJson() << std::endl;  // what did land
    return kExitIoError;
  }
  std::cout << summary.ToJson() << std::endl;
  for (const auto& r : summary.rejects) {
    std::cerr << r.origin;
    if (r.line != 0) std::cerr << ":" << r.line;
    if (!r.position.empty()) std::cerr << " [" << r.position << "]";
    std::cerr << ": rejected (dead letter " << r.dead_letter_id << "): " << r.reason << "\n";
  }
  return summary.rejected > 0 ? kExitRejected : kExitOk;
}

}  // namespace waybill::cli
