// The projection machinery against a real ledger (RocksDB in a temp dir): incremental
// folding, checkpoints across restarts, rebuild (offline and online) equal to incremental
// byte for byte, republish, and the publisher with a fake sink.
#include "projections/projector.h"

#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "projections/outbox.h"
#include "projections/projection_stats.h"
#include "projections/projection_test_util.h"
#include "projections/projector_test_util.h"
#include "projections/publisher.h"
#include "projections/view_reader.h"
#include "tests/test_util.h"

namespace waybill::projections {
namespace {

using testing::AppendEvents;
using testing::EventGenerator;
using testing::FakeSink;
using testing::OpenLedger;
using testing::SnapshotViews;
using waybill::testing::TempDir;

std::vector<OutMessage> ReadOutbox(const ledger::Ledger& ledger) {
  auto entries = testing::ReadOutboxEntries(ledger);
  REQUIRE(entries.has_value());
  return *entries;
}

// Versions per (view, shipment) in outbox order must be exactly 1, 2, 3, ...: nothing
// applied twice, nothing skipped.
void CheckVersionsGapless(const std::vector<OutMessage>& messages) {
  const std::string gaps = testing::ViewVersionGaps(messages);
  CHECK_MESSAGE(gaps.empty(), gaps);
}

// Every view version is in the outbox once, in order, and the stored views (once the worker
// stored what it holds) are byte for byte what a rebuild folds from the log. Returns them.
std::map<std::pair<int, std::string>, std::string> CheckAgainstRebuild(Projector& projector,
                                                                       ledger::Ledger& ledger) {
  CheckVersionsGapless(ReadOutbox(ledger));
  REQUIRE(projector.StoreViews().ok());
  auto incremental = SnapshotViews(ledger);
  REQUIRE(projector.Rebuild(kAllViews).ok());
  CHECK(SnapshotViews(ledger) == incremental);
  return incremental;
}

}  // namespace

TEST_CASE("incremental folding writes views, outbox entries and the checkpoint together") {
  TempDir dir;
  auto ledger = OpenLedger(dir.path());
  EventGenerator gen(1, 20);
  AppendEvents(*ledger, gen, 500);
  ProjectorOptions options;
  options.batch_events = 64;
  auto projector = Projector::Open(*ledger, options);
  REQUIRE(projector.ok());
  auto upto = (*projector)->CatchUp();
  REQUIRE(upto.ok());
  CHECK(*upto == 500);
  CHECK((*projector)->checkpoint().last_seq == 500);

  auto outbox = ReadOutbox(*ledger);
  CHECK(outbox.size() == (*projector)->checkpoint().next_outbox_seq - 1);
  CheckVersionsGapless(outbox);

  // The stored views are what a fold of each shipment's events from scratch gives.
  for (int s = 0; s < 20; ++s) {
    const std::string id = "SHP-" + std::to_string(s);
    auto folded = FoldShipment(*ledger, id, [](const Event&) { return true; });
    REQUIRE(folded.ok());
    for (ViewKind kind : kAllViews) {
      auto stored = (*projector)->ReadView(kind, id);
      REQUIRE(stored.ok());
      REQUIRE(*stored != nullptr);
      std::string a, b;
      (*stored)->Encode(&a);
      folded->get(kind)->Encode(&b);
      CHECK_MESSAGE(a == b, "view " << ToString(kind) << " of " << id);
      // The last outbox message of the view carries its current JSON.
      std::string json;
      (*stored)->AppendJson(&json);
      const std::string msg_id = ViewMsgId(kind, id, (*stored)->version());
      auto it = std::find_if(outbox.rbegin(), outbox.rend(),
                             [&](const OutMessage& m) { return m.msg_id == msg_id; });
      REQUIRE(it != outbox.rend());
      CHECK(it->payload == json);
      CHECK(it->subject == ViewSubject(kind, (*stored)->customer_id(), id));
    }
  }
  // The batched read gives what the one-view reads give; an unknown shipment comes back empty.
  std::array<std::uint32_t, 3> gens{};
  std::vector<std::string> ids = {"SHP-3", "NO-SUCH-SHIPMENT", "SHP-0", "SHP-19"};
  for (int i = 0; i < 3; ++i) {
    auto g = ReadActiveGeneration(*ledger, kAllViews[i]);
    REQUIRE(g.ok());
    gens[i] = *g;
  }
  auto batch = ReadStoredViews(*ledger, gens, ids);
  REQUIRE(batch.ok());
  REQUIRE(batch->size() == ids.size());
  CHECK((*batch)[1].empty());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    for (int k = 0; k < 3; ++k) {
      auto one = ReadStoredView(*ledger, kAllViews[k], gens[k], ids[i]);
      REQUIRE(one.ok());
      const ShipmentView* got = (*batch)[i].get(kAllViews[k]);
      REQUIRE((got == nullptr) == (*one == nullptr));
      if (got == nullptr) continue;
      std::string a, b;
      got->Encode(&a);
      (*one)->Encode(&b);
      CHECK_MESSAGE(a == b, "view " << ToString(kAllViews[k]) << " of " << ids[i]);
    }
  }
  CHECK((*batch)[0].get(ViewKind::kStatus) != nullptr);

