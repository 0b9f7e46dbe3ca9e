#include "ingest/import_summary.h"

#include <algorithm>

#include "schemas/event_json.h"

namespace waybill::ingest {

void ImportSummary::Merge(const ImportSummary& other) {
  accepted += other.accepted;
  duplicates += other.duplicates;
  rejected += other.rejected;
  rejects.insert(rejects.end(), other.rejects.begin(), other.rejects.end());
  events.insert(events.end(), other.events.begin(), other.events.end());
  if (other.first_seq != 0) {
    first_seq = first_seq == 0 ? other.first_seq : std::min(first_seq, other.first_seq);
  }
  last_seq = std::max(last_seq, other.last_seq);
}

std::string ImportSummary::ToJson() const {
  std::string out = "{\"accepted\":" + std::to_string(accepted) +
                    ",\"duplicates\":" + std::to_string(duplicates) +
                    ",\"rejected\":" + std::to_string(rejected);
  if (!rejects.empty()) {
    out += ",\"rejects\":[";
    for (std::size_t i = 0; i < rejects.size(); ++i) {
      const Reject& r = rejects[i];
      if (i) out += ',';
      out += "{\"file\":";
      AppendJsonString(r.origin, &out);
      out += ",\"line\":" + std::to_string(r.line);
      if (!r.position.empty()) {
        out += ",\"position\":";
        AppendJsonString(r.position, &out);
      }
      out += ",\"reason\":";
      AppendJsonString(r.reason, &out);
      out += ",\"dead_letter_id\":" + std::to_string(r.dead_letter_id) + "}";
    }
    out += ']';
  }
  out += '}';
  return out;
}

}  // namespace waybill::ingest
