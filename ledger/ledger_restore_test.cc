// The chain-restore contract of the write path (PreparedEvent::expected), against real
// RocksDB: events land exactly at the positions another ledger recorded, or not at all.
#include <doctest/doctest.h>

#include <algorithm>
#include <future>

#include "ledger/ledger.h"
#include "ledger/ledger_test_util.h"
#include "ledger/record_format.h"
#include "tests/test_util.h"

namespace waybill::ledger {
namespace {

// An event read back from a ledger, prepared to be restored at the position it holds there.
PreparedEvent Restoring(const Event& stored) {
  PreparedEvent p = PrepareEvent(stored);
  p.expected = ExpectedPosition{stored.ledger.seq, stored.ledger.recorded_at, stored.ledger.hash};
  return p;
}

AppendBatch RestoreBatch(const std::vector<Event>& stored) {
  AppendBatch b;
  for (const auto& e : stored) b.events.push_back(Restoring(e));
  return b;
}

// Events 1..n of a source ledger written at three different clock times, so the restored
// recorded_at values really come from the input and not from the restoring ledger's clock.
std::vector<Event> SourceChain(const std::string& dir, int n) {
  ManualClock clock(kT0);
  LedgerOptions options;
  options.clock = &clock;
  auto source = OpenOrDie(dir, options);
  for (int i = 0; i < n; i += 2) {  // two events per group commit, a second apart
    clock.Advance(1'000'000'000);
    AppendBatch b;
    for (int j = i; j < std::min(n, i + 2); ++j) {
      b.events.push_back(PrepareEvent(
          testing::MakeMilestone("e" + std::to_string(j), "S" + std::to_string(j % 3), kT0 + j)));
    }
    REQUIRE(source->Append(std::move(b)).ok());
  }
  std::vector<Event> events;
  REQUIRE(source
              ->ReadRange(1, UINT64_MAX,
                          [&](const Event& e) {
                            events.push_back(e);
                            return true;
                          })
              .ok());
  REQUIRE(events.size() == static_cast<std::size_t>(n));
  return events;
}

void CheckRefused(Ledger& ledger, AppendBatch batch, const std::string& needle) {
  const LedgerHead before = ledger.Head();
  auto r = ledger.Append(std::move(batch));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == ErrorCode::kInvalidArgument);
  CHECK_MESSAGE(r.status().message().find(needle) != std::string::npos, r.status().message());
  CHECK(ledger.Head().seq == before.seq);
  CHECK(ledger.Head().hash == before.hash);
}

}  // namespace

TEST_CASE("a restore reproduces the source chain exactly, in pieces and across reopen") {
  testing::TempDir src_dir, dst_dir;
  const auto source = SourceChain(src_dir.path(), 6);
  {
    // The restoring ledger's clock is far away: restored recorded_at must not come from it.
    ManualClock clock(kT0 + 1'000'000'000'000);
    LedgerOptions options;
    options.clock = &clock;
    auto ledger = OpenOrDie(dst_dir.path(), options);
    auto r = ledger->Append(RestoreBatch({source.begin(), source.begin() + 4}));
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    REQUIRE(r->events.size() == 4);
    for (std::size_t i = 0; i < 4; ++i) {
      CHECK(r->events[i].seq == i + 1);
      CHECK_FALSE(r->events[i].duplicate);
    }
  }
  auto ledger = OpenOrDie(dst_dir.path());
  REQUIRE(ledger->Append(RestoreBatch({source.begin() + 4, source.end()})).ok());
  CHECK(ledger->Head().seq == 6);
  CHECK(ledger->Head().hash == source.back().ledger.hash);
  CHECK(ledger->Head().recorded_at == source.back().ledger.recorded_at);
  for (const auto& want : source) {
    auto got = ledger->Get(want.ledger.seq);
    REQUIRE(got.ok());
    CHECK(*got == want);
  }
  auto report = ledger->Verify();
  REQUIRE(report.ok());
  CHECK(report->intact);
  CHECK(report->events == 6);

  // Normal appends go on from the restored head, never before its recorded_at.
  AppendBatch next;
  next.events.push_back(PrepareEvent(testing::MakeMilestone("after", "S9", kT0)));
  auto appended = ledger->Append(std::move(next));
  REQUIRE(appended.ok());
  CHECK(appended->events[0].seq == 7);
  auto seven = ledger->Get(7);
  REQUIRE(seven.ok());
  CHECK(seven->ledger.prev_hash == source.back().ledger.hash);
  CHECK(seven->ledger.recorded_at >= source.back().ledger.recorded_at);
}

TEST_CASE("restore rules: each violation fails the whole request and stores nothing") {
  testing::TempDir src_dir, dst_dir;
  const auto source = SourceChain(src_dir.path(), 4);
  auto ledger = OpenOrDie(dst_dir.path());

  SUBCASE("a gap: the first event is not the next sequence") {
    CheckRefused(*ledger, RestoreBatch({source[1], source[2]}),
                 "restore of seq 2: the next sequence of this ledger is 1");
  }
  SUBCASE("a wrong hash, late in the batch: nothing of the batch is stored") {
    AppendBatch b = RestoreBatch(source);
    b.events[2].expected->hash[5] ^= 1;
    CheckRefused(*ledger, std::move(b), "restore of seq 3: the event hashes to");
  }
  SUBCASE("content changed by one byte") {
    Event tampered = source[1];
    tampered.shipment_id += "X";
    CheckRefused(*ledger, RestoreBatch({source[0], tampered}), "restore of seq 2");
  }
  SUBCASE("recorded_at going backwards, even with a self-consistent hash") {
    AppendBatch b = RestoreBatch({source[0], source[1]});
    ExpectedPosition& second = *b.events[1].expected;
    second.recorded_at = source[0].ledger.recorded_at - 1;
    second.hash =
        ChainHash(2, second.recorded_at, source[0].ledger.hash, b.events[1].content_digest);
    CheckRefused(*ledger, std::move(b), "restore of seq 2: recorded_at");
  }
  SUBCASE("a duplicate event id, within the batch or already stored") {
    AppendBatch b = RestoreBatch({source[0]});
    PreparedEvent twin = PrepareEvent(source[0]);
    twin.expected = ExpectedPosition{
        2, source[0].ledger.recorded_at,
        ChainHash(2, source[0].ledger.recorded_at, source[0].ledger.hash, twin.content_digest)};
    b.events.push_back(twin);
    CheckRefused(*ledger, b, "restore of seq 2: event id \"e0\" is already earlier");
    REQUIRE(ledger->Append(RestoreBatch({source[0]})).ok());
    AppendBatch again;
    again.events.push_back(twin);
    CheckRefused(*ledger, std::move(again), "event id \"e0\" is already in the ledger");
  }
  SUBCASE("a batch mixing positioned and unpositioned events") {
    AppendBatch b = RestoreBatch({source[0]});
    b.events.push_back(PrepareEvent(testing::MakeMilestone("plain", "S1", kT0)));
    CheckRefused(*ledger, std::move(b), "mixes events with and without");
  }
  SUBCASE("dead letters in a restore batch") {
    AppendBatch b = RestoreBatch({source[0]});
    b.dead_letters.emplace_back();
    CheckRefused(*ledger, std::move(b), "cannot carry dead letters");
  }
  CHECK(ledger->Verify().ok());
}

TEST_CASE("a refused restore fails alone: concurrent normal appends are stored") {
  testing::TempDir src_dir, dst_dir;
  const auto source = SourceChain(src_dir.path(), 2);
  auto ledger = OpenOrDie(dst_dir.path());
  std::vector<std::future<Result<AppendResult>>> normal;
  std::promise<Result<AppendResult>> restore_done;
  auto restore_future = restore_done.get_future();
  for (int i = 0; i < 20; ++i) {
    if (i == 10) {
      AppendBatch bad = RestoreBatch({source[1]});  // seq 2 can never be next here
      ledger->AppendAsync(std::move(bad),
                          [&](Result<AppendResult> r) { restore_done.set_value(std::move(r)); });
    }
    auto p = std::make_shared<std::promise<Result<AppendResult>>>();
    normal.push_back(p->get_future());
    AppendBatch b;
    b.events.push_back(
        PrepareEvent(testing::MakeMilestone("n" + std::to_string(i), "S1", kT0 + i)));
    ledger->AppendAsync(std::move(b), [p](Result<AppendResult> r) { p->set_value(std::move(r)); });
  }
  for (auto& f : normal) CHECK(f.get().ok());
  auto refused = restore_future.get();
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message().find("restore of seq 2") != std::string::npos);
  CHECK(ledger->Head().seq == 20);
  auto report = ledger->Verify();
  REQUIRE(report.ok());
  CHECK(report->intact);
}

}  // namespace waybill::ledger
