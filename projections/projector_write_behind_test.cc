// How the projection worker writes its views behind, against a real ledger (RocksDB in a temp
// dir): when changed views reach the store (an interval after they changed, a share per batch
// while the worker keeps up, all at once while it is behind), what views_through then says,
// and that readers, a restart and a rebuild of some views see every event all the same.
#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <set>
#include <string>

#include "projections/projection_test_util.h"
#include "projections/projector.h"
#include "projections/projector_test_util.h"
#include "projections/view_reader.h"
#include "tests/test_util.h"

namespace waybill::projections {
namespace {

using testing::AppendEvents;
using testing::CheckAgainstRebuild;
using testing::CheckVersionsGapless;
using testing::EventGenerator;
using testing::OpenLedger;
using testing::ReadOutbox;
using testing::SnapshotViews;
using waybill::testing::TempDir;

// The views of `id` encoded, as a fold of its events from scratch gives them.
std::map<int, std::string> FoldedFromScratch(const ledger::Ledger& ledger, const std::string& id) {
  auto folded = FoldShipment(ledger, id, [](const Event&) { return true; });
  REQUIRE(folded.ok());
  std::map<int, std::string> out;
  for (ViewKind kind : kAllViews) {
    if (const ShipmentView* v = folded->get(kind); v != nullptr) v->Encode(&out[int(kind)]);
  }
  return out;
}

std::map<int, std::string> Encoded(const ShipmentViews& views) {
  std::map<int, std::string> out;
  for (ViewKind kind : kAllViews) {
    if (const ShipmentView* v = views.get(kind); v != nullptr) v->Encode(&out[int(kind)]);
  }
  return out;
}

TEST_CASE("views are written behind; readers and a restart fold on top what the store lacks") {
  TempDir dir;
  auto ledger = OpenLedger(dir.path());
  EventGenerator gen(7, 10);
  AppendEvents(*ledger, gen, 300);
  ProjectorOptions options;
  options.batch_events = 32;
  options.views_write_interval = std::chrono::hours(1);  // never due during the test
  auto projector = Projector::Open(*ledger, options);
  REQUIRE(projector.ok());
  for (;;) {  // Step, not CatchUp: CatchUp stores the views at its end
    auto n = (*projector)->Step();
    REQUIRE(n.ok());
    if (*n == 0) break;
  }
  Checkpoint cp = (*projector)->checkpoint();
  CHECK(cp.last_seq == 300);
  CHECK(cp.views_through == 0);
  CHECK(SnapshotViews(*ledger).empty());  // every view still only in the worker's cache
  auto stored_cp = ReadCheckpoint(*ledger);
  REQUIRE(stored_cp.ok());
  CHECK(*stored_cp == cp);
  // Every version was emitted all the same, and every reader sees the whole log.
  CHECK(ReadOutbox(*ledger).size() == cp.next_outbox_seq - 1);
  CheckVersionsGapless(ReadOutbox(*ledger));
  for (int s = 0; s < 10; ++s) {
    const std::string id = "SHP-" + std::to_string(s);
    const auto want = FoldedFromScratch(*ledger, id);
    REQUIRE(want.size() == 3);
    auto live = (*projector)->ReadCurrentViews(id);
    REQUIRE(live.ok());
    CHECK_MESSAGE(Encoded(*live) == want, id);
    auto offline = ReadCurrentViews(*ledger, id);
    REQUIRE(offline.ok());
    CHECK_MESSAGE(Encoded(*offline) == want, id);
  }

  // A crash now: the worker goes away without storing its cache. The next one refolds the
  // events the store lacks, emits none of their versions again, and goes on after them.
  projector = Projector::Open(*ledger, options);
  REQUIRE(projector.ok());
  CHECK((*projector)->checkpoint() == cp);
  AppendEvents(*ledger, gen, 100);
  for (;;) {
    auto n = (*projector)->Step();
    REQUIRE(n.ok());
    if (*n == 0) break;
  }
  cp = (*projector)->checkpoint();
  CHECK(cp.last_seq == 400);
  // The restart stored what it refolded; the 100 new events wait in the cache again.
  CHECK(cp.views_through == 300);
  CHECK(ReadOutbox(*ledger).size() == cp.next_outbox_seq - 1);
  for (int s = 0; s < 10; ++s) {
    const std::string id = "SHP-" + std::to_string(s);
    auto live = (*projector)->ReadCurrentViews(id);
    REQUIRE(live.ok());
    CHECK_MESSAGE(Encoded(*live) == FoldedFromScratch(*ledger, id), id);
  }
  CheckAgainstRebuild(**projector, *ledger);  // stores, then: gapless, equal to a rebuild
  CHECK((*projector)->checkpoint().views_through == 400);

  // With an interval of 0 every batch's views are stored right after it.
  AppendEvents(*ledger, gen, 50);
  options.views_write_interval = std::chrono::milliseconds(0);
  projector = Projector::Open(*ledger, options);
  REQUIRE(projector.ok());
  auto n = (*projector)->Step();
  REQUIRE(n.ok());
  CHECK(*n == 32);
  CHECK((*projector)->checkpoint().views_through == 432);
}

// The stored views of `id` encoded (view -> bytes); empty when none is stored.
std::map<int, std::string> StoredViews(const ledger::Ledger& ledger, const std::string& id) {
  std::map<int, std::string> out;
  for (const auto& [key, value] : SnapshotViews(ledger)) {
    if (key.second == id) out[key.first] = value;
  }
  return out;
}

TEST_CASE("a changed view is written with the first batch an interval after it changed") {
  TempDir dir;
  auto ledger = OpenLedger(dir.path());
  EventGenerator gen(9, 3);
  auto append_for = [&](const std::string& shipment) {
    ledger::AppendBatch batch;
    for (int i = 0; i < 3; ++i) {
      Event e = gen.Next();
      e.shipment_id = shipment;
      batch.events.push_back(ledger::PrepareEvent(std::move(e)));
    }
    auto r = ledger->Append(std::move(batch));
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  };
  auto now = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  ProjectorOptions options;
  options.views_write_interval = std::chrono::seconds(10);
  options.clock = [&now] { return now; };
  auto projector = Projector::Open(*ledger, options);
  REQUIRE(projector.ok());
  auto step = [&](std::size_t want) {
    auto n = (*projector)->Step();
    REQUIRE(n.ok());
    CHECK(*n == want);
    auto stored = ReadCheckpoint(*ledger);
    REQUIRE(stored.ok());
    CHECK(*stored == (*projector)->checkpoint());
  };

  append_for("A");  // seqs 1-3, changed at 0 s
  step(3);
  now += std::chrono::seconds(5);
  append_for("B");  // seqs 4-6, changed at 5 s
  step(3);
  CHECK(SnapshotViews(*ledger).empty());
  CHECK((*projector)->checkpoint().views_through == 0);

  // At 11 s only A's views are due: they ride along with the batch of C's events.
  now += std::chrono::seconds(6);
  append_for("C");  // seqs 7-9
  step(3);
  CHECK(StoredViews(*ledger, "A") == FoldedFromScratch(*ledger, "A"));
  CHECK(StoredViews(*ledger, "B").empty());
  CHECK(StoredViews(*ledger, "C").empty());
  CHECK((*projector)->checkpoint().views_through == 3);  // B's changes start at 4

  // A changed again: written an interval after this change, not after its first.
  append_for("A");  // seqs 10-12, at 11 s
  step(3);
  now += std::chrono::seconds(5);  // 16 s: B's are due; the worker is idle
  step(0);
  CHECK(StoredViews(*ledger, "B") == FoldedFromScratch(*ledger, "B"));
  CHECK(StoredViews(*ledger, "C").empty());
  CHECK(StoredViews(*ledger, "A") != FoldedFromScratch(*ledger, "A"));
  CHECK((*projector)->checkpoint().views_through == 6);

  // A crash now: the restarted worker refolds after views_through and stores it all.
  projector = Projector::Open(*ledger, options);
  REQUIRE(projector.ok());
  step(0);
  CHECK((*projector)->checkpoint().views_through == 12);
  for (const std::string id : {"A", "B", "C"}) {
    CHECK_MESSAGE(StoredViews(*ledger, id) == FoldedFromScratch(*ledger, id), id);
  }

  // Without a crash, C's and A's views go at 26 s and 27 s, and the store is complete.
  append_for("C");  // seqs 13-15, at 16 s
  step(3);
  append_for("A");  // seqs 16-18
  now += std::chrono::seconds(1);
  step(3);
  now += std::chrono::seconds(9);  // 26 s: C's due, A's (17 s) not yet
  step(0);
  CHECK((*projector)->checkpoint().views_through == 15);
  CHECK(StoredViews(*ledger, "C") == FoldedFromScratch(*ledger, "C"));
  now += std::chrono::seconds(1);
  step(0);
  CHECK((*projector)->checkpoint().views_through == 18);
  for (const std::string id : {"A", "B", "C"}) {
    CHECK_MESSAGE(StoredViews(*ledger, id) == FoldedFromScratch(*ledger, id), id);
  }
  CheckAgainstRebuild(**projector, *ledger);

  // Behind (more events wait after the batch), the due views are written all at once, those
  // changed since included.
  options.batch_events = 3;
  projector = Projector::Open(*ledger, options);
  REQUIRE(projector.ok());
  append_for("A");  // seqs 19-21
  append_for("B");  // seqs 22-24
  append_for("C");  // seqs 25-27
  step(3);
  CHECK((*projector)->checkpoint().views_through == 18);
  now += std::chrono::seconds(10);
  step(3);  // A's change is due: B's, just made, is written with it
  CHECK((*projector)->checkpoint().views_through == 24);
  CHECK(StoredViews(*ledger, "B") == FoldedFromScratch(*ledger, "B"));
  step(3);  // caught up: C's change waits its interval
  CHECK((*projector)->checkpoint().views_through == 24);
  CHECK(StoredViews(*ledger, "C") != FoldedFromScratch(*ledger, "C"));
}

TEST_CASE("a burst of due views is written over the next batches, the oldest first") {
  TempDir dir;
  auto ledger = OpenLedger(dir.path());
  EventGenerator gen(10, 3);
  auto append_for = [&](int first, int count) {
    ledger::AppendBatch batch;
    for (int s = first; s < first + count; ++s) {
      Event e = gen.Next();
      e.shipment_id = "BURST-" + std::to_string(s);
      batch.events.push_back(ledger::PrepareEvent(std::move(e)));
    }
    auto r = ledger->Append(std::move(batch));
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  };
  auto now = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  ProjectorOptions options;
  options.batch_events = 8192;
  options.views_write_interval = std::chrono::seconds(10);
  options.clock = [&now] { return now; };
  auto projector = Projector::Open(*ledger, options);
  REQUIRE(projector.ok());
  append_for(0, 5000);  // seqs 1-5000: one change each, all due at once 10 s later
  REQUIRE((*projector)->Step().ok());
  now += std::chrono::seconds(10);
  append_for(5000, 1);  // seq 5001
  auto n = (*projector)->Step();
  REQUIRE(n.ok());
  CHECK(*n == 1);
  // 4,096 shipments a batch: the first 4,096 to change.
  CHECK((*projector)->checkpoint().views_through == 4096);
  auto stored_shipments = [&] {
    std::set<std::string> ids;
    for (const auto& [key, value] : SnapshotViews(*ledger)) ids.insert(key.second);
    return ids.size();
  };
  CHECK(stored_shipments() == 4096);
  CHECK(StoredViews(*ledger, "BURST-4095") == FoldedFromScratch(*ledger, "BURST-4095"));
  CHECK(StoredViews(*ledger, "BURST-4096").empty());
  n = (*projector)->Step();  // idle: the rest of the burst; seq 5001 is not due
  REQUIRE(n.ok());
  CHECK(*n == 0);
  CHECK((*projector)->checkpoint().views_through == 5000);
  CHECK(stored_shipments() == 5000);
  CHECK(StoredViews(*ledger, "BURST-4999") == FoldedFromScratch(*ledger, "BURST-4999"));
}

TEST_CASE("rebuilding some views keeps the others' changes the worker had not stored") {
  TempDir dir;
  auto ledger = OpenLedger(dir.path());
  EventGenerator gen(8, 6);
  AppendEvents(*ledger, gen, 240);
  ProjectorOptions options;
  options.batch_events = 40;
  options.views_write_interval = std::chrono::hours(1);
  auto projector = Projector::Open(*ledger, options);
  REQUIRE(projector.ok());
  auto step_all = [&] {
    for (;;) {
      auto n = (*projector)->Step();
      REQUIRE(n.ok());
      if (*n == 0) break;
    }
  };
  step_all();
  REQUIRE((*projector)->checkpoint().views_through == 0);
  // The status views are rebuilt and swapped in; the ETA and cost views existed only in the
  // cache, which the swap drops: they must be stored with it.
  const ViewKind status_only[] = {ViewKind::kStatus};
  REQUIRE((*projector)->Rebuild(status_only).ok());
  CHECK((*projector)->checkpoint().views_through == 240);
  CHECK(SnapshotViews(*ledger).size() == 3 * 6);

  AppendEvents(*ledger, gen, 120);
  step_all();
  // One shipment's ETA view refolded; its status and cost changes in the cache kept.
  const ViewKind eta_only[] = {ViewKind::kEta};
  REQUIRE((*projector)->RebuildShipment("SHP-2", eta_only).ok());
  for (int s = 0; s < 6; ++s) {
    const std::string id = "SHP-" + std::to_string(s);
    auto live = (*projector)->ReadCurrentViews(id);
    REQUIRE(live.ok());
    CHECK_MESSAGE(Encoded(*live) == FoldedFromScratch(*ledger, id), id);
  }
  CheckAgainstRebuild(**projector, *ledger);
}

}  // namespace
}  // namespace waybill::projections
