// View updates queued by reference, against a real RocksDB ledger and projection worker: the
// publisher must send byte for byte what the worker rendered, whether it takes the worker's
// rendering from memory or renders the update again from the log.
#include "projections/outbox_resolver.h"

#include <doctest/doctest.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "ledger/key_layout.h"
#include "projections/projection_test_util.h"
#include "projections/projector.h"
#include "projections/projector_test_util.h"
#include "projections/publisher.h"
#include "projections/rendered_outbox.h"
#include "projections/store_layout.h"
#include "tests/test_util.h"

namespace waybill::projections {
namespace {

using testing::AppendEvents;
using testing::EventGenerator;
using testing::FakeSink;
using testing::OpenLedger;
using waybill::testing::TempDir;

struct RawOutbox {
  std::vector<std::uint64_t> seqs;
  std::vector<OutboxEntry> entries;
};

RawOutbox ReadRawOutbox(const ledger::Ledger& ledger) {
  RawOutbox out;
  REQUIRE(ledger
              .ScanAux(ledger::AuxSpace::kOutbox, "", "",
                       [&](std::string_view key, std::string_view value) {
                         auto entry = DecodeOutboxEntry(value);
                         REQUIRE_MESSAGE(entry.ok(), entry.status().ToString());
                         out.seqs.push_back(ledger::GetU64BE(key.data()));
                         out.entries.push_back(std::move(entry).value());
                         return true;
                       })
              .ok());
  return out;
}

std::vector<OutMessage> RenderFromLog(const ledger::Ledger& ledger, const RawOutbox& raw) {
  auto messages = ResolveOutboxEntries(ledger, raw.seqs, raw.entries, nullptr);
  REQUIRE_MESSAGE(messages.ok(), messages.status().ToString());
  return std::move(messages).value();
}

// Ingests `rounds` x 300 generated events (late ones and all), reopening the worker each
// round so it also folds on from views it read back from the store.
void IngestWithRestarts(ledger::Ledger& ledger, RenderedOutbox* rendered, int rounds) {
  ProjectorOptions options;
  options.rendered_outbox = rendered;
  EventGenerator gen(7, 25, 0.2);
  options.batch_events = 50;
  for (int round = 0; round < rounds; ++round) {
    auto projector = Projector::Open(ledger, options);
    REQUIRE(projector.ok());
    AppendEvents(ledger, gen, 300);
    REQUIRE((*projector)->CatchUp().ok());
  }
}

TEST_CASE("view updates queued by reference render from the log as the worker rendered them") {
  TempDir dir;
  auto ledger = OpenLedger(dir.path());
  RenderedOutbox rendered(SIZE_MAX);
  IngestWithRestarts(*ledger, &rendered, 4);

  const RawOutbox raw = ReadRawOutbox(*ledger);
  REQUIRE(raw.entries.size() > 1000);
  for (const OutboxEntry& entry : raw.entries) CHECK(std::holds_alternative<OutboxViewRef>(entry));
  CHECK(rendered.size() == raw.entries.size());

  const std::vector<OutMessage> from_log = RenderFromLog(*ledger, raw);
  const std::string gaps = testing::ViewVersionGaps(from_log);
  CHECK_MESSAGE(gaps.empty(), gaps);
  for (std::size_t i = 0; i < raw.seqs.size(); ++i) {
    auto kept = rendered.Find(raw.seqs[i]);
    REQUIRE(kept.has_value());
    INFO("outbox entry " << raw.seqs[i] << " " << kept->msg_id);
    CHECK(*kept == from_log[i]);
  }

  // Half of them still in memory, the rest from the log: the same messages.
  rendered.DropThrough(raw.seqs[raw.seqs.size() / 2]);
  auto mixed = ResolveOutboxEntries(*ledger, raw.seqs, raw.entries, &rendered);
  REQUIRE(mixed.ok());
  CHECK(*mixed == from_log);
}

TEST_CASE("the publisher sends the same messages whether the worker's renderings fit or not") {
  for (std::size_t bound : {std::size_t{0}, std::size_t{64} << 10, SIZE_MAX}) {
    INFO("rendered outbox bound " << bound);
    TempDir dir;
    auto ledger = OpenLedger(dir.path());
    RenderedOutbox rendered(bound);
    IngestWithRestarts(*ledger, &rendered, 2);
    CHECK(rendered.bytes() <= bound);
    if (bound == 0) CHECK(rendered.size() == 0);
    const std::vector<OutMessage> expected = RenderFromLog(*ledger, ReadRawOutbox(*ledger));

    FakeSink sink;
    PublisherOptions publisher_options;
    publisher_options.rendered = &rendered;
    Publisher publisher(Publisher::Source::kOutbox, *ledger, sink, publisher_options);
    auto published = publisher.PublishPending();
    REQUIRE_MESSAGE(published.ok(), published.status().ToString());
    CHECK(*published == expected.size());
    CHECK(sink.received == expected);
    CHECK(rendered.size() == 0);  // dropped once published
    CHECK(ReadRawOutbox(*ledger).entries.empty());
  }
}

TEST_CASE("worker and publisher on their own threads: every version once, in order") {
  TempDir dir;
  auto ledger = OpenLedger(dir.path());
  // Small enough that the worker stops rendering now and then and the publisher renders
  // from the log.
  RenderedOutbox rendered(std::size_t{32} << 10);
  FakeSink sink;
  PublisherOptions publisher_options;
  publisher_options.rendered = &rendered;
  publisher_options.max_batch = 64;
  publisher_options.idle_wait = std::chrono::milliseconds(5);
  Publisher publisher(Publisher::Source::kOutbox, *ledger, sink, publisher_options);
  ProjectorOptions options;
  options.batch_events = 40;
  options.rendered_outbox = &rendered;
  options.on_commit = [&](std::span<const Event>, std::span<const CommittedViews>) {
    publisher.Notify();
  };
  auto projector = Projector::Open(*ledger, options);
  REQUIRE(projector.ok());
  {
    std::jthread worker([&](std::stop_token stop) {
      (*projector)->Run(stop, [](const Status& st) { FAIL_CHECK(st.ToString()); });
    });
    std::jthread publishing([&](std::stop_token stop) { publisher.Run(stop); });
    EventGenerator gen(11, 30, 0.2);
    for (int i = 0; i < 20; ++i) AppendEvents(*ledger, gen, 60);
    const std::uint64_t head = ledger->Head().seq;
    for (int waited = 0; waited < 3000; ++waited) {
      auto cursor = publisher.Cursor();
      REQUIRE(cursor.ok());
      if ((*projector)->checkpoint().last_seq == head &&
          *cursor + 1 == (*projector)->checkpoint().next_outbox_seq) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  std::lock_guard<std::mutex> lock(sink.mu);
  CHECK(sink.received.size() == (*projector)->checkpoint().next_outbox_seq - 1);
  const std::string gaps = testing::ViewVersionGaps(sink.received);
  CHECK_MESSAGE(gaps.empty(), gaps);
  CHECK(rendered.size() == 0);
}

TEST_CASE("a view reference the log does not bear out is reported, never sent") {
  TempDir dir;
  auto ledger = OpenLedger(dir.path());
  IngestWithRestarts(*ledger, nullptr, 1);
  RawOutbox raw = ReadRawOutbox(*ledger);
  REQUIRE(raw.entries.size() > 10);
  const std::uint64_t bad_seq = raw.seqs[5];
  auto ref = std::get<OutboxViewRef>(raw.entries[5]);

  SUBCASE("a version the fold does not reach at that sequence") { ref.version += 1; }
  SUBCASE("a sequence with no event of the shipment") { ref.shipment_id = "SHP-none"; }

  ledger::AuxBatch tamper;
  tamper.Put(ledger::AuxSpace::kOutbox, EncodeU64(bad_seq), EncodeOutboxEntry(ref));
  REQUIRE(ledger->WriteAux(tamper).ok());
  raw = ReadRawOutbox(*ledger);
  auto resolved = ResolveOutboxEntries(*ledger, raw.seqs, raw.entries, nullptr);
  REQUIRE(!resolved.ok());
  CHECK(resolved.status().code() == ErrorCode::kCorruption);
  CHECK(resolved.status().message().find("outbox entry " + std::to_string(bad_seq)) !=
        std::string::npos);

  FakeSink sink;
  Publisher publisher(Publisher::Source::kOutbox, *ledger, sink);
  CHECK(!publisher.PublishPending().ok());
  CHECK(sink.received.empty());
}

}  // namespace
}  // namespace waybill::projections
