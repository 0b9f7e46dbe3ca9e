// Randomised model test: random appends (with duplicates, within and across batches, and
// reopenings) against a trivial std::map model; after every step the ledger must agree.
#include <doctest/doctest.h>

#include <map>
#include <random>

#include "ledger/ledger.h"
#include "schemas/event_codec.h"
#include "tests/test_util.h"

namespace waybill {

TEST_CASE("ledger agrees with a std::map model through random appends and reopens") {
  testing::TempDir dir;
  std::mt19937_64 rng(0xC0FFEE);
  struct Stored {
    std::uint64_t seq;
    Event event;
  };
  std::map<std::string, Stored> by_id;          // the model: id -> first stored
  std::map<std::uint64_t, std::string> by_seq;  // seq -> id
  std::unique_ptr<ledger::Ledger> ledger = std::move(ledger::Ledger::Open(dir.path())).value();
  std::uint64_t next_id = 0;

  for (int step = 0; step < 300; ++step) {
    if (rng() % 25 == 0) {
      ledger.reset();
      auto reopened = ledger::Ledger::Open(dir.path());
      REQUIRE(reopened.ok());
      ledger = std::move(reopened).value();
    }
    const int n = 1 + static_cast<int>(rng() % 40);
    std::vector<Event> events;
    for (int i = 0; i < n; ++i) {
      std::string id;
      if (!by_id.empty() && rng() % 5 == 0) {
        auto it = by_id.begin();
        std::advance(it, static_cast<long>(rng() % by_id.size()));
        id = it->first;  // duplicate of something stored
      } else if (!events.empty() && rng() % 10 == 0) {
        id = events[rng() % events.size()].event_id;  // duplicate within the batch
      } else {
        id = "id-" + std::to_string(next_id++);
      }
      Event e = testing::MakeMilestone(id, "S" + std::to_string(rng() % 13),
                                       static_cast<UnixNanos>(rng() % 1'000'000'000'000));
      e.status = static_cast<ShipmentStatus>(1 + rng() % 11);
      events.push_back(e);
    }
    ledger::AppendBatch batch;
    for (const auto& e : events) batch.events.push_back(ledger::PrepareEvent(e));
    auto r = ledger->Append(std::move(batch));
    REQUIRE(r.ok());
    // Model: the first occurrence of an unseen id gets the next sequence.
    std::uint64_t model_seq = by_seq.empty() ? 0 : by_seq.rbegin()->first;
    for (std::size_t i = 0; i < events.size(); ++i) {
      auto it = by_id.find(events[i].event_id);
      if (it == by_id.end()) {
        ++model_seq;
        by_id.emplace(events[i].event_id, Stored{model_seq, events[i]});
        by_seq.emplace(model_seq, events[i].event_id);
        CHECK_FALSE(r->events[i].duplicate);
        CHECK(r->events[i].seq == model_seq);
      } else {
        CHECK(r->events[i].duplicate);
        CHECK(r->events[i].seq == it->second.seq);
      }
    }
    CHECK(ledger->Head().seq == model_seq);
  }

  ledger.reset();
  ledger = std::move(ledger::Ledger::Open(dir.path())).value();
  // Whole log equals the model, in order, content for content.
  auto it = by_seq.begin();
  REQUIRE(ledger
              ->ReadRange(1, UINT64_MAX,
                          [&](const Event& e) {
                            REQUIRE(it != by_seq.end());
                            CHECK(e.ledger.seq == it->first);
                            Event content = e;
                            content.ledger = {};
                            CHECK(content == by_id.at(it->second).event);
                            ++it;
                            return true;
                          })
              .ok());
  CHECK(it == by_seq.end());
  // Per-shipment reads equal the model filtered by shipment.
  for (int s = 0; s < 13; ++s) {
    const std::string shipment = "S" + std::to_string(s);
    std::vector<std::uint64_t> expected;
    for (const auto& [seq, id] : by_seq) {
      if (by_id.at(id).event.shipment_id == shipment) expected.push_back(seq);
    }
    auto events = ledger->ReadShipment(shipment);
    REQUIRE(events.ok());
    std::vector<std::uint64_t> got;
    for (const auto& e : *events) got.push_back(e.ledger.seq);
    CHECK(got == expected);
  }
  auto report = ledger->Verify();
  REQUIRE(report.ok());
  CHECK(report->intact);
  CHECK(report->events == by_seq.size());
}

}  // namespace waybill
