// Ledger tests against real RocksDB in a temporary directory.
#include "ledger/ledger.h"

#include <doctest/doctest.h>
#include <rocksdb/db.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "ledger/key_layout.h"
#include "ledger/ledger_test_util.h"
#include "tests/test_util.h"

namespace waybill::ledger {

TEST_CASE("append assigns dense sequences and chains hashes") {
  testing::TempDir dir;
  auto ledger = OpenOrDie(dir.path());
  CHECK(ledger->Head().seq == 0);
  auto r = ledger->Append(
      BatchOf({testing::MakeMilestone("a", "S1", kT0), testing::MakeMilestone("b", "S2", kT0 + 1),
               testing::MakeMilestone("c", "S1", kT0 + 2)}));
  REQUIRE(r.ok());
  REQUIRE(r->events.size() == 3);
  for (std::uint64_t i = 0; i < 3; ++i) {
    CHECK(r->events[i].seq == i + 1);
    CHECK_FALSE(r->events[i].duplicate);
  }
  auto e1 = ledger->Get(1), e2 = ledger->Get(2);
  REQUIRE(e1.ok());
  REQUIRE(e2.ok());
  CHECK(IsZero(e1->ledger.prev_hash));
  CHECK(e2->ledger.prev_hash == e1->ledger.hash);
  CHECK(e1->event_id == "a");
  CHECK(ledger->Head().seq == 3);
  CHECK(ledger->Get(4).status().code() == ErrorCode::kNotFound);

  auto report = ledger->Verify();
  REQUIRE(report.ok());
  CHECK(report->intact);
  CHECK(report->events == 3);
  CHECK(report->head.hash == ledger->Head().hash);
}

TEST_CASE("duplicates are recognised across batches and within one, and store nothing") {
  testing::TempDir dir;
  auto ledger = OpenOrDie(dir.path());
  REQUIRE(ledger->Append(BatchOf({testing::MakeMilestone("a", "S1", kT0)})).ok());
  auto r = ledger->Append(
      BatchOf({testing::MakeMilestone("b", "S1", kT0), testing::MakeMilestone("a", "S1", kT0),
               testing::MakeMilestone("b", "S1", kT0)}));
  REQUIRE(r.ok());
  CHECK(r->events[0].seq == 2);
  CHECK_FALSE(r->events[0].duplicate);
  CHECK(r->events[1].seq == 1);
  CHECK(r->events[1].duplicate);
  CHECK(r->events[2].seq == 2);
  CHECK(r->events[2].duplicate);
  CHECK(ledger->Head().seq == 2);

  // A batch of nothing but duplicates is answered without a write.
  auto again = ledger->Append(BatchOf({testing::MakeMilestone("a", "S1", kT0)}));
  REQUIRE(again.ok());
  CHECK(again->events[0].duplicate);
  CHECK(ledger->Head().seq == 2);
}

TEST_CASE("shipment reads are in sequence order and complete") {
  // Both shipment-index memtables (LedgerOptions::bulk_load), and a reopen in the other mode:
  // the choice is per open, never stored.
  for (const bool bulk_load : {false, true}) {
    CAPTURE(bulk_load);
    testing::TempDir dir;
    LedgerOptions options;
    options.bulk_load = bulk_load;
    auto ledger = OpenOrDie(dir.path(), options);
    // Two batches, so shipments interleave across group commits too.
    for (int batch = 0; batch < 2; ++batch) {
      std::vector<Event> events;
      for (int i = batch * 25; i < batch * 25 + 25; ++i) {
        events.push_back(testing::MakeMilestone("e" + std::to_string(i), i % 2 ? "ODD" : "EVEN",
                                                kT0 + (50 - i)));
      }
      // "EVEN" is a prefix-free neighbour of "EVENT": the separator must keep them apart.
      if (batch == 1) events.push_back(testing::MakeMilestone("x", "EVENT", kT0));
      REQUIRE(ledger->Append(BatchOf(events)).ok());
    }
    for (int pass = 0; pass < 2; ++pass) {
      CAPTURE(pass);
      auto even = ledger->ReadShipment("EVEN");
      REQUIRE(even.ok());
      REQUIRE(even->size() == 25);
      for (std::size_t i = 1; i < even->size(); ++i) {
        CHECK((*even)[i - 1].ledger.seq < (*even)[i].ledger.seq);
        CHECK((*even)[i].shipment_id == "EVEN");
      }
      // Only those after a sequence: the same events from there on, whichever the cut.
      for (const std::uint64_t after : {std::uint64_t{0}, (*even)[9].ledger.seq,
                                        (*even)[9].ledger.seq + 1, (*even)[24].ledger.seq}) {
        CAPTURE(after);
        auto tail = ledger->ReadShipment("EVEN", after);
        REQUIRE(tail.ok());
        std::vector<std::uint64_t> want, got;
        for (const Event& e : *even) {
          if (e.ledger.seq > after) want.push_back(e.ledger.seq);
        }
        for (const Event& e : *tail) got.push_back(e.ledger.seq);
        CHECK(got == want);
      }
      // And only those up to a sequence.
      for (const std::uint64_t through :
           {std::uint64_t{0}, (*even)[0].ledger.seq, (*even)[9].ledger.seq,
            (*even)[9].ledger.seq + 1, (*even)[24].ledger.seq}) {
        CAPTURE(through);
        auto head = ledger->ReadShipment("EVEN", 0, through);
        REQUIRE(head.ok());
        std::vector<std::uint64_t> want, got;
        for (const Event& e : *even) {
          if (e.ledger.seq <= through) want.push_back(e.ledger.seq);
        }
        for (const Event& e : *head) got.push_back(e.ledger.seq);
        CHECK(got == want);
      }
      auto middle = ledger->ReadShipment("EVEN", (*even)[3].ledger.seq, (*even)[5].ledger.seq);
      REQUIRE(middle.ok());
      REQUIRE(middle->size() == 2);
      CHECK((*middle)[0].ledger.seq == (*even)[4].ledger.seq);
      CHECK((*middle)[1].ledger.seq == (*even)[5].ledger.seq);
      CHECK(ledger->ReadShipment("EVEN", UINT64_MAX)->empty());
      auto event = ledger->ReadShipment("EVENT");
      REQUIRE(event.ok());
      CHECK(event->size() == 1);
      CHECK(ledger->ReadShipment("EVENT", (*event)[0].ledger.seq)->empty());
      auto none = ledger->ReadShipment("NOPE");
      REQUIRE(none.ok());
      CHECK(none->empty());
      auto stats = ledger->Stats();
      REQUIRE(stats.ok());
      CHECK(stats->events == 51);
      CHECK(stats->shipments == 3);
      CHECK(stats->size_bytes > 0);
      // Reopen in the other mode: what the first wrote, the second reads.
      ledger.reset();
      options.bulk_load = !bulk_load;
      ledger = OpenOrDie(dir.path(), options);
    }
  }
}

TEST_CASE("reads by recorded time follow the clock and never go backwards") {
  testing::TempDir dir;
  ManualClock clock(kT0);
  LedgerOptions options;
  options.clock = &clock;
  auto ledger = OpenOrDie(dir.path(), options);
  REQUIRE(ledger->Append(BatchOf({testing::MakeMilestone("a", "S", kT0)})).ok());  // seq 1 @T0
  clock.Set(kT0 + 100);
  REQUIRE(ledger
              ->Append(BatchOf(
                  {testing::MakeMilestone("b", "S", kT0), testing::MakeMilestone("c", "S", kT0)}))
              .ok());   // seq 2,3 @T0+100
  clock.Set(kT0 + 50);  // wall clock stepped back: recorded_at must not
  REQUIRE(ledger->Append(BatchOf({testing::MakeMilestone("d", "S", kT0)})).ok());
  CHECK(ledger->Get(4)->ledger.recorded_at == kT0 + 100);

  CHECK(*ledger->FirstSeqRecordedAfter(kT0 - 1) == 1);
  CHECK(*ledger->FirstSeqRecordedAfter(kT0) == 2);
  CHECK(*ledger->FirstSeqRecordedAfter(kT0 + 99) == 2);
  CHECK(*ledger->FirstSeqRecordedAfter(kT0 + 100) == 5);
  std::vector<std::uint64_t> seen;
  REQUIRE(ledger
              ->ReadRange(2, 3,
                          [&](const Event& e) {
                            seen.push_back(e.ledger.seq);
                            return true;
                          })
              .ok());
  CHECK(seen == std::vector<std::uint64_t>{2, 3});
}

TEST_CASE("raw messages are stored once by content hash") {
  testing::TempDir dir;
  auto ledger = OpenOrDie(dir.path());
  AppendBatch b;
  b.raws.push_back(PrepareRaw("ISA*...~", "x12", std::string("ACME"), std::string("f.x12"), kT0));
  Event e1 = testing::MakeMilestone("a", "S", kT0), e2 = testing::MakeMilestone("b", "S", kT0);
  e1.raw_hash = e2.raw_hash = b.raws[0].hash;
  b.events.push_back(PrepareEvent(e1, 0));
  b.events.push_back(PrepareEvent(e2, 0));
  REQUIRE(ledger->Append(std::move(b)).ok());
  auto raw = ledger->GetRaw(ledger->Get(1)->raw_hash);
  REQUIRE(raw.ok());
  CHECK(raw->bytes == "ISA*...~");
  CHECK(raw->format == "x12");
  CHECK(raw->partner == std::optional<std::string>("ACME"));
  CHECK(raw->origin == std::optional<std::string>("f.x12"));
  CHECK(raw->received_at == kT0);
  CHECK(ledger->GetRaw(Sha256{}).status().code() == ErrorCode::kNotFound);
}

TEST_CASE("dead letters get increasing ids and survive reopen") {
  testing::TempDir dir;
  {
    auto ledger = OpenOrDie(dir.path());
    AppendBatch b;
    DeadLetter dl;
    dl.format = "canonical";
    dl.raw = "{not json";
    dl.reasons = {"line 1: malformed JSON"};
    b.dead_letters = {dl, dl};
    auto r = ledger->Append(std::move(b));
    REQUIRE(r.ok());
    CHECK(r->dead_letter_ids == std::vector<std::uint64_t>{1, 2});
  }
  auto ledger = OpenOrDie(dir.path());
  AppendBatch b;
  b.dead_letters.push_back(DeadLetter{});
  auto r = ledger->Append(std::move(b));
  REQUIRE(r.ok());
  CHECK(r->dead_letter_ids == std::vector<std::uint64_t>{3});
  auto list = ledger->ListDeadLetters(0, 10);
  REQUIRE(list.ok());
  REQUIRE(list->size() == 3);
  // Lists carry the raw message's size, not its bytes; GetDeadLetter has them.
  CHECK((*list)[0].letter.raw.empty());
  CHECK((*list)[0].raw_bytes == std::string("{not json").size());
  CHECK((*list)[0].letter.reasons.size() == 1);
  CHECK(ledger->GetDeadLetter(1)->raw == "{not json");
  CHECK(ledger->GetDeadLetter(2)->id == 2);
  CHECK(ledger->GetDeadLetter(9).status().code() == ErrorCode::kNotFound);
}

TEST_CASE("a failed write leaves the ledger unchanged and tells every caller") {
  testing::TempDir dir;
  std::atomic<bool> fail{false};
  LedgerOptions options;
  options.TEST_fail_write = [&]() -> std::optional<std::string> {
    if (fail) return "simulated: No space left on device";
    return std::nullopt;
  };
  auto ledger = OpenOrDie(dir.path(), options);
  REQUIRE(ledger->Append(BatchOf({testing::MakeMilestone("a", "S", kT0)})).ok());
  const LedgerHead before = ledger->Head();
  fail = true;
  auto r = ledger->Append(BatchOf({testing::MakeMilestone("b", "S", kT0)}));
  CHECK(r.status().code() == ErrorCode::kIoError);
  CHECK(r.status().message().find("No space left") != std::string::npos);
  CHECK(ledger->Head().seq == before.seq);
  CHECK(ledger->Head().hash == before.hash);
  fail = false;
  auto ok = ledger->Append(BatchOf({testing::MakeMilestone("b", "S", kT0)}));
  REQUIRE(ok.ok());
  CHECK(ok->events[0].seq == 2);  // the failed attempt consumed no sequence
  CHECK_FALSE(ok->events[0].duplicate);
  CHECK(ledger->Verify()->intact);
}

TEST_CASE("concurrent appenders share group commits and every id lands once") {
  testing::TempDir dir;
  auto ledger = OpenOrDie(dir.path());
  constexpr int kThreads = 8, kPerThread = 300;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Every thread also re-sends its neighbour's ids: half of all appends are duplicates.
        const int owner = (i % 2) ? (t + 1) % kThreads : t;
        auto r = ledger->Append(BatchOf(
            {testing::MakeMilestone("t" + std::to_string(owner) + "-" + std::to_string(i / 2),
                                    "S" + std::to_string(t), kT0 + i)}));
        if (!r.ok()) failures++;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures == 0);
  CHECK(ledger->Head().seq == kThreads * kPerThread / 2);
  auto report = ledger->Verify();
  REQUIRE(report.ok());
  CHECK(report->intact);
  CHECK(report->events == kThreads * kPerThread / 2);
}

