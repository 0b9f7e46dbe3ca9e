// Helpers for the projector's doctest suites (projector_test, outbox_resolver_test): a real
// ledger, generated events appended to it, and a message sink standing in for NATS.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "ledger/ledger.h"
#include "projections/projection_test_util.h"
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