  auto stats = ReadProjectionStats(*ledger);
  REQUIRE(stats.ok());
  CHECK(stats->checkpoint == 500);
  CHECK(stats->lag_events == 0);
  CHECK(stats->outbox_backlog == outbox.size());
}

TEST_CASE("with emit_outbox off the views are stored and the outbox stays empty") {
  TempDir dir;
  auto ledger = OpenLedger(dir.path());
  EventGenerator gen(2, 10);
  AppendEvents(*ledger, gen, 200);
  ProjectorOptions options;
  options.batch_events = 64;
  options.emit_outbox = false;
  auto projector = Projector::Open(*ledger, options);
  REQUIRE(projector.ok());
  auto upto = (*projector)->CatchUp();
  REQUIRE(upto.ok());
  CHECK(*upto == 200);
  CHECK(ReadOutbox(*ledger).empty());
  CHECK((*projector)->checkpoint().next_outbox_seq == 1);
  auto stored = (*projector)->ReadView(ViewKind::kStatus, "SHP-0");
  REQUIRE(stored.ok());
  REQUIRE(*stored != nullptr);
  CHECK((*stored)->version() > 0);
  auto stats = ReadProjectionStats(*ledger);
  REQUIRE(stats.ok());
  CHECK(stats->outbox_backlog == 0);
}

TEST_CASE("rebuild equals incremental byte for byte, after random ingest with restarts") {
  TempDir dir;
  EventGenerator gen(7, 40);
  std::mt19937 rng(7);
  for (int round = 0; round < 6; ++round) {
    auto ledger = OpenLedger(dir.path());
    AppendEvents(*ledger, gen, 150 + static_cast<int>(rng() % 200));
    ProjectorOptions options;
    options.batch_events = 1 + rng() % 97;
    options.cache_shipments = 1 + rng() % 30;  // evictions: views go through the store
    auto projector = Projector::Open(*ledger, options);
    REQUIRE(projector.ok());
    // Stop part-way through some rounds: the next round resumes from the checkpoint.
    const int steps = round % 2 == 0 ? 1000000 : 3;
    for (int i = 0; i < steps; ++i) {
      auto n = (*projector)->Step();
      REQUIRE(n.ok());
      if (*n == 0) break;
    }
  }
  auto ledger = OpenLedger(dir.path());
  auto projector = Projector::Open(*ledger);
  REQUIRE(projector.ok());
  REQUIRE((*projector)->CatchUp().ok());
  CheckVersionsGapless(ReadOutbox(*ledger));
  const auto incremental = SnapshotViews(*ledger);
  CHECK(incremental.size() == 3 * 40);

  REQUIRE((*projector)->Rebuild(kAllViews).ok());
  const auto rebuilt = SnapshotViews(*ledger);
  CHECK(rebuilt.size() == incremental.size());
  CHECK(rebuilt == incremental);

  // Scoped: one view, one shipment.
  const ViewKind status[] = {ViewKind::kStatus};
  REQUIRE((*projector)->Rebuild(status).ok());
  REQUIRE((*projector)->RebuildShipment("SHP-3", kAllViews).ok());
  CHECK(SnapshotViews(*ledger) == incremental);
  auto gen_status = ReadActiveGeneration(*ledger, ViewKind::kStatus);
  REQUIRE(gen_status.ok());
  CHECK(*gen_status == 2);
}