namespace {

// A sealed checkpoint's WAL is empty, or holds only the marker RocksDB writes after a
// recovery: one full record (header: crc32 4, length 2, type 1) whose batch (sequence 8,
// count 4) has no entries.
bool WalHoldsNoData(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.empty()) return true;
  if (bytes.size() != 7 + 12) return false;
  const auto length =
      static_cast<unsigned char>(bytes[4]) | (static_cast<unsigned char>(bytes[5]) << 8);
  std::uint32_t count = 0;
  std::memcpy(&count, bytes.data() + 7 + 8, 4);  // little-endian on every platform we build
  return length == 12 && bytes[6] == 1 /* kFullType */ && count == 0;
}

}  // namespace

TEST_CASE("checkpoints taken while appends run open as cleanly stopped data dirs") {
  testing::TempDir dir;
  auto ledger = OpenOrDie(dir.path());
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  // Groups of a few hundred events make WAL records that span blocks, so a copy of the live
  // WAL taken mid-append would end inside one (which a read-write open refuses).
  std::thread appender([&] {
    for (int round = 0; !stop; ++round) {
      std::vector<Event> events;
      for (int i = 0; i < 300; ++i) {
        events.push_back(
            testing::MakeMilestone("c" + std::to_string(round) + "-" + std::to_string(i),
                                   "S" + std::to_string(i % 7), kT0 + round));
      }
      if (!ledger->Append(BatchOf(events)).ok()) failures++;
    }
  });
  struct Taken {
    std::string dir;
    LedgerHead head;
  };
  std::vector<Taken> taken;
  for (int i = 0; i < 4; ++i) {
    while (ledger->Head().seq < static_cast<std::uint64_t>(600 * (i + 1))) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    const std::string to = dir.path() + "/backups/cp" + std::to_string(i);
    std::filesystem::create_directories(dir.path() + "/backups");
    auto head = ledger->CreateCheckpoint(to);
    REQUIRE_MESSAGE(head.ok(), head.status().ToString());
    taken.push_back({to, *head});
  }
  stop = true;
  appender.join();
  CHECK(failures == 0);
  for (const auto& t : taken) {
    INFO(t.dir);
    for (const auto& f : std::filesystem::directory_iterator(t.dir)) {
      if (f.path().extension() == ".log") CHECK(WalHoldsNoData(f.path().string()));
    }
    auto copy = OpenOrDie(t.dir);  // read-write, full startup check
    CHECK(copy->Head().seq == t.head.seq);
    CHECK(copy->Head().hash == t.head.hash);
    auto report = copy->Verify();
    REQUIRE(report.ok());
    CHECK(report->intact);
    CHECK(report->events == t.head.seq);
  }
}

