// How far the projections and publishers are behind the log: for `waybill stats`.
// Thread-safety: any thread; works on a read-only ledger.
#pragma once

#include "ledger/ledger.h"
#include "projections/publisher.h"

namespace waybill::projections {

struct ProjectionStats {
  std::uint64_t checkpoint = 0;         // last ledger seq folded into the views
  std::uint64_t lag_events = 0;         // head - checkpoint
  std::uint64_t outbox_backlog = 0;     // view messages queued, not yet acknowledged
  std::uint64_t outbox_cursor = 0;      // last outbox entry published
  std::uint64_t event_feed_cursor = 0;  // last ledger seq published on waybill.events
  std::uint64_t event_feed_backlog = 0;
  PublisherHealth outbox_health, event_feed_health;
  // {"checkpoint":N,"lag_events":N,"outbox_backlog":N,...,"publishing":{...}}
  std::string ToJson() const;
};

[[nodiscard]] Result<ProjectionStats> ReadProjectionStats(const ledger::Ledger& ledger);

}  // namespace waybill::projections