TEST_CASE("the worker's cache stays under its byte budget and folds on from the store") {
  // With the default budget, 20 shipments' views all stay, and the figures count them.
  TempDir roomy_dir;
  std::size_t all_bytes = 0;
  {
    auto ledger = OpenLedger(roomy_dir.path());
    EventGenerator gen(5, 20);
    AppendEvents(*ledger, gen, 800);
    auto roomy = Projector::Open(*ledger);
    REQUIRE(roomy.ok());
    REQUIRE((*roomy)->CatchUp().ok());
    const Projector::CacheFigures all = (*roomy)->cache();
    CHECK(all.shipments == 20);
    all_bytes = all.bytes;
    REQUIRE(all_bytes > 0);
  }

  // The same workload with a quarter of that: when the views outgrow it, the shipments least
  // recently folded into are dropped, not the whole cache.
  TempDir dir;
  auto ledger = OpenLedger(dir.path());
  EventGenerator gen(5, 20);
  AppendEvents(*ledger, gen, 800);
  ProjectorOptions options;
  options.batch_events = 40;
  options.cache_bytes = all_bytes / 4;
  auto projector = Projector::Open(*ledger, options);
  REQUIRE(projector.ok());
  int dropped = 0, kept = 0;
  std::size_t before = 0;
  for (;;) {
    auto n = (*projector)->Step();
    REQUIRE(n.ok());
    if (*n == 0) break;
    const Projector::CacheFigures cache = (*projector)->cache();
    CHECK(cache.bytes <= options.cache_bytes);
    CHECK(cache.shipments > 0);
    (cache.shipments < before ? dropped : kept) += 1;
    before = cache.shipments;
  }
  CHECK(dropped > 0);  // the budget was reached ...
  CHECK(kept > 0);     // ... and not on every batch
  // Folding on from the store gave the views a rebuild gives, every version published.
  CHECK(CheckAgainstRebuild(**projector, *ledger).size() == 3 * 20);
}

TEST_CASE("the worker's cache keeps the shipments it folded into last") {
  TempDir dir;
  auto ledger = OpenLedger(dir.path());
  ProjectorOptions options;
  options.cache_shipments = 10;
  auto projector = Projector::Open(*ledger, options);
  REQUIRE(projector.ok());
  int n = 0;
  auto fold_one = [&](const std::string& shipment) {
    ledger::AppendBatch batch;
    ++n;
    batch.events.push_back(ledger::PrepareEvent(waybill::testing::MakeMilestone(
        "e" + std::to_string(n), shipment, 1'700'000'000'000'000'000 + n)));
    REQUIRE(ledger->Append(std::move(batch)).ok());
    auto folded = (*projector)->Step();
    REQUIRE(folded.ok());
    REQUIRE(*folded == 1);
    return (*projector)->cache().shipments;
  };
  for (int i = 0; i < 10; ++i) fold_one("S" + std::to_string(i));
  CHECK((*projector)->cache().shipments == 10);
  // An eleventh is over the bound: down to 90% of it, the least recently folded (S0, S1) out.
  CHECK(fold_one("S10") == 9);
  CHECK(fold_one("S2") == 9);   // still cached
  CHECK(fold_one("S0") == 10);  // read back from the store
  // Views folded on from the store are the ones a rebuild gives, every version published.
  CHECK(CheckAgainstRebuild(**projector, *ledger).size() == 3 * 11);
}