TEST_CASE("writer figures count stored events, duplicates, dead letters and commits") {
  testing::TempDir dir;
  std::atomic<bool> fail{false};
  LedgerOptions options;
  options.TEST_fail_write = [&]() -> std::optional<std::string> {
    if (fail) return "simulated: No space left on device";
    return std::nullopt;
  };
  auto ledger = OpenOrDie(dir.path(), options);
  auto sum = [](const auto& buckets) {
    std::uint64_t n = 0;
    for (std::uint64_t b : buckets) n += b;
    return n;
  };
  WriterFigures f = ledger->writer_figures();
  CHECK(f.events == 0);
  CHECK(f.commits == 0);
  CHECK(sum(f.commit_seconds_buckets) == 0);

  // One commit of three events, one of them a duplicate within the batch, plus a dead letter.
  AppendBatch b =
      BatchOf({testing::MakeMilestone("a", "S1", kT0), testing::MakeMilestone("b", "S1", kT0 + 1),
               testing::MakeMilestone("a", "S1", kT0)});
  b.dead_letters.push_back(DeadLetter{});
  REQUIRE(ledger->Append(std::move(b)).ok());
  f = ledger->writer_figures();
  CHECK(f.events == 2);
  CHECK(f.duplicates == 1);
  CHECK(f.dead_letters == 1);
  CHECK(f.commits == 1);
  CHECK(sum(f.commit_seconds_buckets) == 1);
  CHECK(f.commit_seconds_sum > 0);
  CHECK(f.commit_events_sum == 2);
  CHECK(f.commit_events_buckets[1] == 1);  // kCommitEventsBounds[1] == 2: 1 < 2 <= 2

  // Nothing but duplicates: counted, but no commit. A failed write counts nothing.
  REQUIRE(ledger->Append(BatchOf({testing::MakeMilestone("b", "S1", kT0 + 1)})).ok());
  fail = true;
  CHECK(!ledger->Append(BatchOf({testing::MakeMilestone("c", "S1", kT0 + 2)})).ok());
  fail = false;
  f = ledger->writer_figures();
  CHECK(f.events == 2);
  CHECK(f.duplicates == 2);
  CHECK(f.commits == 1);
  CHECK(sum(f.commit_seconds_buckets) == 1);
  CHECK(sum(f.commit_events_buckets) == 1);

  REQUIRE(ledger->Append(BatchOf({testing::MakeMilestone("c", "S1", kT0 + 2)})).ok());
  f = ledger->writer_figures();
  CHECK(f.events == 3);
  CHECK(f.commits == 2);
  CHECK(f.commit_events_buckets[0] == 1);  // one event: the first bucket (<= 1)
}

