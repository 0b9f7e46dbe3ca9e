// Helpers for the projector's doctest suites (projector_test, projector_write_behind_test,
// outbox_resolver_test): a real ledger, generated events appended to it, checks of the
// outbox and the stored views against a rebuild, and a message sink standing in for NATS.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "ledger/ledger.h"
#include "projections/projection_test_util.h"
#include "projections/projector.h"
#include "projections/publisher.h"

namespace waybill::projections::testing {

inline std::unique_ptr<ledger::Ledger> OpenLedger(const std::string& dir) {
  auto l = ledger::Ledger::Open(dir);
  REQUIRE_MESSAGE(l.ok(), l.status().ToString());
  return std::move(l).value();
}

inline void AppendEvents(ledger::Ledger& ledger, EventGenerator& gen, int n) {
  ledger::AppendBatch batch;
  for (int i = 0; i < n; ++i) batch.events.push_back(ledger::PrepareEvent(gen.Next()));
  auto r = ledger.Append(std::move(batch));
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
}

// Every outbox entry as the publisher would send it (REQUIREd readable).
inline std::vector<OutMessage> ReadOutbox(const ledger::Ledger& ledger) {
  auto entries = ReadOutboxEntries(ledger);
  REQUIRE(entries.has_value());
  return *entries;
}

// Versions per (view, shipment) in outbox order must be exactly 1, 2, 3, ...: nothing
// applied twice, nothing skipped.
inline void CheckVersionsGapless(const std::vector<OutMessage>& messages) {
  const std::string gaps = ViewVersionGaps(messages);
  CHECK_MESSAGE(gaps.empty(), gaps);
}

// Every view version is in the outbox once, in order, and the stored views (once the worker
// stored what it holds) are byte for byte what a rebuild folds from the log. Returns them.
inline std::map<std::pair<int, std::string>, std::string> CheckAgainstRebuild(
    Projector& projector, ledger::Ledger& ledger) {
  CheckVersionsGapless(ReadOutbox(ledger));
  REQUIRE(projector.StoreViews().ok());
  auto incremental = SnapshotViews(ledger);
  REQUIRE(projector.Rebuild(kAllViews).ok());
  CHECK(SnapshotViews(ledger) == incremental);
  return incremental;
}

// A sink that records what it was given and can be told to fail or to ack only a prefix.
class FakeSink : public MessageSink {
 public:
  Result<std::size_t> PublishOrdered(const std::vector<OutMessage>& messages) override {
    std::lock_guard<std::mutex> lock(mu);
    if (down) return Status::IoError("fake NATS is down");
    const std::size_t n = std::min(messages.size(), max_ack);
    for (std::size_t i = 0; i < n; ++i) {
      if (seen_ids.insert(messages[i].msg_id).second) received.push_back(messages[i]);
    }
    return n;
  }
  std::mutex mu;
  bool down = false;
  std::size_t max_ack = SIZE_MAX;
  std::set<std::string> seen_ids;  // JetStream's duplicate window, forever
  std::vector<OutMessage> received;
};

}  // namespace waybill::projections::testing