TEST_CASE("a rebuild keeps its folds within the byte budget too") {
  TempDir dir;
  auto ledger = OpenLedger(dir.path());
  EventGenerator gen(13, 20);
  AppendEvents(*ledger, gen, 1500);
  ProjectorOptions options;
  options.rebuild_batch_events = 100;
  auto projector = Projector::Open(*ledger, options);
  REQUIRE(projector.ok());
  REQUIRE((*projector)->CatchUp().ok());
  const auto incremental = SnapshotViews(*ledger);
  // Within the default budgets nothing spills.
  REQUIRE((*projector)->Rebuild(kAllViews).ok());
  CHECK((*projector)->rebuild_spills() == 0);
  CHECK(SnapshotViews(*ledger) == incremental);

  // 20 shipments are far under the shipment bound; 8 KiB of views is not.
  ProjectorOptions tight = options;
  tight.cache_bytes = 8 << 10;
  auto small = Projector::Open(*ledger, tight);
  REQUIRE(small.ok());
  REQUIRE((*small)->Rebuild(kAllViews).ok());
  CHECK((*small)->rebuild_spills() > 0);
  CHECK(SnapshotViews(*ledger) == incremental);
}

// The three views of `id` encoded, in kAllViews order ("-" for a view the shipment has not).
std::string EncodedViews(const ShipmentViews& views) {
  std::string out;
  for (ViewKind kind : kAllViews) {
    if (const ShipmentView* v = views.get(kind)) {
      v->Encode(&out);
    } else {
      out.push_back('-');
    }
    out.push_back('|');
  }
  return out;
}

TEST_CASE(
    "the worker's current views: its checkpoint and generations, events past them folded on top") {
  TempDir dir;
  auto ledger = OpenLedger(dir.path());
  EventGenerator gen(21, 12);
  AppendEvents(*ledger, gen, 400);
  ProjectorOptions options;
  options.batch_events = 100;
  auto projector = Projector::Open(*ledger, options);
  REQUIRE(projector.ok());
  REQUIRE((*projector)->Step().ok());  // folded 1..100 of 400
  REQUIRE((*projector)->checkpoint().last_seq == 100);
  auto all = [](const Event&) { return true; };
  for (int round = 0; round < 2; ++round) {
    for (int s = 0; s < 12; ++s) {
      const std::string id = "SHP-" + std::to_string(s);
      auto current = (*projector)->ReadCurrentViews(id);
      REQUIRE_MESSAGE(current.ok(), current.status().ToString());
      auto folded = FoldShipment(*ledger, id, all);
      REQUIRE(folded.ok());
      CHECK_MESSAGE(EncodedViews(*current) == EncodedViews(*folded), id << " round " << round);
      auto from_store = ReadCurrentViews(*ledger, id);
      REQUIRE(from_store.ok());
      CHECK(EncodedViews(*current) == EncodedViews(*from_store));
    }
    // After a rebuild the views live in new generations, which the worker's read must follow.
    REQUIRE((*projector)->Rebuild(kAllViews).ok());
  }
  auto unknown = (*projector)->ReadCurrentViews("SHP-none");
  REQUIRE(unknown.ok());
  CHECK(unknown->empty());
}