TEST_CASE("a second writer is refused with a clear message; a reader works beside the writer") {
  testing::TempDir dir;
  auto writer = OpenOrDie(dir.path());
  REQUIRE(writer->Append(BatchOf({testing::MakeMilestone("a", "S", kT0)})).ok());
  auto second = Ledger::Open(dir.path());
  CHECK(second.status().code() == ErrorCode::kBusy);
  CHECK(second.status().message().find(dir.path()) != std::string::npos);

  LedgerOptions ro;
  ro.mode = OpenMode::kReadOnly;
  auto reader = OpenOrDie(dir.path(), ro);
  CHECK(reader->Head().seq == 1);
  REQUIRE(writer->Append(BatchOf({testing::MakeMilestone("b", "S", kT0)})).ok());
  REQUIRE(reader->CatchUp().ok());
  CHECK(reader->Head().seq == 2);
  CHECK(reader->ReadShipment("S")->size() == 2);
  CHECK(reader->Verify()->intact);
  auto refused = reader->Append(BatchOf({testing::MakeMilestone("c", "S", kT0)}));
  CHECK(refused.status().code() == ErrorCode::kUnsupported);
}

namespace {

// Opens the data dir as plain RocksDB (every family with default options) and flushes the
// events family's memtable, then, with `compact`, rewrites its table files: a stand-in for
// a server's flushes and compactions while a reader looks on. Returns the events family's
// table files afterwards.
std::set<std::string> FlushEvents(const std::string& dir, bool compact) {
  std::vector<std::string> names;
  REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const auto& name : names) families.emplace_back(name, rocksdb::ColumnFamilyOptions());
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  REQUIRE(rocksdb::DB::Open(rocksdb::DBOptions(), dir, families, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::ColumnFamilyHandle* events = nullptr;
  for (auto* h : handles) {
    if (h->GetName() == kCfEvents) events = h;
  }
  REQUIRE(events != nullptr);
  REQUIRE(db->Flush(rocksdb::FlushOptions(), events).ok());
  if (compact) {
    rocksdb::CompactRangeOptions o;
    o.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    REQUIRE(db->CompactRange(o, events, nullptr, nullptr).ok());
  }
  std::vector<rocksdb::LiveFileMetaData> files;
  db->GetLiveFilesMetaData(&files);
  std::set<std::string> out;
  for (const auto& f : files) {
    if (f.column_family_name == kCfEvents) out.insert(f.name);
  }
  for (auto* h : handles) REQUIRE(db->DestroyColumnFamilyHandle(h).ok());
  return out;
}

}  // namespace

TEST_CASE("a reader's verify is not fooled by table files the writer compacted away") {
  testing::TempDir dir;
  {
    auto writer = OpenOrDie(dir.path());
    REQUIRE(writer
                ->Append(BatchOf({testing::MakeMilestone("a", "S", kT0),
                                  testing::MakeMilestone("b", "S", kT0 + 1)}))
                .ok());
  }
  const std::set<std::string> before = FlushEvents(dir.path(), /*compact=*/false);
  REQUIRE(!before.empty());
  LedgerOptions ro;
  ro.mode = OpenMode::kReadOnly;
  auto reader = OpenOrDie(dir.path(), ro);
  REQUIRE(reader->Verify()->intact);

  // The writer rewrites the events the reader's view of the ledger lists, and deletes them.
  const std::set<std::string> after = FlushEvents(dir.path(), /*compact=*/true);
  for (const auto& name : before) {
    REQUIRE_MESSAGE(after.count(name) == 0, name << " was not compacted away");
    REQUIRE_FALSE(std::filesystem::exists(dir.path() + name));
  }
  // The data moved, nothing is damaged: the reader catches up and checks the new files.
  auto report = reader->Verify();
  REQUIRE(report.ok());
  CHECK_MESSAGE(report->intact, report->reason);
  CHECK(report->events == 2);
}

TEST_CASE("read-only open of a missing ledger says so") {
  testing::TempDir dir;
  LedgerOptions ro;
  ro.mode = OpenMode::kReadOnly;
  auto r = Ledger::Open(dir.Sub("nothing-here"), ro);
  CHECK(r.status().code() == ErrorCode::kNotFound);
  CHECK(r.status().message().find("nothing-here") != std::string::npos);
}

TEST_CASE("a data dir from a newer format is refused") {
  testing::TempDir dir;
  { auto ledger = OpenOrDie(dir.path()); }
  {
    // Rewrite the format version with plain RocksDB, as a future Waybill would have.
    rocksdb::Options o;
    std::vector<std::string> names;
    REQUIRE(rocksdb::DB::ListColumnFamilies(o, dir.path(), &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    REQUIRE(rocksdb::DB::Open(o, dir.path(), cfs, &handles, &db).ok());
    REQUIRE(db->Put(rocksdb::WriteOptions(), db->DefaultColumnFamily(),
                    std::string(kMetaFormatVersion), std::to_string(kFormatVersion + 1))
                .ok());
    for (auto* h : handles) REQUIRE(db->DestroyColumnFamilyHandle(h).ok());
    delete db;
  }
  auto r = Ledger::Open(dir.path());
  CHECK(r.status().code() == ErrorCode::kUnsupported);
  CHECK(r.status().message().find("upgrade") != std::string::npos);
}

}  // namespace waybill::ledger

namespace waybill::ledger {

TEST_CASE("dead-letter updates are stored atomically with events; unknown ids fail alone") {
  testing::TempDir dir;
  auto ledger = std::move(Ledger::Open(dir.path())).value();
  AppendBatch first;
  DeadLetter dl;
  dl.format = "x12";
  dl.raw = "ISA*bad~";
  dl.reasons = {"ST (segment 3) element 02: control number mismatch"};
  first.dead_letters.push_back(dl);
  auto r = ledger->Append(std::move(first));
  REQUIRE(r.ok());
  const std::uint64_t id = r->dead_letter_ids[0];

  // A retry: the fixed message's event plus the dead letter marked resolved, in one batch.
  AppendBatch retry;
  retry.events.push_back(PrepareEvent(testing::MakeMilestone("fixed", "S", 1)));
  DeadLetter resolved = *ledger->GetDeadLetter(id);
  resolved.state = DeadLetterState::kResolved;
  resolved.attempts = 1;
  resolved.resolution = "retried: 1 event appended";
  retry.dead_letter_updates.push_back(resolved);
  REQUIRE(ledger->Append(std::move(retry)).ok());
  CHECK(ledger->GetDeadLetter(id)->state == DeadLetterState::kResolved);
  CHECK(ledger->Head().seq == 1);
  auto stats = ledger->Stats();
  CHECK(stats->dead_letters == 1);
  CHECK(stats->dead_letters_pending == 0);

  AppendBatch bogus;
  bogus.events.push_back(PrepareEvent(testing::MakeMilestone("never", "S", 1)));
  DeadLetter missing;
  missing.id = 99;
  bogus.dead_letter_updates.push_back(missing);
  CHECK(ledger->Append(std::move(bogus)).status().code() == ErrorCode::kNotFound);
  CHECK(ledger->Head().seq == 1);  // its event was not stored either
}

}  // namespace waybill::ledger

namespace waybill::ledger {

TEST_CASE("a long scan stops early on request and lets a callback's exception through") {
  testing::TempDir dir;
  auto ledger = std::move(Ledger::Open(dir.path())).value();
  AppendBatch batch;
  for (int i = 0; i < 10000; ++i) {  // above the pipelined-scan threshold
    batch.events.push_back(
        PrepareEvent(testing::MakeMilestone("s" + std::to_string(i), "S", 1'700'000'000 + i)));
  }
  REQUIRE(ledger->Append(std::move(batch)).ok());
  std::uint64_t seen = 0;
  REQUIRE(ledger->ReadRange(1, UINT64_MAX, [&](const Event&) { return ++seen < 5000; }).ok());
  CHECK(seen == 5000);
  std::uint64_t last = 0;
  REQUIRE(ledger
              ->ReadRange(1, UINT64_MAX,
                          [&](const Event& e) {
                            CHECK(e.ledger.seq == last + 1);
                            last = e.ledger.seq;
                            return true;
                          })
              .ok());
  CHECK(last == 10000);
  CHECK_THROWS_AS(ledger->ReadRange(1, UINT64_MAX,
                                    [](const Event& e) -> bool {
                                      if (e.ledger.seq == 7000) throw std::runtime_error("boom");
                                      return true;
                                    }),
                  std::runtime_error);
}

}  // namespace waybill::ledger
