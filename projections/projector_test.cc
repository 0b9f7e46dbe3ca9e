// The projection machinery against a real ledger (RocksDB in a temp dir): incremental
// folding, checkpoints across restarts, rebuild (offline and online) equal to incremental
// byte for byte, republish, and the publisher with a fake sink. How the worker writes its
// views behind is projector_write_behind_test.cc.
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
using testing::CheckAgainstRebuild;
using testing::CheckVersionsGapless;
using testing::EventGenerator;
using testing::FakeSink;
using testing::OpenLedger;
using testing::ReadOutbox;
using testing::SnapshotViews;
using waybill::testing::TempDir;

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