TEST_CASE("a rebuild while the worker runs swaps atomically; queries keep answering") {
  TempDir dir;
  auto ledger = OpenLedger(dir.path());
  EventGenerator gen(11, 30);
  AppendEvents(*ledger, gen, 2000);
  ProjectorOptions options;
  options.batch_events = 50;
  options.rebuild_batch_events = 100;
  options.cache_shipments = 10;  // the shadow spills to the store during the rebuild
  auto projector = Projector::Open(*ledger, options);
  REQUIRE(projector.ok());
  REQUIRE((*projector)->CatchUp().ok());

  std::atomic<bool> done{false};
  std::atomic<int> missing{0}, queries{0};
  std::jthread worker([&](std::stop_token s) { (*projector)->Run(s, [](const Status&) {}); });
  std::thread appender([&] {
    for (int i = 0; i < 20; ++i) AppendEvents(*ledger, gen, 100);
  });
  std::thread reader([&] {
    while (!done.load()) {
      for (int s = 0; s < 30; ++s) {
        auto v = (*projector)->ReadView(ViewKind::kStatus, "SHP-" + std::to_string(s));
        if (!v.ok() || *v == nullptr) missing.fetch_add(1);
        queries.fetch_add(1);
      }
    }
  });
  // The portal's read (GET /v1/shipments/{id}): no projector lock, one read of the store.
  std::atomic<int> current_missing{0}, current_queries{0};
  std::thread current_reader([&] {
    while (!done.load()) {
      for (int s = 0; s < 30; ++s) {
        auto v = ReadCurrentViews(*ledger, "SHP-" + std::to_string(s));
        if (!v.ok() || !v->status) current_missing.fetch_add(1);
        current_queries.fetch_add(1);
      }
    }
  });
  // The server's read (Projector::ReadCurrentViews): generations and checkpoint from memory.
  // A view must never go back to an older version while rebuilds swap generations.
  std::atomic<int> worker_read_missing{0}, worker_read_queries{0}, went_back{0};
  std::thread worker_reader([&] {
    std::array<std::uint64_t, 30> seen{};
    while (!done.load()) {
      for (int s = 0; s < 30; ++s) {
        auto v = (*projector)->ReadCurrentViews("SHP-" + std::to_string(s));
        worker_read_queries.fetch_add(1);
        if (!v.ok() || !v->status) {
          worker_read_missing.fetch_add(1);
          continue;
        }
        if (v->status->version() < seen[s]) went_back.fetch_add(1);
        seen[s] = v->status->version();
      }
    }
  });
  for (int i = 0; i < 3; ++i) REQUIRE((*projector)->Rebuild(kAllViews).ok());
  appender.join();
  while ((*projector)->checkpoint().last_seq < ledger->Head().seq) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  done = true;
  reader.join();
  current_reader.join();
  worker_reader.join();
  CHECK(worker_read_queries.load() > 0);
  CHECK(worker_read_missing.load() == 0);
  CHECK(went_back.load() == 0);
  worker.request_stop();
  worker.join();
  CHECK(queries.load() > 0);
  CHECK(missing.load() == 0);
  CHECK(current_queries.load() > 0);
  CHECK(current_missing.load() == 0);
  CheckAgainstRebuild(**projector, *ledger);
}

TEST_CASE("publisher: in order, cursor only on ack, resumes after an outage, once per id") {
  TempDir dir;
  auto ledger = OpenLedger(dir.path());
  EventGenerator gen(3, 10);
  AppendEvents(*ledger, gen, 300);
  auto projector = Projector::Open(*ledger);
  REQUIRE(projector.ok());
  REQUIRE((*projector)->CatchUp().ok());
  const auto queued = ReadOutbox(*ledger);
  REQUIRE(!queued.empty());

  FakeSink sink;
  PublisherOptions options;
  options.max_batch = 37;
  Publisher views(Publisher::Source::kOutbox, *ledger, sink, options);
  Publisher feed(Publisher::Source::kEventFeed, *ledger, sink, options);

  sink.down = true;
  CHECK(!views.PublishPending().ok());
  CHECK(*views.Cursor() == 0);

  sink.down = false;
  sink.max_ack = 5;  // partial acks: the rest is sent again
  auto n = views.PublishPending();
  REQUIRE(n.ok());
  sink.max_ack = SIZE_MAX;
  n = views.PublishPending();
  REQUIRE(n.ok());
  CHECK(*views.Cursor() == queued.size());
  REQUIRE(sink.received.size() == queued.size());
  CHECK(sink.received == queued);
  CHECK(ReadOutbox(*ledger).empty());  // published entries are deleted

  auto stats = ReadProjectionStats(*ledger);
  REQUIRE(stats.ok());
  CHECK(stats->outbox_backlog == 0);

  REQUIRE(feed.PublishPending().ok());
  CHECK(*feed.Cursor() == 300);
  CHECK(sink.received.size() == queued.size() + 300);
  CHECK(sink.received.back().subject.rfind("waybill.events.", 0) == 0);

  // Republish queues the range again with the original ids; the sink's duplicate window
  // drops them, so subscribers still see each message once.
  auto r = (*projector)->Republish(1, 50, std::nullopt);
  REQUIRE(r.ok());
  CHECK(r->events == 50);
  CHECK(r->views > 0);
  const std::size_t before = sink.received.size();
  REQUIRE(views.PublishPending().ok());
  CHECK(sink.received.size() == before);
  CHECK(ReadOutbox(*ledger).empty());
}

