#include "ledger/dead_letter_json.h"

#include "schemas/event_json.h"
#include "schemas/time.h"

namespace waybill::ledger {
namespace {

void AppendOptional(const char* key, const std::optional<std::string>& v, std::string* out) {
  if (!v) return;
  *out += ",\"";
  *out += key;
  *out += "\":";
  AppendJsonString(*v, out);
}

std::string Render(const DeadLetter& dl, std::uint64_t raw_bytes, bool with_raw) {
  std::string out = "{\"id\":" + std::to_string(dl.id) + ",\"state\":\"" +
                    std::string(ToString(dl.state)) + "\",\"received_at\":\"" +
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
  out += ",\"raw_bytes\":" + std::to_string(raw_bytes);
  if (with_raw) {
    out += ",\"raw\":";
    AppendJsonString(dl.raw, &out);
  }
  out += '}';
  return out;
}

}  // namespace

std::string DeadLetterJson(const DeadLetter& dl) { return Render(dl, dl.raw.size(), true); }

std::string DeadLetterSummaryJson(const DeadLetterSummary& summary) {
  return Render(summary.letter, summary.raw_bytes, false);
}

}  // namespace waybill::ledger
