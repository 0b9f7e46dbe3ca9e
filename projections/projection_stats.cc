#include "projections/projection_stats.h"

#include "projections/store_layout.h"
#include "projections/view_reader.h"
#include "schemas/event_json.h"
#include "schemas/time.h"

namespace waybill::projections {
namespace {

Result<std::uint64_t> ReadCursor(const ledger::Ledger& ledger, std::string_view key) {
  auto bytes = ledger.GetAux(ledger::AuxSpace::kViews, key);
  if (!bytes.ok()) {
    if (bytes.status().code() == ErrorCode::kNotFound) return std::uint64_t{0};
    return bytes.status();
  }
  return DecodeU64(*bytes, "publisher cursor");
}

void AppendHealth(const char* name, const PublisherHealth& h, std::string* out) {
  out->append("\"");
  out->append(name);
  out->append("\":{\"state\":");
  out->append(h.failing ? "\"failing\"" : "\"ok\"");
  if (h.since != 0) {
    out->append(",\"since\":");
    AppendJsonString(FormatUtc(h.since), out);
  }
  if (h.failing) {
    out->append(",\"error\":");
    AppendJsonString(h.error, out);
  }
  out->push_back('}');
}

}  // namespace

Result<ProjectionStats> ReadProjectionStats(const ledger::Ledger& ledger) {
  ProjectionStats s;
  auto checkpoint = ReadCheckpoint(ledger);
  if (!checkpoint.ok()) return checkpoint.status();
  const std::uint64_t head = ledger.Head().seq;
  s.checkpoint = checkpoint->last_seq;
  s.lag_events = head > s.checkpoint ? head - s.checkpoint : 0;
  auto outbox = ReadCursor(ledger, kOutboxCursorKey);
  if (!outbox.ok()) return outbox.status();
  s.outbox_cursor = *outbox;
  const std::uint64_t last_entry = checkpoint->next_outbox_seq - 1;
  s.outbox_backlog = last_entry > s.outbox_cursor ? last_entry - s.outbox_cursor : 0;
  auto feed = ReadCursor(ledger, kEventFeedCursorKey);
  if (!feed.ok()) return feed.status();
  s.event_feed_cursor = *feed;
  s.event_feed_backlog = head > s.event_feed_cursor ? head - s.event_feed_cursor : 0;
  auto oh = ReadPublisherHealth(ledger, Publisher::Source::kOutbox);
  if (!oh.ok()) return oh.status();
  s.outbox_health = *oh;
  auto eh = ReadPublisherHealth(ledger, Publisher::Source::kEventFeed);
  if (!eh.ok()) return eh.status();
  s.event_feed_health = *eh;
  return s;
}

std::string ProjectionStats::ToJson() const {
  std::string out = "{\"checkpoint\":" + std::to_string(checkpoint) +
                    ",\"lag_events\":" + std::to_string(lag_events) +
                    ",\"outbox_backlog\":" + std::to_string(outbox_backlog) +
                    ",\"outbox_cursor\":" + std::to_string(outbox_cursor) +
                    ",\"event_feed_cursor\":" + std::to_string(event_feed_cursor) +
                    ",\"event_feed_backlog\":" + std::to_string(event_feed_backlog) +
                    ",\"publishing\":{";
  AppendHealth("views", outbox_health, &out);
  out.push_back(',');
  AppendHealth("events", event_feed_health, &out);
  out.append("}}");
  return out;
}

}  // namespace waybill::projections