TEST_CASE("reopening resumes exactly at the checkpoint") {
  TempDir dir;
  auto opened = OpenLedger(dir.path());
  auto& ledger = *opened;
  EventGenerator gen(5, 5);
  AppendEvents(ledger, gen, 100);
  auto projector = Projector::Open(ledger);
  REQUIRE(projector.ok());
  REQUIRE((*projector)->CatchUp().ok());
  const auto views = SnapshotViews(ledger);
  // Reopening resumes exactly at the checkpoint: nothing more to do, nothing changes.
  projector = Projector::Open(ledger);
  REQUIRE(projector.ok());
  auto n = (*projector)->Step();
  REQUIRE(n.ok());
  CHECK(*n == 0);
  CHECK(SnapshotViews(ledger) == views);
}

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

TEST_CASE("subject tokens are escaped reversibly") {
  CHECK(EscapeSubjectToken("SHP-1001") == "SHP-1001");
  CHECK(EscapeSubjectToken("a.b c*>") == "a%2Eb%20c%2A%3E");
  CHECK(EscapeSubjectToken("_") == "%5F");
  CHECK(EscapeSubjectToken("100%") == "100%25");
  for (std::string id : {"a.b", "_", "x y", "%41", "ü", "CUST_1"}) {
    auto back = UnescapeSubjectToken(EscapeSubjectToken(id));
    REQUIRE(back.has_value());
    CHECK(*back == id);
  }
  CHECK(!UnescapeSubjectToken("%4").has_value());
  CHECK(!UnescapeSubjectToken("a.b").has_value());
  CHECK(ViewSubject(ViewKind::kStatus, std::nullopt, "S.1") == "waybill.views.status._.S%2E1");
  CHECK(ViewSubject(ViewKind::kFreightCost, std::string("C 1"), "S") ==
        "waybill.views.freight_cost.C%201.S");
  OutMessage m{"waybill.views.eta._.S", "eta:S:3", "{\"x\":1}"};
  auto decoded = DecodeOutboxEntry(EncodeOutboxEntry(m));
  REQUIRE(decoded.ok());
  CHECK(std::get<OutMessage>(*decoded) == m);
  CHECK(!DecodeOutboxEntry(std::string("\x01\x7f", 2)).ok());
  OutboxViewRef ref{ViewKind::kFreightCost, 1234567890123, 42, "SHP.1 x"};
  const std::string encoded = EncodeOutboxEntry(ref);
  CHECK(encoded.size() == 18 + ref.shipment_id.size());
  decoded = DecodeOutboxEntry(encoded);
  REQUIRE(decoded.ok());
  CHECK(std::get<OutboxViewRef>(*decoded) == ref);
  CHECK(!DecodeOutboxEntry(encoded.substr(0, 17)).ok());
  CHECK(!DecodeOutboxEntry(std::string("\x02\x09", 2) + encoded.substr(2)).ok());
  CHECK(!DecodeOutboxEntry(std::string("\x03", 1)).ok());
  CHECK(!DecodeOutboxEntry("").ok());
}

}  // namespace waybill::projections
